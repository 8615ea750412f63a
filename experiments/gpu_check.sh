#!/usr/bin/env bash
# CUDA vs CPU checks and GPU throughput (StyleGAN2 256/1024 px batched and not, inception-fid,
# arcface); see experiments/gpu_check.py. Self-contained: random-weight StyleGAN2 configs and
# the extractor weights installed in the venv. Under 5 minutes; exits 2 without CUDA.
#   experiments/gpu_check.sh [--device cuda:N] [--json out.json]
#   experiments/gpu_check.sh --dry-run      # no GPU: the CPU side only, at small sizes
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 300 "$PY" experiments/gpu_check.py "$@"
