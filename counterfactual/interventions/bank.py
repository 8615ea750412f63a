"""A direction bank: InterFaceGAN directions for several attributes learned from one sample.

Stage 1, `sample_bank`: seeds ``seed_start, seed_start + 1, ...`` in chunks; per chunk the
codes (w at psi = 1; z for a generator without a W space), the images at the generator's working resolution and every scorer's scores
(the scorers share one face analysis, so each face is detected and parsed once). Each chunk is
written atomically to ``<out>/samples/<first seed>+<count>.npz``; a rerun skips the chunks already
there, so an interrupted run loses at most the chunk it was working on, and a larger
``n_samples`` extends an existing bank.

Stage 2, `fit_bank`: per attribute, the scorer's labelling rule (`labelling`), the
class-balanced linear boundary of `directions.fit_boundary` (held-out balanced accuracy and
AUC), optional conditioning on other attributes of the bank (`condition_direction`), written as
``<out>/<attribute>.npy`` with its JSON provenance, and a summary ``<out>/bank.json``.

A generator that ships a bank (`shipped_bank_dir`) gives sweeps its directions by default
(`shipped_direction`); a config can still re-learn (``relearn = true``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from counterfactual.errors import UserError
from counterfactual.foundation.files import atomic_write, write_text
from counterfactual.interventions.directions import (
    CLASSIFIER_DOC,
    Direction,
    LearnSettings,
    condition_direction,
    describe_or_none,
    fit_boundary,
    load_direction,
    save_direction,
    score_images,
    scorer_labelling,
)

BANK_FORMAT = "counterfactual-fd direction-bank/1"
DEFAULT_SEED_START = 2_000_000_000  # far from evaluation seeds (0, 1, 2, ...)
DEFAULT_CHUNK = 32
SAMPLES_DIR = "samples"


@dataclass(frozen=True)
class BankSamples:
    """Everything stage 1 produced: seeds [N], w codes [N, dim] float64, scores per attribute."""

    seeds: np.ndarray
    codes: np.ndarray
    scores: dict[str, np.ndarray]
    meta: dict[str, Any]

    @property
    def n(self) -> int:
        return int(self.seeds.size)


def _bank_key(generator_description: Mapping[str, Any], attributes: Sequence[str]) -> str:
    """What must match for chunks to belong to the same bank (not the working resolution's
    file names; everything in describe())."""
    blob = json.dumps(
        {"generator": generator_description, "attributes": sorted(attributes)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _chunk_path(out: Path, first_seed: int, count: int) -> Path:
    return out / SAMPLES_DIR / f"{first_seed}+{count}.npz"


def _chunk_files(out: Path) -> list[Path]:
    """Chunk files in seed order (names "<first seed>+<count>.npz")."""
    files = (out / SAMPLES_DIR).glob("*+*.npz")
    return sorted(files, key=lambda p: int(p.stem.partition("+")[0]))


def sample_bank(
    generator: Any,
    attributes: Sequence[str],
    out: str | Path,
    n_samples: int,
    seed_start: int = DEFAULT_SEED_START,
    chunk: int = DEFAULT_CHUNK,
    batch_size: int = 16,
    progress: bool = True,
) -> int:
    """Generate and score `n_samples` faces in chunks under `out/samples` (resumable); returns
    the number of chunks computed by this call."""
    import torch

    from extractors.scorers import load_scorer

    if generator.z_dim is None:
        raise UserError(f"{generator.spec}: a direction bank needs a generator with latents")
    space = "w" if getattr(generator, "w_dim", None) else "z"
    if n_samples < 20 or chunk < 1:
        raise UserError(f"need n_samples >= 20 and chunk >= 1, got {n_samples} and {chunk}")
    attributes = list(dict.fromkeys(attributes))
    out = Path(out)
    description = generator.describe()
    key = _bank_key(description, attributes)
    _check_or_write_meta(out, key, description, attributes, seed_start, chunk, space)
    wanted = {seed_start + s: min(chunk, n_samples - s) for s in range(0, n_samples, chunk)}
    todo = [s for s, count in wanted.items() if not _chunk_path(out, s, count).is_file()]
    scorers = {name: load_scorer(name) for name in attributes}
    meta_path = out / "samples.json"
    meta = json.loads(meta_path.read_text())
    meta["scorers"] = {name: describe_or_none(s) for name, s in scorers.items()}  # weight hashes
    write_text(meta_path, json.dumps(meta, indent=2, default=str), sync=False)
    if not todo:
        return 0
    from generators.base import progress_bar

    bar = progress_bar(sum(wanted[s] for s in todo), progress, f"bank {generator.spec}")
    for first in todo:
        count = wanted[first]
        seeds = list(range(first, first + count))
        z = generator.latents(seeds)
        codes = z.numpy()
        if space == "w":
            with torch.no_grad():
                ws = generator.mapping(z, truncation_psi=1.0)
            codes = (ws[:, 0] if ws.ndim == 3 else ws).float().cpu().numpy()
        images = generator.images(z, space="z", batch_size=batch_size)
        arrays: dict[str, np.ndarray] = {
            "seeds": np.asarray(seeds, dtype=np.int64),
            "codes": codes,
        }
        for name, scorer in scorers.items():
            arrays[f"score_{name}"] = score_images(scorer, images)
        path = _chunk_path(out, first, count)
        atomic_write(path, lambda fh, a=arrays: np.savez(fh, **a), sync=False)
        for stale in (out / SAMPLES_DIR).glob(f"{first}+*.npz"):  # a shorter last chunk
            if stale != path:
                stale.unlink()
        if bar is not None:
            bar.update(count)
    if bar is not None:
        bar.close()
    return len(todo)


def _check_or_write_meta(
    out: Path,
    key: str,
    description: Mapping[str, Any],
    attributes: Sequence[str],
    seed_start: int,
    chunk: int,
    space: str,
) -> None:
    meta_path = out / "samples.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key or meta.get("seed_start") != seed_start:
            raise UserError(
                f"{out} holds a bank of another generator, attribute list or seed start "
                f"(key {meta.get('key')}, seed_start {meta.get('seed_start')}); "
                "use another --out or delete it"
            )
        if meta.get("chunk") != chunk:
            raise UserError(f"{out} was sampled in chunks of {meta.get('chunk')}, not {chunk}")
        return
    (out / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
    meta = {
        "format": BANK_FORMAT,
        "key": key,
        "generator": dict(description),
        "attributes": list(attributes),
        "seed_start": seed_start,
        "chunk": chunk,
        "space": space,
        "codes": "w at psi = 1 (float32 from the mapping network)" if space == "w" else "z",
    }
    write_text(meta_path, json.dumps(meta, indent=2, default=str), sync=False)


def load_samples(out: str | Path) -> BankSamples:
    """Every complete chunk under `out/samples`, in seed order."""
    out = Path(out)
    meta_path = out / "samples.json"
    if not meta_path.is_file():
        raise UserError(f"{out}: no samples.json (run stage 1, sample_bank, first)")
    meta = json.loads(meta_path.read_text())
    files = _chunk_files(out)
    if not files:
        raise UserError(f"{out}/{SAMPLES_DIR}: no sample chunks yet")
    parts: list[dict[str, np.ndarray]] = []
    for path in files:
        try:
            with np.load(path) as data:
                parts.append({k: data[k] for k in data.files})
        except (OSError, ValueError) as exc:
            raise UserError(
                f"{path}: unreadable sample chunk ({exc}); delete it and rerun"
            ) from exc
    seeds = np.concatenate([p["seeds"] for p in parts])
    if np.unique(seeds).size != seeds.size:
        raise UserError(f"{out}: sample chunks overlap (duplicate seeds)")
    scores = {
        name: np.concatenate([p[f"score_{name}"] for p in parts]).astype(np.float64)
        for name in meta["attributes"]
    }
    codes = np.concatenate([p["codes"] for p in parts]).astype(np.float64)
    return BankSamples(seeds, codes, scores, meta)


def fit_bank(
    out: str | Path,
    attributes: Sequence[str] | None = None,
    conditions: Mapping[str, Sequence[str]] | None = None,
    holdout: float = 0.3,
    quantile: float = 0.2,
    classifier: str = "svm-cv",
) -> dict[str, Any]:
    """Learn each attribute's direction from the bank's samples; write `<attr>.npy` (+ JSON)
    and `bank.json`; return the summary."""
    out = Path(out)
    samples = load_samples(out)
    attributes = list(attributes or samples.meta["attributes"])
    conditions = {k: list(v) for k, v in (conditions or {}).items()}
    for name in [*attributes, *(c for cs in conditions.values() for c in cs)]:
        if name not in samples.scores:
            raise UserError(
                f"{out}: no scores for {name!r}; the bank has {', '.join(samples.scores)}"
            )
    raw: dict[str, Direction] = {}
    for name in dict.fromkeys([*attributes, *(c for cs in conditions.values() for c in cs)]):
        raw[name] = _fit_one(samples, name, holdout, quantile, classifier)
    summary: dict[str, Any] = {
        "format": BANK_FORMAT,
        "generator": samples.meta["generator"],
        "n_samples": samples.n,
        "seeds": f"{int(samples.seeds.min())}..{int(samples.seeds.max())}",
        "attributes": {},
    }
    for name in attributes:
        direction = raw[name]
        if conditions.get(name):
            direction = condition_direction(direction, [raw[c] for c in conditions[name]])
            # strength_sd's unit is the SD of the samples' projections on the final direction
            direction.provenance["projection_sd_raw"] = direction.provenance["projection_sd"]
            direction.provenance["projection_sd"] = float(
                (samples.codes @ direction.vector).std(ddof=1)
            )
        save_direction(direction, out / f"{name}.npy")
        p = direction.provenance
        summary["attributes"][name] = {
            "file": f"{name}.npy",
            "sha256": direction.sha256,
            "labelling": p["labelling"],
            "n_positive": p["n_positive"],
            "n_negative": p["n_negative"],
            "held_out_balanced_accuracy": p["held_out_balanced_accuracy"],
            "held_out_auc": p["held_out_auc"],
            "projection_sd": p["projection_sd"],
            "classifier_c": p["classifier_c"],
            "conditioned_on": [r.get("scorer") for r in p.get("conditioned_on", [])],
        }
    write_text(out / "bank.json", json.dumps(summary, indent=2, default=str), sync=False)
    return summary


def _fit_one(
    samples: BankSamples, name: str, holdout: float, quantile: float, classifier: str
) -> Direction:
    space = str(samples.meta.get("space", "w"))
    settings = LearnSettings(
        space=space,
        n_samples=samples.n,
        quantile=quantile,
        holdout=holdout,
        classifier=classifier,
        labelling=scorer_labelling(name),
    )
    settings.check()
    normal, offset, stats = fit_boundary(samples.codes, samples.scores[name], settings)
    scorers = samples.meta.get("scorers", {})
    provenance = {
        "source": "direction bank (InterFaceGAN-style linear boundary)",
        "generator": samples.meta["generator"],
        "scorer": name,
        "scorer_description": scorers.get(name),
        "n_samples": samples.n,
        "seeds": f"{int(samples.seeds.min())}..{int(samples.seeds.max())}",
        "holdout_fraction": holdout,
        "split_seed": settings.split_seed,
        "classifier": CLASSIFIER_DOC[classifier],
        "offset": offset,
        **stats,
    }
    return Direction(normal, space, provenance)


# ------------------------------------------------------------------ shipped banks
def shipped_bank_dir(generator: Any) -> Path | None:
    """The folder of the direction bank a generator ships (its ``direction_bank``), or None."""
    bank = getattr(generator, "direction_bank", None)
    return Path(bank) if bank is not None and (Path(bank) / "bank.json").is_file() else None


def shipped_direction(generator: Any, attribute: str) -> Direction | None:
    """The shipped bank's direction for `attribute`, or None when the generator ships none for
    it. Raises when the bank was learned on another network (its mapping hash differs)."""
    bank = shipped_bank_dir(generator)
    if bank is None or not (bank / f"{attribute}.npy").is_file():
        return None
    direction = load_direction(bank / f"{attribute}.npy", generator=generator)
    learned_on = direction.provenance.get("generator", {}).get("mapping_sha256")
    current = generator.describe().get("mapping_sha256")
    if learned_on is not None and current is not None and learned_on != current:
        raise UserError(
            f"{bank}/{attribute}.npy was learned on a mapping network with sha256 "
            f"{learned_on[:12]}..., this generator's is {current[:12]}...; relearn it"
        )
    direction.provenance["path"] = str(bank / f"{attribute}.npy")
    return direction


def parse_conditions(items: Iterable[str]) -> dict[str, list[str]]:
    """["hair_length:gender", "age:gender,eyeglasses"] -> {"hair_length": ["gender"], ...}."""
    conditions: dict[str, list[str]] = {}
    for item in items:
        target, sep, others = item.partition(":")
        if not sep or not target or not others:
            raise UserError(f"condition {item!r}: write ATTRIBUTE:OTHER[,OTHER...]")
        conditions[target] = [o for o in others.split(",") if o]
    return conditions
