"""`counterfactual attention RUN_DIR`: FD attention maps per intervention x space of a finished
sweep, added to its run directory.

Design (see README "FD attention maps"): the run's faces are split in two halves by seed
order. The reference set is the base faces of the first half; the mapped faces are the first
`n` faces of the second half. Per space with a map and per intervention, the twin map is the
Grad-CAM map of FD(reference, twins of the second half) with respect to each mapped twin; the
control map is the map of FD(reference, base faces of the second half) with respect to each
mapped base face (the same faces without the edit; one per space). The FD gradients come
from the run's cached features (every face of the half enters the FD); only the mapped
faces are run through the network again, so only the attention maps need the images again:
the base faces are read from sets/base/images.npy and the twins of the mapped faces are
regenerated (checked against the cached features, `gradcam.FEATURE_RTOL`).

Writes RUN_DIR/attention/ (mean heat maps and mean faces as .npy, index.json with settings,
spaces without maps and why, and the measured cost) and RUN_DIR/report_tables/attention.csv /
.json (`run.schemas.ATTENTION_COLUMNS`); a task marker makes a re-run with the same settings
a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from counterfactual.errors import UserError
from counterfactual.foundation.files import save_npy, write_json
from counterfactual.foundation.hashing import content_hash
from counterfactual.run.directory import RunDir, slug
from counterfactual.run.schemas import ATTENTION_COLUMNS, ATTENTION_TABLE, BASE_SET
from counterfactual.run.tables import write_table

from .regions import CHANGE_LEVEL, CHANGED, changed_mask, parsing_region_masks, region_shares
from .spaces import has_map, no_map_reason

Log = Callable[[str], None]
TASK = "attention"
VERSION = 1  # bump when the maps' method changes
DEFAULT_N = 64


@dataclass
class AttentionResult:
    """What `run_attention` did: "complete" or "already complete", the table and the costs."""

    status: str
    table: pd.DataFrame | None = None
    cost: dict[str, Any] = field(default_factory=dict)


@dataclass
class Layout:
    """Which rows of the run's sets are the reference and which faces are mapped."""

    n_faces: int
    reference: slice
    half: slice  # the second half: every face entering FD(reference, B)
    mapped: slice  # the faces whose maps are computed (the first n of the half)

    @classmethod
    def of(cls, n_faces: int, n: int) -> Layout:
        if n_faces < 4:
            raise UserError(f"attention maps need at least 4 faces in the run (it has {n_faces})")
        m = n_faces // 2
        k = min(int(n), n_faces - m)
        return cls(n_faces, slice(0, m), slice(m, n_faces), slice(m, m + k))

    @property
    def k(self) -> int:
        return self.mapped.stop - self.mapped.start


def _space_options(cfg: Any, space: str) -> dict[str, Any]:
    entry = next(s for s in cfg.spaces if s.name == space)
    return {
        "allow_untrained": entry.allow_untrained,
        **({"weights": entry.weights} if entry.weights else {}),
    }


def choose_spaces(
    run_spaces: Sequence[str], requested: Sequence[str] | None
) -> tuple[list[str], dict[str, str]]:
    """(spaces to map, {space without a map: why}); UserError for a requested space that is
    not in the run or has no map."""
    if requested:
        missing = [s for s in requested if s not in run_spaces]
        if missing:
            raise UserError(
                f"--spaces {', '.join(missing)}: not a space of this run "
                f"(it has {', '.join(run_spaces)})"
            )
        bad = [s for s in requested if not has_map(s)]
        if bad:
            raise UserError(
                "; ".join(f"--spaces {s}: no attention map ({no_map_reason(s)})" for s in bad)
            )
        chosen = list(requested)
    else:
        chosen = [s for s in run_spaces if has_map(s)]
    skipped = {s: no_map_reason(s) for s in run_spaces if not has_map(s)}
    if not chosen:
        raise UserError(
            "no space of this run has an attention map: "
            + "; ".join(f"{s}: {r}" for s, r in skipped.items())
        )
    return chosen, skipped


def _mean_face(images: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(images, np.float64).mean(axis=0)), 0, 255).astype(np.uint8)


def run_attention(
    run_dir: str,
    *,
    spaces: Sequence[str] | None = None,
    n: int = DEFAULT_N,
    device: str = "cpu",
    batch_size: int = 16,
    progress: bool = True,
    force: bool = False,
    log: Log = print,
) -> AttentionResult:
    """Add FD attention maps to a finished sweep run (see the module docstring)."""
    from counterfactual.config import SweepConfig, validate_model
    from counterfactual.run.reader import load_run

    from .gradcam import FEATURE_RTOL

    if n < 1:
        raise UserError(f"--n {n}: map at least one face")
    run = load_run(run_dir)
    if run.kind != "sweep":
        raise UserError(f"{run.root}: attention maps need a sweep run (this is a {run.kind} run)")
    cfg = validate_model(SweepConfig, run.manifest["config"], source=str(run.dir.manifest_path))
    run_spaces = [s.name for s in cfg.spaces]
    chosen, skipped = choose_spaces(run_spaces, spaces)
    layout = Layout.of(len(cfg.seed_list), n)
    index = run.feature_index
    keys = [iv.key for iv in cfg.interventions]
    feature_keys = {f"{s}|{sp}": index.key(s, sp) for s in (BASE_SET, *keys) for sp in chosen}
    task_key = content_hash(
        {
            "version": VERSION,
            "spaces": chosen,
            "n": layout.k,
            "faces": cfg.seed_list,
            "features": feature_keys,
            "change_level": CHANGE_LEVEL,
        }
    )
    rd = RunDir(run.root)
    with rd:
        if not force and rd.is_done(TASK, task_key):
            log(
                f"{rd.root}: attention maps are up to date; nothing to do (use --force to recompute)"
            )
            return AttentionResult("already complete")
        log(
            f"attention maps: {layout.k} faces (seeds {cfg.seed_list[layout.mapped.start]}.."
            f"{cfg.seed_list[layout.mapped.stop - 1]}) x {len(keys)} interventions x "
            f"{len(chosen)} space(s) ({', '.join(chosen)}); reference: the base faces of the first "
            f"{layout.reference.stop} seeds. Only the attention maps need the images again: the "
            "twins of the mapped faces are regenerated; every FD uses the cached features."
        )
        for sp, why in skipped.items():
            log(f"note: no attention map in {sp}: {why}")
        engine = _Engine(run, cfg, rd, layout, chosen, device, batch_size, progress, log)
        table, files, cost = engine.run(keys)
        files += write_table(table, rd.report_tables / ATTENTION_TABLE, formats=("csv", "json"))
        files.append(
            write_json(
                rd.attention / "index.json",
                {
                    "version": VERSION,
                    "spaces": chosen,
                    "no_map": skipped,
                    "n": layout.k,
                    "reference_faces": layout.reference.stop,
                    "mapped_seeds": cfg.seed_list[layout.mapped],
                    "change_level": CHANGE_LEVEL,
                    "feature_rtol": FEATURE_RTOL,
                    "maps": engine.entries,
                    "cost": cost,
                },
            )
        )
        rd.mark_done(TASK, task_key, files=files)
    log(f"attention maps written to {rd.attention} and {rd.report_tables / ATTENTION_TABLE}.csv")
    for sp, c in cost["per_space"].items():
        log(
            f"cost: {sp}: {c['seconds_per_100_faces']:.1f} s per 100 faces (network + Grad-CAM); "
            f"images and parsing {cost['images_seconds_per_100_faces']:.1f} s per 100 faces"
        )
    return AttentionResult("complete", table, cost)


class _Engine:
    """One attention run: twins regenerated per intervention, maps per space."""

    def __init__(
        self,
        run: Any,
        cfg: Any,
        rd: RunDir,
        layout: Layout,
        spaces: list[str],
        device: str,
        batch_size: int,
        progress: bool,
        log: Log,
    ) -> None:
        self.data, self.cfg, self.rd, self.layout = run, cfg, rd, layout
        self.spaces, self.device, self.batch_size = spaces, device, batch_size
        self.progress, self.log = progress, log
        self.entries: list[dict[str, Any]] = []
        self.files: list[Any] = []
        self.seconds = {sp: 0.0 for sp in spaces}
        self.images_seconds = 0.0
        self.maps_computed = {sp: 0 for sp in spaces}

    def _bar(self, total: int, desc: str) -> Any:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not self.progress, leave=False)

    def _save(self, name: str, array: np.ndarray) -> str:
        path = self.rd.attention / f"{slug(name)}.npy"
        self.files.append(save_npy(path, array))
        return path.name

    def _maps(
        self, net: Any, space: str, images: np.ndarray, set_name: str, what: str
    ) -> np.ndarray:
        from .gradcam import heat_maps
        from .gradient import fd_gradient

        index, lay = self.data.feature_index, self.layout
        reference = index.load(BASE_SET, space)[lay.reference]
        half = index.load(set_name, space)[lay.half]
        grads = fd_gradient(reference, half)[: lay.k]
        expected = np.asarray(half[: lay.k])
        t0 = time.perf_counter()
        with self._bar(
            lay.k, f"attention {space} <- {what} (images regenerated for the maps)"
        ) as bar:
            maps = heat_maps(net, images, grads, expected, self.batch_size, bar.update)
        self.seconds[space] += time.perf_counter() - t0
        self.maps_computed[space] += lay.k
        return maps.heat

    def run(self, keys: list[str]) -> tuple[pd.DataFrame, list[Any], dict[str, Any]]:
        import torch

        from counterfactual.engine.components import Components
        from counterfactual.interventions.regions import detect_parsing

        from .gradcam import load_spatial_net

        lay, cfg = self.layout, self.cfg
        comps = Components()
        t0 = time.perf_counter()
        base_all = np.load(self.rd.images_path(BASE_SET), mmap_mode="r", allow_pickle=False)
        base = torch.from_numpy(np.array(base_all[lay.mapped]))
        size = (int(base.shape[-2]), int(base.shape[-1]))
        base_masks = parsing_region_masks(detect_parsing(base), size)
        generator = comps.load_generator(
            cfg.generator.spec, self.device, **cfg.generator.loader_options()
        )
        self.images_seconds += time.perf_counter() - t0
        nets = {
            sp: load_spatial_net(sp, self.device, **_space_options(cfg, sp)) for sp in self.spaces
        }
        controls = {
            sp: self._maps(nets[sp], sp, base.numpy(), BASE_SET, "base faces (control)")
            for sp in self.spaces
        }
        base_face = self._save("face__base", _mean_face(base.numpy()))
        for sp in self.spaces:
            self.entries.append(
                {
                    "intervention": None,
                    "space": sp,
                    "set": "control",
                    "map": self._save(
                        f"control__{sp}", controls[sp].mean(axis=0).astype(np.float32)
                    ),
                    "face": base_face,
                    "n": lay.k,
                }
            )
        rows: list[dict[str, Any]] = []
        seeds = cfg.seed_list[lay.mapped]
        for key in keys:
            t0 = time.perf_counter()
            intervention = comps.build_intervention(
                cfg.intervention(key).name, dict(cfg.intervention(key).params)
            )
            intervention.prepare(generator, self.rd.intervention_dir(key), progress=self.progress)
            self.log(
                f"attention: regenerating the twins of {lay.k} faces for {key} (only the "
                "attention maps need the images again)"
            )
            twins = torch.as_tensor(
                intervention.counterfactual(
                    generator, seeds, base, batch_size=cfg.batch_size, progress=self.progress
                )
            ).cpu()
            changed = {CHANGED: changed_mask(base.numpy(), twins.numpy())}
            twin_masks = {**parsing_region_masks(detect_parsing(twins), size), **changed}
            self.images_seconds += time.perf_counter() - t0
            twin_face = self._save(f"face__{key}", _mean_face(twins.numpy()))
            for sp in self.spaces:
                heat = self._maps(nets[sp], sp, twins.numpy(), key, f"{key} twins")
                self.entries.append(
                    {
                        "intervention": key,
                        "space": sp,
                        "set": "twin",
                        "map": self._save(f"{key}__{sp}", heat.mean(axis=0).astype(np.float32)),
                        "face": twin_face,
                        "n": lay.k,
                    }
                )
                space = self.data.space(sp)
                labels = {
                    "intervention": key,
                    "space": sp,
                    "space_label": space.label,
                    "trained": space.trained,
                }
                for set_name, h, masks in (
                    ("twin", heat, twin_masks),
                    ("control", controls[sp], {**base_masks, **changed}),
                ):
                    for region, r in region_shares(h, masks).items():
                        rows.append({**labels, "set": set_name, "region": region, **r})
        faces = max(lay.k, 1)
        cost = {
            "per_space": {
                sp: {
                    "seconds": round(self.seconds[sp], 3),
                    "maps": self.maps_computed[sp],
                    "seconds_per_100_faces": round(
                        100 * self.seconds[sp] / max(self.maps_computed[sp], 1), 2
                    ),
                }
                for sp in self.spaces
            },
            "images_seconds": round(self.images_seconds, 3),
            "images_seconds_per_100_faces": round(
                100 * self.images_seconds / faces / (1 + len(keys)), 2
            ),
            "device": self.device,
        }
        return pd.DataFrame(rows, columns=list(ATTENTION_COLUMNS)), self.files, cost


__all__ = ["run_attention", "choose_spaces", "Layout", "AttentionResult", "DEFAULT_N"]
