"""The findings box in words: `counterfactual.analysis.findings` turned into hedged sentences.

Every sentence carries the numbers it rests on, with intervals, in the report's notation;
an order of spaces is only asserted when their intervals separate them.
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup

from counterfactual.analysis.findings import NOT_VERIFIABLE, Findings, Leader, RankFindings
from counterfactual.report.numbers import count, estimate, num, pct


def _b(text: str) -> Markup:
    return Markup("<b>{}</b>").format(text)


UNBOUNDED_RATIO = 1e6  # an interval whose ends differ by more: the ratio is not bounded


def ratio_estimate(value: float, low: float, high: float) -> str:
    """A relative reaction with its interval, or, when the interval spans more than
    `UNBOUNDED_RATIO` (its denominator is indistinguishable from 0), the point estimate with
    "interval unbounded" instead of numbers such as [1e-22, 3e17]."""
    if low > 0 and high / low > UNBOUNDED_RATIO:
        return f"{num(value)}, interval unbounded"
    return estimate(value, low, high)


def _join(items: list[str] | tuple[str, ...]) -> Markup:
    return Markup(", ").join(_b(i) for i in items)


def _attribute_lines(f: Findings, titles: Mapping[str, str]) -> list[Markup]:
    lines = []
    for a in f.attributes:
        title = titles.get(a.intervention, a.intervention)
        m, lo = a.most, a.least
        if a.n_spaces == 1:
            text = Markup("{}: only {} was compared: {} = {}.").format(
                _b(title), _b(m.label), a.measure, estimate(m.value, m.low, m.high)
            )
        else:
            text = Markup("{}: {} reacts most ({} = {}), {} least ({}); ").format(
                _b(title),
                _b(m.label),
                a.measure,
                ratio_estimate(m.value, m.low, m.high),
                _b(lo.label),
                ratio_estimate(lo.value, lo.low, lo.high),
            )
            text += (
                "the intervals do not overlap."
                if a.separated
                else "the intervals overlap, so this order is not established."
            )
        if a.detectable:
            text += Markup(" Detectable effect ({}): {}.").format(
                a.detect_rule, _join(a.detectable)
            )
        else:
            text += Markup(" No trained space shows a detectable effect ({}).").format(
                a.detect_rule
            )
        if a.over:
            text += Markup(" Over-reacts relative to the other trained spaces: {}.").format(
                _join(a.over)
            )
        if a.under:
            text += Markup(" Under-reacts: {}.").format(_join(a.under))
        lines.append(text)
    return lines


def _verification_lines(f: Findings, titles: Mapping[str, str]) -> list[Markup]:
    lines = []
    unverifiable = [
        titles.get(v.intervention, v.intervention)
        for v in f.verification
        if v.status == NOT_VERIFIABLE
    ]
    for v in f.verification:
        if v.status == NOT_VERIFIABLE:
            continue
        reasons = "; ".join(v.messages) or "see its section"
        lines.append(
            Markup("{} failed verification ({}): {}.").format(
                _b(titles.get(v.intervention, v.intervention)), v.status, reasons
            )
        )
    if unverifiable:
        lines.append(
            Markup(
                "Not verifiable (no target scorer, so nothing shows the edit did "
                "what it should): {}."
            ).format(_join(unverifiable))
        )
    for q in f.weak_directions:
        lines.append(
            Markup(
                "The {} direction is weak: held-out balanced accuracy {} (AUC {}, "
                "n = {}; training {}), so its twins may change the attribute only "
                "partly."
            ).format(
                _b(titles.get(q.intervention, q.intervention)),
                num(q.held_out_balanced_accuracy),
                num(q.held_out_auc),
                count(q.n_held_out),
                num(q.train_balanced_accuracy),
            )
        )
    return lines


def _untrained_line(labels: list[str]) -> Markup:
    one = len(labels) == 1
    return Markup(
        "{} {} random weights and {} left out of every comparison above; {} numbers "
        "show how a random network reacts."
    ).format(
        _join(labels), "uses" if one else "use", "is" if one else "are", "its" if one else "their"
    )


def _caveat_lines(f: Findings) -> list[Markup]:
    lines = []
    if f.n_faces:
        text = Markup(
            "Sample size: {} faces; each FD uses {} pairs per draw, {} draws (draws "
            "re-use the same faces, so they are not independent)."
        ).format(count(f.n_faces), count(f.pairs_per_draw), count(f.draws))
        if f.undersampled:
            text += Markup(
                " {} have at least as many dimensions as pairs per draw: their "
                "covariances are rank-deficient and FD is dominated by sample size; "
                "compare ratios, not raw FDs."
            ).format(
                Markup(", ").join(
                    Markup("{} ({}-d)").format(_b(lab), dim) for lab, dim in f.undersampled
                )
            )
        lines.append(text)
    if f.floors:
        parts = Markup(", ").join(
            Markup("{} in {}").format(num(fl.fd0), _b(fl.label)) for fl in f.floors
        )
        lines.append(
            Markup(
                "Bias floor: at Δ = 0 both sets hold the same mix of faces, yet FD is "
                "already {}; the sensitivity S subtracts this floor (S = FD(base, twin) "
                "minus the mean FD over within-pair swaps), so it sits near 0 without an "
                "effect; spaces are compared through scale-free profiles, never raw "
                "FDs."
            ).format(parts)
        )
    if f.untrained:
        lines.append(_untrained_line(f.untrained))
    if f.no_trained_spaces:
        lines.append(Markup("No trained feature space in this run: nothing can be compared."))
    return lines


def headline(f: Findings, titles: Mapping[str, str]) -> dict[str, list[Markup]]:
    """The findings box's three lists: results, verification, caveats."""
    return {
        "results": _attribute_lines(f, titles),
        "verification": _verification_lines(f, titles),
        "caveats": _caveat_lines(f),
    }


def _lead_text(ld: Leader) -> Markup:
    """How the leader's paired difference with the runner-up reads (never from overlapping
    marginal intervals)."""
    if ld.runner_up is None:
        return Markup(".")
    diff = estimate(ld.diff, ld.diff_low, ld.diff_high) if ld.diff is not None else ""
    return {
        "established": Markup(
            "; paired with {}, its FD is lower by {} (bias-corrected paired "
            "difference), so the lead is established."
        ).format(
            ld.runner_up,
            estimate(-ld.diff, -ld.diff_high, -ld.diff_low) if ld.diff is not None else "",
        ),
        "reversed": Markup(
            "; but the bias-corrected paired difference with {} is {} (above 0): "
            "{} is closer once each FD's finite-sample bias is removed, so the "
            "plain order is a sample-size artefact."
        ).format(ld.runner_up, diff, ld.runner_up),
        "open": Markup(
            "; the paired difference with {} is {}, which includes 0, so the lead is "
            "not established."
        ).format(ld.runner_up, diff),
        "unknown": Markup(
            "; this run has no paired differences (re-run the rank command), so "
            "no lead over {} is stated."
        ).format(ld.runner_up),
    }[ld.verdict]


def rank_headline(f: RankFindings) -> dict[str, list[Markup]]:
    """The rank report's findings box: leaders per trained space, agreement, caveats."""
    results = []
    for ld in f.leaders:
        text = Markup("{}: {} ranks first (FD {}, rank kept in {} of bootstrap replicates)").format(
            _b(ld.label), _b(ld.generator), estimate(ld.value, ld.low, ld.high), pct(ld.stability)
        )
        results.append(text + _lead_text(ld))
    if f.tau_min is not None:
        results.append(
            Markup(
                "Agreement between trained spaces' FD rankings: Kendall τ from {} "
                "to {} ({} generators; τ = 1 is the same order)."
            ).format(num(f.tau_min), num(f.tau_max), f.n_generators)
        )
    elif f.n_generators == 2 and len(f.leaders) > 1:
        firsts = sorted({ld.generator for ld in f.leaders})
        results.append(
            Markup(
                "With two generators Kendall τ between spaces is ±1 by construction "
                "(no evidence; not shown): {}."
            ).format(
                Markup("every trained space puts {} first").format(firsts[0])
                if len(firsts) == 1
                else Markup("the trained spaces disagree on which generator is first")
            )
        )
    caveats = []
    if not f.reference_real:
        caveats.append(
            Markup(
                "The reference set is not real faces (see Reference set): the "
                "ranking says which generator is closest to it, not to real data."
            )
        )
    if f.resolution_mismatch:
        sizes = ", ".join(f"{k} {v} px" for k, v in f.resolutions.items())
        caveats.append(
            Markup(
                "Resolution mismatch: {}. Every space resizes its input, so part of "
                "each FD may be resolution (upsampling blur or lost detail), not the "
                "faces themselves."
            ).format(sizes)
        )
    if f.untrained:
        caveats.append(_untrained_line(f.untrained))
    return {"results": results, "verification": [], "caveats": caveats}
