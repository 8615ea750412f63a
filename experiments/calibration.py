#!/usr/bin/env python
"""Calibration study of the face-level inference (counterfactual.analysis.inference).

Simulated studies where the truth is known. Each study has ``--n`` base "faces" with latent
features z ~ N(0, diag(lambda)) in ``--dim`` dimensions (lambda_k = k^-0.7, a decaying spectrum
like deep features), seen through three feature spaces (the identity, a random linear map to
dim/2 dimensions with 3x the scale, and a random map to 16 dimensions), and ``--attributes``
counterfactual twin sets:
- alternative: twin = rho z + sqrt(1 - rho^2) z' + delta_a, z' an independent draw, delta_a a
  planted shift of size ``--shift`` (in units of the standard deviation along it) in a random
  direction of the top-10 principal subspace; twins have the base covariance, so the
  population FD in space M is ||M delta_a||^2;
- null: twin = an independent re-draw from the base distribution (base and twin exchangeable).
The family corrected together is every attribute x space cell of a study, as in a sweep
(attributes x spaces on the same faces).

Estimand of the interval: theta = E[S], the expected sensitivity S = FD(base, twin) -
E_swap FD(swapped sets) for sets of n faces from this generator (the FD change from prevalence
gap 0 to 1 with the finite-sample floor removed). It is computed by a separate run of
``--truth-reps`` independent studies per cell (its Monte Carlo error is printed); under the null
theta = 0 exactly (exchangeability). The population FD ||M delta||^2 is printed beside it, with
the mean of each bias-corrected estimator, to show how far each is from the population value.

Printed, one line per quantity: coverage of the 95% intervals (target 93-97%), null rejection
rate at alpha after Holm over the family (target <= alpha), null rejection rate per test
uncorrected (target [0.02, 0.08]), power for the planted shift after Holm.

    python experiments/calibration.py [--seed 0] [--reps 200] [--n 50] [--dim 80] [--workers 2]

With ``--cross``: the cross-space ratio (`CrossWorld`, `run_cross`): per null world and planted
relative reaction (``--ratios``), the false-verdict rate per study (with its count and 95%
Wilson interval), the coverage of the 95% intervals, the simultaneous coverage at the verdict
level and the power, for each ratio interval method of
`counterfactual.analysis.sensitivity.RATIO_INTERVALS` and each verdict rule of
`sensitivity.VERDICT_RULES` (interval alone, sign-flip test alone, both). ``--cache DIR`` keeps
each study's cells (the expensive part), so a re-run reads them.

    python experiments/calibration.py --cross --seed 0 --reps 150 --cache /tmp/cells
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from counterfactual.analysis.inference import (
    ResamplingPlan,
    Settings,
    cell_plan,
    face_groups,  # noqa: E402
    infer_cell,
    jackknife_interval,
    permutation_p,
    resamples_for,
)
from counterfactual.analysis.multiple import adjust_pvalues  # noqa: E402
from counterfactual.metrics.fd_batch import PairPool  # noqa: E402

RHO = 0.9
SMALL_DIM = 16


@dataclass(frozen=True)
class World:
    """The simulated generator: spectrum, feature-space maps and planted shifts."""

    n: int
    dim: int
    lam: np.ndarray
    maps: tuple[np.ndarray, ...]  # latent -> space features (dim_space x dim)
    shifts: np.ndarray  # [attributes, dim]

    @classmethod
    def build(cls, n: int, dim: int, attributes: int, shift: float, seed: int) -> World:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        lam = np.arange(1, dim + 1, dtype=np.float64) ** -0.7
        maps = (
            np.eye(dim),
            3.0 * rng.standard_normal((max(dim // 2, 2), dim)) / np.sqrt(dim),
            rng.standard_normal((SMALL_DIM, dim)) / np.sqrt(dim),
        )
        top = min(10, dim)
        shifts = np.zeros((attributes, dim))
        for a in range(attributes):
            u = rng.standard_normal(top)
            u /= np.linalg.norm(u)
            # size `shift` in units of the standard deviation along the direction u
            shifts[a, :top] = shift * u * np.sqrt(u @ (lam[:top] * u))
        return cls(n, dim, lam, maps, shifts)

    def study(self, rng: np.random.Generator, null: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """[attribute][space] -> (base, twin) features of one simulated study."""
        sd = np.sqrt(self.lam)
        z = rng.standard_normal((self.n, self.dim)) * sd
        out = []
        for delta in self.shifts:
            other = rng.standard_normal((self.n, self.dim)) * sd
            twin = other if null else RHO * z + np.sqrt(1 - RHO**2) * other + delta
            out.append([(z @ m.T, twin @ m.T) for m in self.maps])
        return out

    def population_fd(self) -> np.ndarray:
        """[attributes, spaces] population FD ||M delta||^2 (equal covariances)."""
        return np.array([[float(np.sum((m @ d) ** 2)) for m in self.maps] for d in self.shifts])


def point_sensitivity(
    base: np.ndarray, twin: np.ndarray, settings: Settings, rng: np.random.Generator
) -> np.ndarray:
    """(S, FD(1), FD-inf change, unbiased mean term) of one cell, without interval or test."""
    one = infer_cell(base, twin, settings, rng, n_perm=None, plan=np.arange(len(base)) % 3)
    return np.array([one.sensitivity, one.fd1, one.fd_inf1 - one.fd_inf0, one.mean_term_unbiased])


def _truth_study(world: World, settings: Settings, seed: int, r: int) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2, r]))
    cells = world.study(rng, null=False)
    return np.array([[point_sensitivity(b, t, settings, rng) for b, t in row] for row in cells])


def _study(
    world: World, settings: Settings, theta: np.ndarray, n_perm: int, seed: int, r: int
) -> dict:
    """One replication: an alternative study (intervals, tests) and a null study (tests)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 3, r]))
    plan = cell_plan(world.n, settings, face_groups(world.n, settings.groups, seed + r))
    covered, covered_jack, p_alt = [], [], []
    for a, row in enumerate(world.study(rng, null=False)):
        for s, (base, twin) in enumerate(row):
            c = infer_cell(base, twin, settings, rng, n_perm=n_perm, plan=plan)
            covered.append(c.ci_low <= theta[a, s] <= c.ci_high)
            lo, hi = jackknife_interval(c.sensitivity, c.se_jackknife, settings.ci, plan.n_groups)
            covered_jack.append(lo <= theta[a, s] <= hi)
            p_alt.append(c.p_value)
    null = world.study(rng, null=True)
    p_null = []
    for row in null:
        for base, twin in row:
            pool = PairPool(base, twin)
            obs = float(pool.separated().fd[0])
            perm = pool.evaluate(
                np.ones((n_perm, world.n), np.int64), rng.integers(0, 2, size=(n_perm, world.n))
            ).fd
            p_null.append(permutation_p(obs, perm)[0])
    c0 = infer_cell(*null[r % len(null)][r % len(null[0])], settings, rng, n_perm=None, plan=plan)
    return {
        "covered": covered,
        "covered_jack": covered_jack,
        "covered0": c0.ci_low <= 0.0 <= c0.ci_high,
        "reject_alt": list(adjust_pvalues(p_alt, "holm") <= settings.alpha),
        "p_null": p_null,
        "fwer": bool((adjust_pvalues(p_null, "holm") <= settings.alpha).any()),
    }


def _map(fn, items, workers: int) -> list:
    if workers <= 1:
        return [fn(i) for i in items]
    with ProcessPoolExecutor(workers) as ex:
        return list(ex.map(fn, items, chunksize=4))


def run(
    seed: int = 0,
    reps: int = 200,
    n: int = 50,
    dim: int = 80,
    attributes: int = 2,
    shift: float = 1.0,
    alpha: float = 0.05,
    truth_reps: int = 200,
    workers: int = 1,
    groups: int | None = Settings.groups,
    splits: int = Settings.splits,
) -> dict:
    """The calibration study; returns the summary quantities (see the module docstring).
    Results do not depend on ``workers`` (every study has its own seeded stream)."""
    world = World.build(n, dim, attributes, shift, seed)
    family = attributes * len(world.maps)
    settings = Settings(alpha=alpha, seed=seed, fd_inf_reps=0, groups=groups, splits=splits)
    n_perm = resamples_for(family, alpha)
    truth_settings = Settings(alpha=alpha, seed=seed, fd_inf_reps=2, splits=0)
    vals = np.asarray(
        _map(partial(_truth_study, world, truth_settings, seed), range(truth_reps), workers)
    )
    theta, theta_se = vals.mean(axis=0), vals.std(axis=0, ddof=1) / np.sqrt(truth_reps)
    out = _map(partial(_study, world, settings, theta[..., 0], n_perm, seed), range(reps), workers)
    covered = [c for o in out for c in o["covered"]]
    null_p = np.asarray([p for o in out for p in o["p_null"]])
    return {
        "family": family,
        "n_perm": n_perm,
        "cells": len(covered),
        "coverage": float(np.mean(covered)),
        "coverage_per_cell": np.mean([o["covered"] for o in out], axis=0),
        "coverage_jackknife": float(np.mean([c for o in out for c in o["covered_jack"]])),
        "coverage_null": float(np.mean([o["covered0"] for o in out])),
        "null_fwer": float(np.mean([o["fwer"] for o in out])),
        "null_per_test": float(np.mean(null_p <= alpha)),
        "power": float(np.mean([x for o in out for x in o["reject_alt"]])),
        "theta": theta[..., 0],
        "theta_se": theta_se[..., 0],
        "population_fd": world.population_fd(),
        "mean_fd1": theta[..., 1],
        "mean_fd_inf_change": theta[..., 2],
        "mean_unbiased_mean_term": theta[..., 3],
    }


# ---- the cross-space ratio ------------------------------------------------------------------
CROSS_SCALES = (1.0, 3.0, 0.5)  # each space's overall scale (the verdicts are scale-free)
CROSS_NOISE = 0.5  # SD of each space's own per-image noise


@dataclass(frozen=True)
class CrossWorld:
    """Three trained spaces that see the same faces through different rotations and scales,
    each with its own per-image isotropic noise: features_s = c_s (Q_s x + sigma e_s), x the
    latent features of an image. FD is invariant to rotations and scales as c^2, and
    Q x + sigma e has the law of Q (x + sigma e'), so E[S](a, s) = c_s^2 E[S](a) exactly: every
    space's relative reaction is 1 (the null world). A planted world multiplies the shift of
    attribute 0 by sqrt(k) in space 0 only (its population FD by k). Attributes: shifts of
    ``shift`` SD in random top-10 directions (twin = rho x + sqrt(1 - rho^2) x' + delta, as in
    `World`); the reference distortion: a shift of ``ref_shift`` SD."""

    n: int
    dim: int
    lam: np.ndarray
    rotations: tuple[np.ndarray, ...]
    shifts: np.ndarray  # [attributes, dim]
    ref_shift: np.ndarray  # [dim]

    @classmethod
    def build(
        cls, n: int, dim: int, attributes: int, shift: float, ref_shift: float, seed: int
    ) -> CrossWorld:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
        lam = np.arange(1, dim + 1, dtype=np.float64) ** -0.7
        rotations = tuple(np.linalg.qr(rng.standard_normal((dim, dim)))[0] for _ in CROSS_SCALES)
        top = min(10, dim)

        def direction(size: float) -> np.ndarray:
            u = rng.standard_normal(top)
            u /= np.linalg.norm(u)
            out = np.zeros(dim)
            out[:top] = size * u * np.sqrt(u @ (lam[:top] * u))
            return out

        return cls(
            n,
            dim,
            lam,
            rotations,
            np.stack([direction(shift) for _ in range(attributes)]),
            direction(ref_shift),
        )

    def latents(self, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
        """Base latents and the twins' latents without their shift: [ref, attributes...]."""
        sd = np.sqrt(self.lam)
        z = rng.standard_normal((self.n, self.dim)) * sd
        twins = [
            RHO * z + np.sqrt(1 - RHO**2) * rng.standard_normal(z.shape) * sd
            for _ in range(1 + len(self.shifts))
        ]
        return z, twins

    def view(self, x: np.ndarray, space: int, rng: np.random.Generator) -> np.ndarray:
        return (
            CROSS_SCALES[space]
            * (x + CROSS_NOISE * rng.standard_normal(x.shape))
            @ self.rotations[space].T
        )


def _cross_truth_study(
    world: CrossWorld, ratios: tuple[float, ...], settings: Settings, seed: int, r: int
) -> np.ndarray:
    """Point S in the canonical space (no rotation, scale 1) of: the reference, attribute 0,
    attribute 0 planted at each ratio."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 12, r]))
    z, twins = world.latents(rng)
    base = z + CROSS_NOISE * rng.standard_normal(z.shape)
    noise = CROSS_NOISE * rng.standard_normal(z.shape)
    plan = np.arange(world.n) % 3
    out = [infer_cell(base, twins[0] + world.ref_shift + noise, settings, rng, None, plan)]
    out += [
        infer_cell(base, twins[1] + np.sqrt(k) * world.shifts[0] + noise, settings, rng, None, plan)
        for k in (1.0, *ratios)
    ]
    return np.array([c.sensitivity for c in out])


def cross_truth(theta: np.ndarray, attributes: int, k_index: int | None) -> np.ndarray:
    """[attributes, 3] true relative reactions from the canonical E[S] (reference, attribute 0,
    attribute 0 planted at each ratio; ``k_index`` None: the null world): attribute 0 in space
    0 planted, every other cell E[S](a, s) = c_s^2 E[S](a) (the scales cancel)."""
    prof = np.ones((attributes, len(CROSS_SCALES)))
    if k_index is not None:
        prof[0, 0] = theta[2 + k_index] / theta[1]
    rel = np.empty_like(prof)
    for s in range(prof.shape[1]):
        others = [t for t in range(prof.shape[1]) if t != s]
        rel[:, s] = prof[:, s] / prof[:, others].mean(axis=1)
    return rel


@dataclass(frozen=True)
class CrossCells:
    """The S values on the resampling plan's rows of one cross-space study: attribute cells
    {(attribute, space): [R]}, the reference {space: [R]} and the planted cell at each ratio."""

    cells: dict[tuple[str, str], np.ndarray]
    ref: dict[str, np.ndarray]
    planted: list[np.ndarray]


def cross_cells(
    world: CrossWorld, ratios: tuple[float, ...], settings: Settings, seed: int, r: int
) -> CrossCells:
    """Study ``r``'s cells (the expensive part: one `infer_cell` per cell), on the plan of
    `cross_plan`."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 13, r]))
    plan = cross_plan(world, settings, seed, r)
    z, twins = world.latents(rng)
    names = [f"space{s}" for s in range(len(CROSS_SCALES))]
    attrs = [f"a{a}" for a in range(len(world.shifts))]
    bases = [world.view(z, s, rng) for s in range(len(names))]
    cells, ref, planted = {}, {}, []
    for s, sp in enumerate(names):
        ref[sp] = infer_cell(
            bases[s], world.view(twins[0] + world.ref_shift, s, rng), settings, rng, None, plan
        ).values
        for a, shift in enumerate(world.shifts):
            noise = rng.standard_normal(z.shape)  # the same image noise in planted worlds

            def twin(
                k: float,
                s: int = s,
                a: int = a,
                shift: np.ndarray = shift,
                noise: np.ndarray = noise,
            ) -> np.ndarray:
                return (
                    CROSS_SCALES[s]
                    * (twins[1 + a] + np.sqrt(k) * shift + CROSS_NOISE * noise)
                    @ world.rotations[s].T
                )

            cells[attrs[a], sp] = infer_cell(bases[s], twin(1.0), settings, rng, None, plan).values
            if a == 0 and s == 0:
                planted = [
                    infer_cell(bases[s], twin(k), settings, rng, None, plan).values for k in ratios
                ]
    return CrossCells(cells, ref, planted)


def cross_plan(world: CrossWorld, settings: Settings, seed: int, r: int) -> ResamplingPlan:
    """The resampling plan of study ``r``."""
    return cell_plan(world.n, settings, face_groups(world.n, settings.groups, seed + r))


def cache_path(
    world: CrossWorld,
    ratios: tuple[float, ...],
    settings: Settings,
    seed: int,
    cache: str,
    r: int,
) -> Path:
    """Where study ``r``'s cells are cached: named by a hash of everything they depend on."""
    what = (
        world.n,
        world.dim,
        world.shifts.round(12).tolist(),
        world.ref_shift.round(12).tolist(),
        ratios,
        settings,
        seed,
        CROSS_SCALES,
        CROSS_NOISE,
    )
    return Path(cache) / f"cross-{hashlib.sha256(repr(what).encode()).hexdigest()[:16]}-{r}.pkl"


def _cached_cells(
    world: CrossWorld,
    ratios: tuple[float, ...],
    settings: Settings,
    seed: int,
    cache: str | None,
    r: int,
) -> CrossCells:
    """`cross_cells`, read from / written to ``cache`` (a folder; None: no cache), keyed by
    everything the cells depend on."""
    if cache is None:
        return cross_cells(world, ratios, settings, seed, r)
    path = cache_path(world, ratios, settings, seed, cache, r)
    if path.exists():
        with open(path, "rb") as f:
            return CrossCells(**pickle.load(f))  # plain dict: readable from any module name
    out = cross_cells(world, ratios, settings, seed, r)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(asdict(out), f)
    os.replace(tmp, path)
    return out


@dataclass(frozen=True)
class _Cell:
    values: np.ndarray  # what `cross_space` reads of a cell


def _cross_study(
    world: CrossWorld,
    ratios: tuple[float, ...],
    truths: list[np.ndarray],
    settings: Settings,
    seed: int,
    cache: str | None,
    r: int,
) -> dict:
    """One null world and, on the same faces, each planted world (only the planted cell
    differs): per world, interval method and verdict rule, the verdicts and the intervals at
    95% and at the verdict level."""
    from counterfactual.analysis.pairs import PairFeatures
    from counterfactual.analysis.sensitivity import RATIO_INTERVALS, VERDICT_RULES, cross_space

    plan = cross_plan(world, settings, seed, r)
    got = _cached_cells(world, ratios, settings, seed, cache, r)
    names = [f"space{s}" for s in range(len(CROSS_SCALES))]
    attrs = [f"a{a}" for a in range(len(world.shifts))]
    cells = {k: _Cell(v) for k, v in got.cells.items()}
    ref = {k: _Cell(v) for k, v in got.ref.items()}
    planted = [_Cell(v) for v in got.planted]
    dummy = np.zeros((3, 2))
    spaces = {sp: PairFeatures(attrs[0], sp, dummy, dummy) for sp in names}
    m = len(attrs) * len(names)
    out = {}
    for w, truth in enumerate(truths):  # world 0: null; then one per ratio
        world_cells = dict(cells)
        if w:
            world_cells[attrs[0], names[0]] = planted[w - 1]
        for method in RATIO_INTERVALS:
            table, cover95 = (
                cross_space(
                    world_cells,
                    ref,
                    spaces,
                    attrs,
                    Settings(alpha=alpha, seed=r),
                    "reference",
                    plan,
                    method,
                )[0]
                for alpha in (settings.alpha, settings.alpha * m)
            )
            tv = truth[
                [attrs.index(a) for a in table["intervention"]],
                [names.index(sp) for sp in table["space"]],
            ]
            ok = (table["reaction"] != "not comparable").to_numpy()
            covers = (table["relative_ci_low"] <= tv) & (tv <= table["relative_ci_high"])
            covers95 = (cover95["relative_ci_low"] <= tv) & (tv <= cover95["relative_ci_high"])
            lo95, hi95 = (
                cover95[c].to_numpy(np.float64)[ok] for c in ("relative_ci_low", "relative_ci_high")
            )
            width = np.log(hi95[lo95 > 0] / lo95[lo95 > 0])  # log-scale intervals only
            planted_row = np.flatnonzero(
                ((table["intervention"] == attrs[0]) & (table["space"] == names[0])).to_numpy()
            )[0]
            for rule in rules_of(method):
                reaction = np.array(
                    [
                        VERDICT_RULES[rule](q, lo, hi, p, settings.alpha / m) if judged else ""
                        for q, lo, hi, p, judged in zip(
                            table["relative"],
                            table["relative_ci_low"],
                            table["relative_ci_high"],
                            table["p_value"],
                            ok,
                        )
                    ]
                )
                wrong = ((reaction == "over") & (tv <= 1.0)) | ((reaction == "under") & (tv >= 1.0))
                out[w, method, rule] = {
                    "false": bool(wrong.any()),
                    "comparable": ok,
                    "cover95": covers95[ok].to_numpy(),
                    "simultaneous": bool(covers[ok].all()),
                    "over": bool(reaction[planted_row] == "over"),
                    "log_width": width,
                }
    return out


def rules_of(method: str) -> tuple[str, ...]:
    """Verdict rules calibrated with an interval method: every rule with the default method,
    the interval alone with the others (kept for comparison)."""
    from counterfactual.analysis.sensitivity import VERDICT_RULES

    return tuple(VERDICT_RULES) if method == "linearised" else ("interval",)


def run_cross(
    seed: int = 0,
    reps: int = 100,
    n: int = 96,
    dim: int = 16,
    attributes: int = 2,
    shift: float = 1.0,
    ref_shift: float = 2.5,
    ratios: tuple[float, ...] = (1.5, 2.0, 3.0),
    alpha: float = 0.05,
    truth_reps: int = 400,
    workers: int = 1,
    cache: str | None = None,
) -> dict:
    """The cross-space calibration (see `CrossWorld`); ``cache``: a folder keeping each
    study's cells (`cross_cells`, the expensive part), so that verdict rules can be
    re-evaluated on the same studies. Returns, per world (null, each ratio), interval method
    and verdict rule, the false-verdict rate per study, the coverage of the 95% intervals
    of comparable cells, the simultaneous coverage at the verdict level, the power (planted
    cell called "over") and the share of comparable cells."""
    world = CrossWorld.build(n, dim, attributes, shift, ref_shift, seed)
    settings = Settings(alpha=alpha, seed=seed, fd_inf_reps=0)
    truth_settings = Settings(alpha=alpha, seed=seed, fd_inf_reps=0, splits=0)
    theta = np.asarray(
        _map(
            partial(_cross_truth_study, world, ratios, truth_settings, seed),
            range(truth_reps),
            workers,
        )
    )
    theta_mean = theta.mean(axis=0)
    truths = [cross_truth(theta_mean, attributes, None)] + [
        cross_truth(theta_mean, attributes, i) for i in range(len(ratios))
    ]
    out = _map(
        partial(_cross_study, world, ratios, truths, settings, seed, cache), range(reps), workers
    )
    summary = {}
    for key in out[0]:
        rows = [o[key] for o in out]
        summary[key] = {
            "false": float(np.mean([x["false"] for x in rows])),
            "false_count": int(sum(x["false"] for x in rows)),
            "power_count": int(sum(x["over"] for x in rows)),
            "cover95": float(np.mean(np.concatenate([x["cover95"] for x in rows]))),
            "cells": int(sum(len(x["cover95"]) for x in rows)),
            "simultaneous": float(np.mean([x["simultaneous"] for x in rows])),
            "power": float(np.mean([x["over"] for x in rows])),
            "comparable": float(np.mean(np.concatenate([x["comparable"] for x in rows]))),
            "log_width": float(np.median(np.concatenate([x["log_width"] for x in rows]))),
        }
    rel = theta_mean[2:] / theta_mean[1]
    return {
        "summary": summary,
        "ratios": ratios,
        "true_relative": rel,
        "theta": theta_mean,
        "theta_se": theta.std(axis=0, ddof=1) / np.sqrt(truth_reps),
        "m": attributes * len(CROSS_SCALES),
    }


def print_cross(r: dict, reps: int, seed: int, n: int, dim: int, alpha: float) -> None:
    pct = 100.0
    print(
        f"cross-space ratio: seed={seed} studies={reps} n={n} dim={dim} spaces=3 (scales "
        f"{CROSS_SCALES}, own noise {CROSS_NOISE}) verdicts m={r['m']} level 1 - {alpha}/m"
    )
    print(
        "planted population ratio -> true relative reaction E[S]-based: "
        + ", ".join(f"{k:g}x -> {t:.2f}" for k, t in zip(r["ratios"], r["true_relative"]))
    )
    print(
        "| world | interval | verdict rule | false verdicts/study (<= 5%; 95% Wilson) | "
        "95% coverage (93-97%) | simultaneous coverage (>= 95%) | power: planted cell 'over' | "
        "comparable | median log-width (95%) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for (w, method, rule), s in r["summary"].items():
        name = "null (all 1x)" if w == 0 else f"planted {r['ratios'][w - 1]:g}x"
        power = (
            "-"
            if w == 0
            else f"{pct * s['power']:.0f}% ({s['power_count']}/{reps}, {_wilson(s['power_count'], reps)})"
        )
        print(
            f"| {name} | {method} | {rule} | {pct * s['false']:.1f}% ({s['false_count']}/{reps}, "
            f"{_wilson(s['false_count'], reps)}) | "
            f"{pct * s['cover95']:.1f}% ({_se(s['cover95'], s['cells'], pct)}) | "
            f"{pct * s['simultaneous']:.1f}% | {power} | {pct * s['comparable']:.0f}% | "
            f"{s['log_width']:.2f} |"
        )


def _wilson(hits: int, count: int, level: float = 0.95) -> str:
    """The 95% Wilson interval of a rate of ``hits`` in ``count`` trials, in percent."""
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(hits, max(count, 1), alpha=1.0 - level, method="wilson")
    return f"{100 * lo:.1f}-{100 * hi:.1f}%"


def _se(rate: float, count: int, scale: float = 1.0) -> str:
    """Binomial Monte Carlo standard error of a rate estimated from ``count`` trials."""
    return f"MC SE {scale * np.sqrt(rate * (1.0 - rate) / max(count, 1)):.2g}"


def _fmt(a: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in np.ravel(a)) + "]"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reps", type=int, default=200, help="simulated studies (each: alt + null)")
    p.add_argument("--n", type=int, default=50, help="faces (pairs) per study")
    p.add_argument("--dim", type=int, default=80, help="latent / first space dimension")
    p.add_argument("--attributes", type=int, default=2, help="attributes per study")
    p.add_argument("--shift", type=float, default=1.0, help="planted shift (SD units)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--truth-reps", type=int, default=200, help="studies for the estimand")
    p.add_argument("--groups", type=int, default=Settings.groups, help="jackknife groups of faces")
    p.add_argument(
        "--splits",
        type=int,
        default=Settings.splits,
        help="cross-fit halvings of the variance correction (0: plain jackknife)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes (results do not depend on it)",
    )
    p.add_argument(
        "--cross",
        action="store_true",
        help="calibrate the cross-space ratio instead (n defaults to 96, dim to 16, "
        "truth-reps to 400): false verdicts, coverage, power at --ratios",
    )
    p.add_argument(
        "--ratios", default="1.5,2,3", help="planted relative reactions of the --cross power study"
    )
    p.add_argument(
        "--ref-shift",
        type=float,
        default=2.5,
        help="the reference distortion's shift of the --cross study (SD units)",
    )
    p.add_argument(
        "--cache",
        default=None,
        help="folder keeping each --cross study's cells (re-runs with other verdict rules "
        "read them instead of recomputing)",
    )
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    if a.cross:
        n = 96 if a.n == p.get_default("n") else a.n
        dim = 16 if a.dim == p.get_default("dim") else a.dim
        truth = 400 if a.truth_reps == p.get_default("truth_reps") else a.truth_reps
        ratios = tuple(float(x) for x in a.ratios.split(","))
        r = run_cross(
            a.seed,
            a.reps,
            n,
            dim,
            a.attributes,
            a.shift,
            a.ref_shift,
            ratios,
            a.alpha,
            truth,
            a.workers,
            a.cache,
        )
        print_cross(r, a.reps, a.seed, n, dim, a.alpha)
        print(f"time: {time.perf_counter() - t0:.0f} s")
        return 0
    r = run(
        a.seed,
        a.reps,
        a.n,
        a.dim,
        a.attributes,
        a.shift,
        a.alpha,
        a.truth_reps,
        a.workers,
        a.groups,
        a.splits,
    )
    pct = 100.0
    print(
        f"settings: seed={a.seed} reps={a.reps} n={a.n} dim={a.dim} spaces=({a.dim}, "
        f"{max(a.dim // 2, 2)}, {SMALL_DIM}) attributes={a.attributes} shift={a.shift} "
        f"family={r['family']} tests (Holm) n_perm={r['n_perm']} jackknife groups={min(a.groups, a.n)} "
        f"cross-fit splits={a.splits}"
    )
    print(
        f"coverage of 95% intervals for theta = E[S]: {pct * r['coverage']:.1f}% "
        f"({_se(r['coverage'], r['cells'], pct)}) over {r['cells']} cells (target 93-97%); at "
        f"the null (theta = 0): {pct * r['coverage_null']:.1f}% over {a.reps} cells"
    )
    print(
        f"  per cell (attribute x space): {_fmt(pct * r['coverage_per_cell'])}%; the plain "
        f"(uncorrected) jackknife: {pct * r['coverage_jackknife']:.1f}%"
    )
    tests = a.reps * r["family"]
    print(
        f"null rejection after Holm over the family at alpha={a.alpha}: {r['null_fwer']:.3f} "
        f"({_se(r['null_fwer'], a.reps)}; family-wise, target <= {a.alpha})"
    )
    print(
        f"null rejection per test, uncorrected: {r['null_per_test']:.3f} "
        f"({_se(r['null_per_test'], tests)}; target [0.02, 0.08])"
    )
    print(
        f"power for the planted shift ({a.shift} SD), after Holm: {r['power']:.3f} "
        f"({_se(r['power'], tests)})"
    )
    print(
        f"estimand theta per cell (attribute x space): {_fmt(r['theta'])} "
        f"(MC SE {_fmt(r['theta_se'])})"
    )
    print(
        f"population FD ||M delta||^2: {_fmt(r['population_fd'])}; mean raw FD(1): "
        f"{_fmt(r['mean_fd1'])}; mean FD-inf change: {_fmt(r['mean_fd_inf_change'])}; "
        f"mean unbiased mean term: {_fmt(r['mean_unbiased_mean_term'])}"
    )
    print(f"time: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
