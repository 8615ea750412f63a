"""Shard jobs: the image work of a sweep or rank run, cut by seeds, for a distributed executor.

A `ShardJob` asks for the images of some seeds from one generator (a "source" set), the twin
sets made from them by prepared interventions, the features of each set in some feature
spaces, the attribute scores of each set and the identity similarity twin vs source. A
`ShardWorker` keeps its generators, extractors and scorers loaded between jobs (one per
Ray actor, see `counterfactual.engine.ray`); it returns arrays only and writes
nothing, so the driver alone writes the run directory and the feature cache (atomically),
and a retried job can never leave duplicate or half-written entries.

Every per-image result is a function of the image alone (generation by seed, row-wise
extractors and scorers), so the driver's concatenation of the shards in seed order equals
the whole-set result of the local executor.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from counterfactual.config import SpaceConfig
from counterfactual.engine.scoring import SCORING


@dataclass(frozen=True)
class ShardJob:
    """One shard: `seeds` of `spec`, the sets made from them, what to compute on each set."""

    index: int  # position of the shard (seed order)
    spec: str  # generator spec of the source set
    source: str  # name of the source set ("base", a rank set id)
    seeds: tuple[int, ...]
    batch_size: int
    generation: dict[str, Any] = field(default_factory=dict)  # truncation kwargs
    twins: dict[str, Any] = field(default_factory=dict)  # set name -> prepared intervention
    spaces: dict[str, tuple[str, ...]] = field(default_factory=dict)  # set -> space names
    scorers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # set -> scorer names
    identity: tuple[str, ...] = ()  # twin sets whose identity vs source is needed
    sample: int = 0  # first images of each set to return
    scoring: str = "verify"  # how scores are taken (`counterfactual.engine.scoring.SCORING`)
    options: dict[str, Any] = field(default_factory=dict)  # load_generator options (folders, align)

    def sets(self) -> list[str]:
        return [self.source, *self.twins]


@dataclass
class ShardResult:
    """Arrays of one shard (rows in the shard's seed order)."""

    index: int
    n: int
    features: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (set, space)
    scores: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (set, scorer)
    identity: dict[str, np.ndarray] = field(default_factory=dict)  # twin set
    samples: dict[str, np.ndarray] = field(default_factory=dict)  # set -> uint8
    images_generated: int = 0
    feature_passes: int = 0


class ShardWorker:
    """Runs shard jobs with its components loaded once (generators by spec, extractors by
    space, scorers by name). `components` is the executor's `Components`."""

    def __init__(
        self,
        components: Any,
        device: str,
        spaces: dict[str, SpaceConfig],
        check_finite: bool = True,
    ) -> None:
        self.comps, self.device, self.space_configs = components, device, spaces
        self.check_finite = check_finite
        self._generators: dict[str, Any] = {}
        self._extractors: dict[str, Any] = {}
        self._scorers: dict[str, Callable] = {}
        self._identity: Callable | None = None

    def generator(self, spec: str, options: dict[str, Any] | None = None) -> Any:
        key = json.dumps([spec, options or {}], sort_keys=True)
        if key not in self._generators:
            self._generators[key] = self.comps.load_generator(spec, self.device, **(options or {}))
        return self._generators[key]

    def extractor(self, space: str) -> Any:
        if space not in self._extractors:
            self._extractors[space] = self.comps.load_extractor(
                self.space_configs[space], self.device
            )
        return self._extractors[space]

    def scorer(self, name: str) -> Callable:
        if name not in self._scorers:
            self._scorers[name] = self.comps.load_scorer(name)
        return self._scorers[name]

    def identity(self) -> Callable:
        if self._identity is None:
            self._identity = self.comps.identity_similarity()
        return self._identity

    def run(self, job: ShardJob) -> ShardResult:
        from counterfactual.engine.extract import extract_features

        gen = self.generator(job.spec, job.options)
        seeds = list(job.seeds)
        out = ShardResult(job.index, len(seeds))
        source = torch.as_tensor(
            gen.images_for_seeds(seeds, batch_size=job.batch_size, progress=False, **job.generation)
        )
        source = source.cpu().contiguous()
        if source.dtype != torch.uint8 or len(source) != len(seeds):
            raise RuntimeError(
                f"{job.spec} returned {list(source.shape)} {source.dtype} for "
                f"{len(seeds)} seeds; expected uint8 NCHW"
            )
        out.images_generated += len(source)
        for set_name in job.sets():
            if set_name == job.source:
                images = source
            else:
                images = (
                    torch.as_tensor(
                        job.twins[set_name].counterfactual(
                            gen, seeds, source, batch_size=job.batch_size, progress=False
                        )
                    )
                    .cpu()
                    .contiguous()
                )
                if images.shape != source.shape or images.dtype != torch.uint8:
                    raise RuntimeError(
                        f"intervention {set_name!r} returned twins of shape "
                        f"{list(images.shape)} ({images.dtype}); expected "
                        f"{list(source.shape)} uint8"
                    )
                out.images_generated += len(images)
            for space in job.spaces.get(set_name, ()):
                out.features[(set_name, space)] = extract_features(
                    self.extractor(space), images, name=space, check_finite=self.check_finite
                )
                out.feature_passes += len(images)
            for name in job.scorers.get(set_name, ()):
                out.scores[(set_name, name)] = SCORING[job.scoring](
                    self.scorer(name), images, name, set_name
                )
            if set_name in job.identity:
                out.identity[set_name] = np.asarray(
                    self.identity()(source, images), dtype=np.float64
                ).reshape(-1)
            if job.sample:
                out.samples[set_name] = images[: job.sample].numpy()
        return out


def shard_seeds(seeds: list[int], shard_size: int) -> list[tuple[int, ...]]:
    """Consecutive shards of at most shard_size seeds, in order."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    return [tuple(seeds[i : i + shard_size]) for i in range(0, len(seeds), shard_size)]


def concat(results: list[ShardResult], part: str, key: Any) -> np.ndarray:
    """One array of a set from every shard's `part` ("features", "scores", "identity")."""
    ordered = sorted(results, key=lambda r: r.index)
    return np.concatenate([getattr(r, part)[key] for r in ordered])


class ShardStore:
    """Finished shard results kept by the driver (RUN_DIR/shards/<key>.npz, written atomically),
    so a killed driver resumes without redoing finished shards; cleared once their sets are
    in the feature cache."""

    def __init__(self, root: Any) -> None:
        from pathlib import Path

        self.root = Path(root)

    def _path(self, key: str) -> Any:
        return self.root / f"{key}.npz"

    def get(self, key: str, index: int) -> ShardResult | None:
        import json

        try:
            with np.load(self._path(key), allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (FileNotFoundError, ValueError, OSError, EOFError):
            return None
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
        out = ShardResult(index, meta["n"], images_generated=0, feature_passes=0)
        for name, (part, key_) in meta["arrays"].items():
            target = getattr(out, part)
            target[tuple(key_) if isinstance(key_, list) else key_] = arrays[name]
        return out

    def put(self, key: str, result: ShardResult) -> None:
        import io
        import json

        from counterfactual.foundation.files import write_bytes

        arrays: dict[str, np.ndarray] = {}
        names: dict[str, tuple[str, Any]] = {}
        for part in ("features", "scores", "identity", "samples"):
            for i, (k, v) in enumerate(getattr(result, part).items()):
                names[f"{part}{i}"] = (part, list(k) if isinstance(k, tuple) else k)
                arrays[f"{part}{i}"] = v
        meta = json.dumps({"n": result.n, "arrays": names}).encode()
        arrays["__meta__"] = np.frombuffer(meta, dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        write_bytes(self._path(key), buf.getvalue(), sync=False)

    def clear(self) -> None:
        import shutil

        shutil.rmtree(self.root, ignore_errors=True)
