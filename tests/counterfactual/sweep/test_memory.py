"""Peak RSS of a sweep does not grow with the number of faces and direction-learning samples.

Two sweeps of the same small config (DCGAN faces, a learned hair-length edit whose scorer
parses every learning sample, a parsing-mask blur, the hair_length verification scorer), the
second with 4x the faces and learning samples, each in its own child process
(experiments/bench/bench_sweep_memory.py). Before the parser was streamed, each parsed image
held 2 x 11 MB of float logits until the whole set was parsed (+1.3 GB at 60 samples), so the
larger sweep's peak grew by ~2 GB.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from counterfactual.config import load_config
from helpers.paths import ROOT

_SPEC = importlib.util.spec_from_file_location(
    "bench_sweep_memory",
    ROOT / "experiments" / "bench" / "bench_sweep_memory.py",
)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)

CONFIG = {
    "name": "memory",
    "generator": "dcgan-digiface",
    "device": "cpu",
    "batch_size": 50,
    "seed": 0,
    "draws": 2,
    "pairs_per_draw": 8,
    "deltas": [0.0, 1.0],
    "sample_images": 4,
    "seeds": {"start": 0, "count": 8},
    "spaces": ["gender-classifier"],
    "interventions": [
        {"name": "hair_length", "params": {"n_samples": 25}},
        {"name": "blur:hair", "dose": False},
    ],
    "verification": {"scorers": ["hair_length"]},
}


def test_scaled_config_changes_only_faces_and_samples(tmp_path: Path) -> None:
    big = bench.scaled_config(CONFIG, faces=32, samples=100)
    assert big["seeds"] == {"start": 0, "count": 32} and big["pairs_per_draw"] == 8
    assert big["interventions"][0]["params"] == {"n_samples": 100}
    assert big["interventions"][1] == CONFIG["interventions"][1]
    assert CONFIG["seeds"]["count"] == 8  # the original is untouched
    small = bench.scaled_config(CONFIG, faces=4)
    assert small["pairs_per_draw"] == 4
    path = tmp_path / "c.toml"
    path.write_text(bench.to_toml(big))
    assert load_config(path).seeds.count == 32  # a valid sweep config


@pytest.mark.slow
def test_sweep_peak_rss_does_not_grow_with_faces_and_samples(tmp_path: Path) -> None:
    small, _ = bench.sweep_peak_rss_mb(CONFIG, tmp_path / "small")
    large, _ = bench.sweep_peak_rss_mb(
        bench.scaled_config(CONFIG, faces=32, samples=100), tmp_path / "large"
    )
    ref = bench.reference_rss_mb()
    assert large <= 1.15 * small, f"peak RSS grew from {small:.0f} MB to {large:.0f} MB"
    assert large <= 3 * 1024, f"peak RSS {large:.0f} MB (reference import torch: {ref:.0f} MB)"
    assert small > ref  # the measurement sees the sweep, not a stub
