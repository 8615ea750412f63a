"""Synthetic sweep run directories for the report tests, in the sweep's table schemas.

`write_sweep_run(root, ...)` writes tables/dose_response, tables/region, verification.json,
sample strips and a manifest; sizes are parameters, so one builder makes both the small run
of tests/counterfactual/report/test_report.py and the demo-shaped run the browser test renders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from counterfactual.foundation.files import write_json
from counterfactual.run import RunDir, write_table
from counterfactual.run.features import FeatureIndex
from counterfactual.run.schemas import REGION_COLUMNS
from counterfactual.sweep.tables import dose_frame
from extractors.runtime.cache import FeatureCache

DESCRIPTIONS = {
    "hat": {
        "name": "hat (synthetic occluder)",
        "config_name": "hat",
        "kind": "synthetic_occluder",
        "synthetic": True,
        "shape": "beanie",
        "color": "red",
        "anchor": "landmarks",
    },
    "gender": {
        "name": "gender",
        "kind": "latent_direction",
        "synthetic": False,
        "space": "z",
        "alpha": 3.0,
        "alpha_source": "default",
        "target_scorer": "gender",
    },
    "age": {
        "name": "age",
        "kind": "latent_direction",
        "synthetic": False,
        "space": "z",
        "alpha": 3.0,
        "alpha_source": "default",
        "target_scorer": "age",
    },
    "truncation": {
        "name": "truncation",
        "kind": "truncation",
        "synthetic": False,
        "psi": 0.5,
        "cutoff": None,
        "rule": "z -> psi * z",
    },
    **{
        f"blur:{r}": {
            "name": f"blur:{r}",
            "kind": "region_blur",
            "region": r,
            "mask": "every pixel" if r == "all" else "soft mask",
        }
        for r in ("eyes", "mouth", "hair", "all")
    },
}
TITLES = {
    "hat": "Hat (synthetic occluder)",
    "gender": "Gender edit (learned latent direction)",
    "age": "Age edit (learned latent direction)",
    "truncation": "Truncation ψ = 0.5",
    "blur:eyes": "Eyes blurred (region distortion)",
    "blur:mouth": "Mouth blurred (region distortion)",
    "blur:hair": "Hair blurred (region distortion)",
    "blur:all": "Whole image blurred (reference distortion)",
}


def label(space: str, trained: bool) -> str:
    return space if trained else f"{space} (untrained)"


def images(seed: int, n: int = 5, res: int = 8) -> np.ndarray:
    """Random 8x8 colour blocks, enlarged to `res` (smooth, like faces, unlike pixel noise)."""
    small = np.random.default_rng(seed).integers(0, 256, size=(n, 3, 8, 8), dtype=np.uint8)
    k = max(1, res // 8)
    return small.repeat(k, axis=2).repeat(k, axis=3)


def verification(key: str) -> dict:
    shift = {
        "scorer": "gender",
        "n": 20,
        "mean_base": 0.2,
        "mean_twin": 0.7,
        "shift": 0.5,
        "ci_low": 0.4,
        "ci_high": 0.6,
        "sd_base": 0.3,
        "effect": 1.67,
        "p_value": 1e-6,
        "method": "t",
    }
    leak = {**shift, "scorer": "age", "shift": 3.0, "effect": 0.9, "ci_low": 2.0, "ci_high": 4.0}
    flags = (
        [{"code": "leakage", "message": "scorer 'age' moved by +3 (hat leaks into age)"}]
        if key in ("hat", "blur:all")
        else []
    )
    target = None if key.startswith("blur:") and key != "blur:all" else "gender"
    return {
        "intervention": key,
        "name": key,
        "target": target,
        "passed": not flags,
        "target_shift": shift if target else None,
        "leakage": {"age": leak},
        "identity": {
            "n": 20,
            "mean": 0.8,
            "min": 0.5,
            "quantiles": {"q05": 0.6, "q25": 0.7, "q50": 0.8, "q75": 0.9, "q95": 0.95},
        },
        "thresholds": {"ci": 0.95},
        "flags": flags,
    }


def write_features(
    rd: RunDir,
    spaces: dict[str, bool],
    interventions: Sequence[str],
    rng: np.random.Generator,
    n_faces: int = 20,
    dim: int = 16,
) -> None:
    """Cached features of every set in every space, and the run's feature index: twins are
    their base shifted along one direction, more for later interventions."""
    cache, entries = FeatureCache(rd.features), {}
    base = rng.standard_normal((n_faces, dim))
    for s, trained in spaces.items():
        for k, name in enumerate(["base", *interventions]):
            shift = np.zeros(dim)
            shift[k % dim] = 0.8 * k
            feats = (
                base
                if name == "base"
                else 0.9 * base + 0.3 * rng.standard_normal((n_faces, dim)) + shift
            )
            key = hashlib.sha256(f"{name}/{s}".encode()).hexdigest()
            cache.put(key, feats.astype(np.float32))
            entries[(name, s)] = {"key": key, "label": label(s, trained), "trained": trained}
    FeatureIndex(rd).record(entries)


def write_sweep_run(
    root: Path,
    spaces: dict[str, bool],
    interventions: Sequence[str],
    deltas: Sequence[float],
    *,
    draws: int = 4,
    res: int = 8,
    n_images: int = 5,
    dims: int = 16,
    seed: int = 0,
) -> Path:
    """A complete synthetic sweep run in `root`; interventions named "blur:*" are region
    edits (no dose-response) except that the dose list keeps every other one."""
    rd = RunDir(root)
    rng = np.random.default_rng(seed)
    dose_keys = [
        iv for iv in interventions if not iv.startswith("blur:") or len(interventions) <= 4
    ]
    rows = []
    for k, iv in enumerate(dose_keys):
        for s, trained in spaces.items():
            scale = 10.0 * (1 + list(spaces).index(s)) if trained else 1.0
            for d in deltas:
                for draw in range(draws):
                    mean_term = scale * (0.02 + (k + 1) * 0.3 * d * d) * (1 + 0.05 * rng.normal())
                    trace_term = scale * (0.5 + 0.2 * d) * (1 + 0.05 * rng.normal())
                    rows.append(
                        {
                            "intervention": iv,
                            "space": s,
                            "space_label": label(s, trained),
                            "trained": trained,
                            "delta": d,
                            "draw": draw,
                            "n_pairs": 20,
                            "fd": mean_term + trace_term,
                            "mean_term": mean_term,
                            "trace_term": trace_term,
                            "n_counterfactual_a": 10,
                            "n_counterfactual_b": 10,
                        }
                    )
    write_table(dose_frame(rows), rd.tables / "dose_response")
    regions = [iv for iv in interventions if iv.startswith("blur:") and iv != "blur:all"]
    region = [
        {
            "intervention": iv,
            "region": iv.split(":")[1],
            "space": s,
            "space_label": label(s, t),
            "trained": t,
            "n_pairs": 20,
            "fd": (2.0 if t else 1.0) * (1 + j) / 10,
            "mean_term": 0.1,
            "trace_term": 0.1,
            "fd_reference": 4.0,
            "normalised": (2.0 if t else 1.0) * (1 + j) / 40,
            "draws": 4,
            "draw_pairs": 16,
            "normalised_draw_mean": (2.0 if t else 1.0) * (1 + j) / 40,
            "normalised_draw_sd": 0.005,
        }
        for j, iv in enumerate(regions)
        for s, t in spaces.items()
    ]
    write_table(
        pd.DataFrame(region, columns=list(REGION_COLUMNS)),
        rd.tables / "region",
        formats=("csv", "json"),
    )
    write_json(rd.tables / "verification.json", {iv: verification(iv) for iv in interventions})
    write_features(rd, spaces, interventions, rng)
    rd.set_dir("base").mkdir(parents=True)
    np.save(rd.set_dir("base") / "sample.npy", images(0, n_images, res))
    for k, iv in enumerate(interventions):
        rd.set_dir(iv).mkdir(parents=True)
        np.save(rd.set_dir(iv) / "sample.npy", images(k + 1, n_images, res))
    write_json(
        rd.manifest_path,
        {
            "format": 1,
            "name": "synthetic sweep",
            "status": "complete",
            "config": {
                "name": "synthetic sweep",
                "description": f"{len(interventions)} attributes, {len(spaces)} spaces",
                "spaces": [{"name": s, "allow_untrained": not t} for s, t in spaces.items()],
                "interventions": [
                    {"name": iv, "id": None, "params": {}, "dose": iv in dose_keys}
                    for iv in interventions
                ],
                "region": {"reference": "blur:all", "prefix": "blur:"},
            },
            "seeds": list(range(20)),
            "versions": {"python": "3.11", "numpy": np.__version__},
            "generator": {
                "spec": "dcgan-digiface",
                "weights_sha256": "0c3b90b1",
                "resolution": res,
            },
            "spaces": [
                {
                    "name": s,
                    "label": label(s, t),
                    "trained": t,
                    "weights_sha256": "ab12" if t else None,
                    "description": {
                        "name": s,
                        "dim": dims,
                        "trained": t,
                        "preprocessing": {"resize": res},
                    },
                }
                for s, t in spaces.items()
            ],
            "interventions": {iv: DESCRIPTIONS[iv] for iv in interventions},
            "interventions_prepared": {
                "gender": {
                    **DESCRIPTIONS["gender"],
                    "direction": {
                        "space": "z",
                        "sha256": "d1" * 32,
                        "provenance": {
                            "scorer": "gender",
                            "held_out_balanced_accuracy": 0.65,
                            "held_out_auc": 0.71,
                            "train_balanced_accuracy": 0.996,
                            "labelling": {"rule": "quantile", "quantile": 0.2},
                            "n_held_out": 120,
                            "n_train": 280,
                            "file_sha256": "f1" * 32,
                            "path": "dir.npy",
                            "scorer_description": {
                                "name": "gender",
                                "score": "P(male)",
                                "network": {"name": "gender-net", "weights_sha256": "e7" * 32},
                            },
                        },
                    },
                }
            },
            "timing": {"total": 12.5},
            "created": 1.7e9,
            "updated": 1.7e9,
        },
    )
    return root
