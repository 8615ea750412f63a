"""Verification of an edited set: did the edit move its attribute, and little else?

For matched pairs (base i, twin i) every scorer is run on both sets; the paired score
differences give the mean shift with a confidence interval (t-based or bootstrap) and a
standardised effect (shift / SD of the base scores). The target scorer should move;
every other scorer's shift is leakage. Identity preservation is the ArcFace cosine
between each twin and its base. Parsing agreement (recorded for interventions that ask for it,
`verify_parsing = True`: the distortions) is, per pair, the fraction of parser-frame pixels
whose face-parsing class is the same in base and twin (1: the same segmentation; in the image
frame, so a flip or rotation lowers it). Flags carry human-readable reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy import stats

from counterfactual.interventions.directions import score_images

if TYPE_CHECKING:  # the config validates interventions: it is imported only for the defaults
    from counterfactual.config import VerificationConfig

IDENTITY_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass
class ShiftResult:
    """Paired shift of one scorer: twin minus base."""

    scorer: str
    n: int
    mean_base: float
    mean_twin: float
    shift: float
    ci_low: float
    ci_high: float
    sd_base: float
    effect: float  # shift / sd_base
    p_value: float  # paired t-test, H0: no shift
    method: str

    @property
    def ci_excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


@dataclass
class IdentityResult:
    """A per-pair similarity twin vs base (ArcFace cosine; parsing agreement): its summary."""

    n: int
    mean: float
    min: float
    quantiles: dict[str, float]


@dataclass
class Flag:
    code: str  # target_missing | target_too_small | leakage | low_identity
    message: str


@dataclass
class VerificationResult:
    target: str | None
    target_shift: ShiftResult | None
    leakage: dict[str, ShiftResult]
    identity: IdentityResult | None
    thresholds: VerificationConfig
    flags: list[Flag] = field(default_factory=list)
    parsing_agreement: IdentityResult | None = None

    @property
    def passed(self) -> bool:
        return not self.flags

    def to_dict(self) -> dict[str, Any]:
        out = {
            "target": self.target,
            "passed": self.passed,
            "target_shift": asdict(self.target_shift) if self.target_shift else None,
            "leakage": {k: asdict(v) for k, v in self.leakage.items()},
            "identity": asdict(self.identity) if self.identity else None,
            "thresholds": self.thresholds.thresholds(),
            "flags": [asdict(f) for f in self.flags],
        }
        if self.parsing_agreement is not None:  # measured only where asked for
            out["parsing_agreement"] = asdict(self.parsing_agreement)
        return out


def mean_ci(
    d: np.ndarray, ci: float = 0.95, method: str = "t", n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """CI of the mean of `d`: Student t, or percentile bootstrap (seeded)."""
    d = np.asarray(d, dtype=np.float64)
    n = d.size
    if n < 2:
        return (float("nan"), float("nan"))
    m = float(d.mean())
    if method == "t":
        half = stats.t.ppf(0.5 + ci / 2, n - 1) * d.std(ddof=1) / np.sqrt(n)
        return m - float(half), m + float(half)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for b in range(n_boot):
        means[b] = d[rng.integers(0, n, n)].mean()
    lo, hi = np.quantile(means, [0.5 - ci / 2, 0.5 + ci / 2])
    return float(lo), float(hi)


def paired_shift(
    name: str, base: np.ndarray, twin: np.ndarray, th: VerificationConfig
) -> ShiftResult:
    """Mean twin - base score difference over pairs where both scores are finite."""
    base, twin = np.asarray(base, np.float64), np.asarray(twin, np.float64)
    ok = np.isfinite(base) & np.isfinite(twin)
    b, t = base[ok], twin[ok]
    d = t - b
    n = int(d.size)
    shift = float(d.mean()) if n else float("nan")
    lo, hi = mean_ci(d, th.ci, th.method, th.n_boot, th.seed)
    sd = float(b.std(ddof=1)) if n > 1 else 0.0
    if sd == 0.0 and n > 1:
        sd = float(np.concatenate([b, t]).std(ddof=1))
    if sd > 0:
        effect = shift / sd
    else:
        effect = 0.0 if shift == 0 or not np.isfinite(shift) else float(np.sign(shift)) * np.inf
    if n > 1 and d.std(ddof=1) > 0:
        p = float(stats.ttest_1samp(d, 0.0).pvalue)
    else:
        p = 1.0 if (n == 0 or shift == 0) else 0.0
    return ShiftResult(
        scorer=name,
        n=n,
        mean_base=float(b.mean()) if n else float("nan"),
        mean_twin=float(t.mean()) if n else float("nan"),
        shift=shift,
        ci_low=lo,
        ci_high=hi,
        sd_base=sd,
        effect=effect,
        p_value=p,
        method=th.method,
    )


def _fmt(r: ShiftResult, ci: float) -> str:
    return (
        f"moved by {r.shift:+.4g} ({ci:.0%} CI [{r.ci_low:.4g}, {r.ci_high:.4g}]; "
        f"{r.effect:+.2f} SD of base scores; n={r.n})"
    )


def pair_summary(values: Any) -> IdentityResult | None:
    """Mean, min and quantiles of per-pair values (non-finite ones dropped; None if none left)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    q = np.quantile(v, IDENTITY_QUANTILES)
    return IdentityResult(
        n=int(v.size),
        mean=float(v.mean()),
        min=float(v.min()),
        quantiles={
            f"q{int(p * 100):02d}": float(x) for p, x in zip(IDENTITY_QUANTILES, q, strict=True)
        },
    )


def parsing_agreement(base_labels: np.ndarray, twin_labels: np.ndarray) -> np.ndarray:
    """Per pair: the fraction of pixels whose parsing class is the same in both class maps."""
    a, b = np.asarray(base_labels), np.asarray(twin_labels)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"class maps must both be [N, S, S], got {a.shape} and {b.shape}")
    return (a == b).mean(axis=(1, 2), dtype=np.float64)


def _default_thresholds() -> VerificationConfig:
    """The config's default `[verification]` thresholds."""
    from counterfactual.config import VerificationConfig

    return VerificationConfig()


def verify_intervention(
    base_images: torch.Tensor,
    twin_images: torch.Tensor,
    scorers: Mapping[str, Callable[[torch.Tensor], Any]],
    target: str | None,
    identity: Callable[[torch.Tensor, torch.Tensor], Any] | None = None,
    thresholds: VerificationConfig | None = None,
    parsing: Callable[[torch.Tensor, torch.Tensor], Any] | None = None,
) -> VerificationResult:
    """Target shift, leakage into every other scorer, identity preservation, and flags;
    `parsing(base, twin)` (per-pair agreement) is summarised when given, never flagged."""
    th = thresholds or _default_thresholds()
    if len(base_images) != len(twin_images):
        raise ValueError(f"{len(base_images)} base images but {len(twin_images)} twins")
    if len(base_images) < 2:
        raise ValueError("verification needs at least 2 pairs")
    shifts = {
        name: paired_shift(name, score_images(fn, base_images), score_images(fn, twin_images), th)
        for name, fn in scorers.items()
    }
    flags: list[Flag] = []
    target_shift = shifts.get(target) if target else None
    if target and target_shift is None:
        flags.append(
            Flag(
                "target_missing",
                f"target scorer {target!r} is not among the available "
                f"scorers ({', '.join(scorers) or 'none'}): the edit cannot be verified",
            )
        )
    if target_shift is not None:
        too_small = (
            abs(target_shift.effect) < th.min_target_effect or not target_shift.ci_excludes_zero
        )
        if th.min_target_shift is not None and not abs(target_shift.shift) >= th.min_target_shift:
            too_small = True
        if too_small:
            need = f"{th.min_target_effect} SD"
            if th.min_target_shift is not None:
                need += f" and {th.min_target_shift:g} in score units"
            flags.append(
                Flag(
                    "target_too_small",
                    f"target scorer {target!r} {_fmt(target_shift, th.ci)}; "
                    f"needs at least {need} with a CI excluding 0: the edit may not change "
                    "the attribute",
                )
            )
    leakage = {k: v for k, v in shifts.items() if k != target}
    for name, r in leakage.items():
        if abs(r.effect) > th.max_leakage_effect and r.ci_excludes_zero:
            flags.append(
                Flag(
                    "leakage",
                    f"scorer {name!r} {_fmt(r, th.ci)}, more than the "
                    f"{th.max_leakage_effect} SD allowed: the edit also changes {name}",
                )
            )
    ident = None
    if identity is not None:
        ident = pair_summary(identity(base_images, twin_images))
        if ident is not None:
            if ident.mean < th.min_identity:
                flags.append(
                    Flag(
                        "low_identity",
                        f"mean identity cosine twin vs base is {ident.mean:.3f} "
                        f"(median {ident.quantiles['q50']:.3f}), below {th.min_identity}: "
                        "the twins look like different people",
                    )
                )
        else:
            flags.append(
                Flag("low_identity", "identity similarity could not be computed for any pair")
            )
    agreement = pair_summary(parsing(base_images, twin_images)) if parsing is not None else None
    return VerificationResult(
        target=target,
        target_shift=target_shift,
        leakage=leakage,
        identity=ident,
        thresholds=th,
        flags=flags,
        parsing_agreement=agreement,
    )
