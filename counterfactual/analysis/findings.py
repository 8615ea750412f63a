"""The headline findings of a sweep, computed from the analysis tables (no new statistics).

`sweep_findings` reads the effects table (per attribute x space: FD(1)/FD(0) with its
interval), the cross-space reactions, the null table and the verification records, and
returns what a reader needs first:

- per attribute, the trained spaces that react most and least (by the point estimate of a
  scale-free measure, `MEASURES`: the cross-space table's relative reaction when the analysis
  gives one, else FD(1)/FD(0)) with their intervals, whether those intervals separate them,
  and the trained spaces with a detectable effect (`_detectable`);
- the edits whose verification failed or could not be done (`verification_status`);
- caveats: sample size (faces, pairs per draw, draws, spaces whose dimension exceeds the pairs
  per draw), the bias floor FD(0) of each trained space, weak learned directions and the
  untrained spaces left out of every comparison.

Untrained (random-weight) spaces never enter a comparison; they are listed as a caveat.
The wording is the report's job (`counterfactual.report.headline`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Measure:
    """A scale-free per-space number the findings compare across spaces, in some table."""

    value: str
    low: str
    high: str
    label: str
    null: float = 1.0  # its value when a space does not react (or reacts like the rest)


# Registry, in order of preference: the cross-space table's relative reaction (each trained
# space against the other trained spaces), else the effects table's sensitivity S (the FD
# change from Δ=0 to Δ=1, floor removed; not scale-free, so only used without a cross-space
# table), else a legacy table's FD(1)/FD(0).
MEASURES: dict[str, Measure] = {
    "relative": Measure(
        "relative",
        "relative_ci_low",
        "relative_ci_high",
        "reaction relative to the other trained spaces",
    ),
    "sensitivity": Measure(
        "sensitivity",
        "sensitivity_ci_low",
        "sensitivity_ci_high",
        "sensitivity S (FD change from Δ=0 to Δ=1, floor removed)",
        null=0.0,
    ),
    "ratio_to_null": Measure("ratio_to_null", "ratio_ci_low", "ratio_ci_high", "FD(1)/FD(0)"),
}


def _effects_measure(effects: pd.DataFrame) -> Measure:
    """The first effects-table measure whose columns the table has."""
    for key in ("sensitivity", "ratio_to_null"):
        m = MEASURES[key]
        if {m.value, m.low, m.high} <= set(effects.columns):
            return m
    raise KeyError("effects table has neither sensitivity nor FD(1)/FD(0) columns")


VERIFIED, NOT_VERIFIABLE, FLAGGED, REFERENCE = (
    "verified",
    "not verifiable",
    "flagged",
    "reference distortion",
)
WEAK_DIRECTION_ACCURACY = 0.75  # held-out balanced accuracy of a learned direction below this: weak


@dataclass(frozen=True)
class Estimate:
    """One space's sensitivity to one attribute."""

    space: str
    label: str
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class AttributeFinding:
    """Which trained spaces react most and least to one attribute."""

    intervention: str
    most: Estimate
    least: Estimate
    n_spaces: int
    detectable: tuple[str, ...]  # labels of spaces with a detectable effect
    over: tuple[str, ...] = ()  # cross-space verdicts
    under: tuple[str, ...] = ()
    measure: str = MEASURES["sensitivity"].label
    detect_rule: str = "interval above 1"

    @property
    def separated(self) -> bool:
        """The most and least reactive spaces' intervals do not overlap."""
        return bool(self.most.low > self.least.high)


@dataclass(frozen=True)
class VerificationFinding:
    """An edit whose verification did not simply pass."""

    intervention: str
    status: str
    messages: tuple[str, ...]


@dataclass(frozen=True)
class DirectionQuality:
    """How well a learned latent direction separates its attribute (from the manifest):
    balanced accuracy (mean per-class recall) and AUC on held-out samples."""

    intervention: str
    scorer: str
    held_out_balanced_accuracy: float
    train_balanced_accuracy: float
    n_held_out: int
    n_train: int
    held_out_auc: float = float("nan")
    rule: str = "quantile"

    @property
    def weak(self) -> bool:
        return bool(self.held_out_balanced_accuracy < WEAK_DIRECTION_ACCURACY)


@dataclass(frozen=True)
class Floor:
    """FD at Δ = 0 in one trained space (mean over edits): the finite-sample bias floor."""

    space: str
    label: str
    fd0: float
    sd0: float


@dataclass
class Findings:
    attributes: list[AttributeFinding] = field(default_factory=list)
    verification: list[VerificationFinding] = field(default_factory=list)
    weak_directions: list[DirectionQuality] = field(default_factory=list)
    floors: list[Floor] = field(default_factory=list)
    n_faces: int | None = None
    pairs_per_draw: int | None = None
    draws: int | None = None
    undersampled: list[tuple[str, int]] = field(default_factory=list)  # (label, dim > pairs)
    untrained: list[str] = field(default_factory=list)  # labels
    no_trained_spaces: bool = False


def verification_status(record: Mapping[str, Any] | None, reference: bool = False) -> str | None:
    """verified / not verifiable / flagged / reference distortion (None without a record).

    A reference distortion (the full-image blur that normalises the region edits) is expected
    to move every scorer, so its flags are not failures. An edit without a target scorer
    cannot be verified even when nothing leaked.
    """
    if record is None:
        return None
    if reference:
        return REFERENCE
    if record.get("flags") or not record.get("passed", True):
        return FLAGGED
    if not record.get("target") or not record.get("target_shift"):
        return NOT_VERIFIABLE
    return VERIFIED


def direction_quality(key: str, prepared: Mapping[str, Any] | None) -> DirectionQuality | None:
    """Held-out and training balanced accuracy (and held-out AUC) of a learned direction, from
    the intervention's prepared description in the manifest (None for edits without a learned
    direction). Manifests from before the labelling rules hold plain accuracy of two equal
    classes (the quantile rule), which is the balanced accuracy there."""
    prov = ((prepared or {}).get("direction") or {}).get("provenance") or {}
    held = prov.get("held_out_balanced_accuracy", prov.get("held_out_accuracy"))
    if held is None:
        return None
    train = prov.get("train_balanced_accuracy", prov.get("train_accuracy", np.nan))
    return DirectionQuality(
        key,
        str(prov.get("scorer", "")),
        float(held),
        float(train),
        int(prov.get("n_held_out", 0)),
        int(prov.get("n_train", 0)),
        float(prov.get("held_out_auc", np.nan)),
        str((prov.get("labelling") or {}).get("rule", "quantile")),
    )


def _estimates(table: pd.DataFrame, m: Measure) -> list[Estimate]:
    out = []
    for r in table.itertuples(index=False):
        v = float(getattr(r, m.value))
        if np.isfinite(v):
            out.append(
                Estimate(
                    r.space, r.space_label, v, float(getattr(r, m.low)), float(getattr(r, m.high))
                )
            )
    return out


def _detectable(effects: pd.DataFrame) -> tuple[pd.Series, str]:
    """Which rows show a detectable effect, and the rule: the analysis' own verdict
    ("detected" = "yes": test and interval agree) or its Holm-corrected test where the effects
    table has them, else FD(1)/FD(0)'s interval lying above 1."""
    if "detected" in effects:
        return effects["detected"].astype(
            str
        ) == "yes", "the Holm-corrected test and the interval agree"
    if "reject_holm" in effects:
        return effects["reject_holm"].astype(bool), "Holm-corrected test rejects no effect"
    m = _effects_measure(effects)
    return effects[m.low] > m.null, f"interval of the {m.label} above {m.null:g}"


def _comparison(
    effects: pd.DataFrame, cross_space: pd.DataFrame | None
) -> tuple[pd.DataFrame, Measure]:
    if cross_space is not None and not cross_space.empty and "relative" in cross_space:
        return cross_space, MEASURES["relative"]
    return effects, _effects_measure(effects)


def _trained(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["trained"].astype(bool)]


def attribute_findings(
    effects: pd.DataFrame,
    reactions: pd.DataFrame | None = None,
    order: Sequence[str] = (),
    cross_space: pd.DataFrame | None = None,
) -> list[AttributeFinding]:
    """Most/least reactive trained space per attribute (attributes in `order` first), by the
    first available `MEASURES` entry; verdicts from the cross-space table (else `reactions`)."""
    table, measure = _comparison(effects, cross_space)
    verdicts = table if measure is MEASURES["relative"] else reactions
    trained = _trained(table)
    hit, rule = _detectable(effects)
    detected = effects[hit & effects["trained"].astype(bool)]
    keys = [k for k in order if k in set(trained["intervention"])]
    keys += [k for k in dict.fromkeys(trained["intervention"]) if k not in keys]
    out = []
    for key in keys:
        est = sorted(
            _estimates(trained[trained["intervention"] == key], measure), key=lambda e: -e.value
        )
        if not est:
            continue
        over: tuple[str, ...] = ()
        under: tuple[str, ...] = ()
        if verdicts is not None and not verdicts.empty:
            part = _trained(verdicts[verdicts["intervention"] == key])
            over = tuple(part.loc[part["reaction"] == "over", "space_label"])
            under = tuple(part.loc[part["reaction"] == "under", "space_label"])
        found = set(detected.loc[detected["intervention"] == key, "space"])
        out.append(
            AttributeFinding(
                key,
                est[0],
                est[-1],
                len(est),
                tuple(e.label for e in est if e.space in found),
                over,
                under,
                measure.label,
                rule,
            )
        )
    return out


def sweep_findings(
    effects: pd.DataFrame | None,
    reactions: pd.DataFrame | None,
    null: pd.DataFrame | None,
    verification: Mapping[str, Mapping[str, Any]],
    *,
    spaces: Sequence[tuple[str, str, bool]],
    order: Sequence[str] = (),
    cross_space: pd.DataFrame | None = None,
    reference: str | None = None,
    prepared: Mapping[str, Any] | None = None,
    n_faces: int | None = None,
    pairs_per_draw: int | None = None,
    draws: int | None = None,
    dims: Mapping[str, int] | None = None,
) -> Findings:
    """Everything the findings box says (see the module docstring).

    `spaces`: (name, label, trained) in run order; `order`: intervention keys in config
    order; `reference`: the region reference distortion's key; `prepared`: the manifest's
    prepared intervention descriptions; `dims`: feature dimension per space name.
    """
    f = Findings(n_faces=n_faces, pairs_per_draw=pairs_per_draw, draws=draws)
    f.untrained = [label for _, label, trained in spaces if not trained]
    f.no_trained_spaces = not any(trained for *_, trained in spaces)
    if effects is not None and not effects.empty:
        f.attributes = attribute_findings(effects, reactions, order, cross_space)
    keys = [k for k in order if k in verification] + [k for k in verification if k not in order]
    for key in keys:
        record = verification[key]
        status = verification_status(record, reference=key == reference)
        if status in (FLAGGED, NOT_VERIFIABLE):
            msgs = tuple(
                str(fl.get("message", fl.get("code", ""))) for fl in record.get("flags") or []
            )
            f.verification.append(VerificationFinding(key, status, msgs))
    for key, desc in (prepared or {}).items():
        q = direction_quality(key, desc)
        if q is not None and q.weak:
            f.weak_directions.append(q)
    floors = null if null is not None and not null.empty else effects
    value = "null_mean" if floors is not None and "null_mean" in floors else "fd0"
    if floors is not None and not floors.empty and value in floors:
        labels = {name: label for name, label, _ in spaces}
        for name, part in _trained(floors).groupby("space", sort=False):
            sd = float(part["null_sd"].mean()) if "null_sd" in part else float("nan")
            f.floors.append(Floor(name, labels.get(name, name), float(part[value].mean()), sd))
        rank = {name: i for i, (name, *_rest) in enumerate(spaces)}
        f.floors.sort(key=lambda fl: rank.get(fl.space, 1e9))
    if pairs_per_draw and dims:
        f.undersampled = [
            (label, int(dims[name]))
            for name, label, trained in spaces
            if trained and name in dims and int(dims[name]) >= pairs_per_draw
        ]
    return f


# ---- rank runs --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Leader:
    """The generator ranked first by FD in one trained space, and its paired difference with
    the runner-up (`counterfactual.rank.paired`: leader minus runner-up, bias-corrected)."""

    space: str
    label: str
    generator: str
    value: float
    low: float
    high: float
    stability: float  # share of bootstrap replicates keeping rank 1
    runner_up: str | None
    diff: float | None = None  # FD(leader) - FD(runner-up), with its interval
    diff_low: float | None = None
    diff_high: float | None = None

    @property
    def verdict(self) -> str:
        """ "established" (the paired interval lies below 0), "reversed" (above 0: the
        bias-corrected difference puts the runner-up ahead), "open" (it holds 0), or
        "unknown" (no paired difference in the run, or no runner-up)."""
        if self.runner_up is None or self.diff_low is None or self.diff_high is None:
            return "unknown"
        if self.diff_high < 0:
            return "established"
        if self.diff_low > 0:
            return "reversed"
        return "open"


@dataclass
class RankFindings:
    leaders: list[Leader] = field(default_factory=list)
    tau_min: float | None = None  # Kendall τ of the FD rankings over pairs of trained spaces
    tau_max: float | None = None  # (None with fewer than MIN_TAU_GENERATORS generators)
    n_generators: int = 0
    n_generator_images: int | None = None
    untrained: list[str] = field(default_factory=list)
    reference_real: bool = False
    resolutions: dict[str, int] = field(default_factory=dict)  # set -> working resolution (px)

    @property
    def resolution_mismatch(self) -> bool:
        return len(set(self.resolutions.values())) > 1


def rank_findings(
    rankings: pd.DataFrame,
    tau: pd.DataFrame | None,
    spaces: Sequence[tuple[str, str, bool]],
    reference_real: bool = False,
    paired: pd.DataFrame | None = None,
    resolutions: Mapping[str, int] | None = None,
) -> RankFindings:
    """Per trained space, the FD leader with its interval, stability and its paired difference
    with the runner-up (from `paired`, tables/paired_differences); the range of Kendall τ
    between trained spaces' FD rankings (only with at least `MIN_TAU_GENERATORS` generators:
    with two, τ is ±1 by construction); the untrained spaces left out; the sets' resolutions."""
    from counterfactual.analysis.rank_agreement import MIN_TAU_GENERATORS, paired_lookup

    f = RankFindings(
        untrained=[label for _, label, t in spaces if not t],
        reference_real=reference_real,
        resolutions=dict(resolutions or {}),
    )
    fd = rankings[(rankings["metric"] == "fd") & rankings["trained"].astype(bool)]
    f.n_generators = int(fd["generator"].nunique())
    for name, label, trained in spaces:
        part = fd[fd["space"] == name].sort_values("rank", kind="stable")
        if not trained or part.empty:
            continue
        first = part.iloc[0]
        second = str(part.iloc[1]["generator"]) if len(part) > 1 else None
        d = (
            None
            if second is None or paired is None
            else paired_lookup(paired, "fd", name, str(first["generator"]), second)
        )
        f.leaders.append(
            Leader(
                name,
                label,
                str(first["generator"]),
                float(first["value"]),
                float(first["ci_low"]),
                float(first["ci_high"]),
                float(first["stability"]),
                second,
                *((d["diff"], d["lo"], d["hi"]) if d else ()),
            )
        )
    if tau is not None and not tau.empty and f.n_generators >= MIN_TAU_GENERATORS:
        t = tau[
            (tau["metric"] == "fd")
            & tau["trained_a"].astype(bool)
            & tau["trained_b"].astype(bool)
            & (tau["space_a"] != tau["space_b"])
        ]["tau"].to_numpy(np.float64)
        t = t[np.isfinite(t)]
        if t.size:
            f.tau_min, f.tau_max = float(t.min()), float(t.max())
    return f
