"""The report's jinja2 template (inline, so the package needs no data files) and its filters.

Every occurrence of a feature space goes through the `space` macro, which puts an
"untrained" badge next to random-weight spaces. Only data: URIs and #anchors are referenced:
the HTML file is self-contained.
"""
from __future__ import annotations

import math
from typing import Any

import jinja2

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --head:#f3f4f6; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0; background: #fafafa; font-size: 14px; line-height: 1.45; }
main { max-width: 1320px; margin: 0 auto; padding: 18px 28px 60px; background: white; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
.sub { color: var(--muted); margin: 0 0 10px; }
nav.toc { background: var(--head); border-radius: 6px; padding: 8px 14px; margin: 12px 0; font-size: 13px; }
nav.toc a { margin-right: 14px; color: #1d4ed8; text-decoration: none; white-space: nowrap; }
table.data { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
table.data th, table.data td { border: 1px solid var(--line); padding: 4px 8px; text-align: right; vertical-align: middle; }
table.data th { background: var(--head); font-weight: 600; text-align: center; }
table.data td.l, table.data th.l { text-align: left; }
table.data tr:nth-child(even) td { background: #fcfcfd; }
.ci { color: var(--muted); font-size: 12px; white-space: nowrap; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 11px; font-weight: 700;
         vertical-align: 1px; margin-left: 4px; white-space: nowrap; line-height: 17px; }
.badge.untrained { background: #fef3c7; color: #92400e; border: 1px solid #f59e0b; }
.badge.pass { background: #dcfce7; color: #166534; border: 1px solid #22c55e; }
.badge.fail { background: #fee2e2; color: #991b1b; border: 1px solid #ef4444; }
.badge.synthetic { background: #e0e7ff; color: #3730a3; border: 1px solid #818cf8; }
.space { font-weight: 600; white-space: nowrap; }
.box { border-left: 4px solid; padding: 8px 12px; margin: 10px 0; border-radius: 3px; }
.box.note { background: #eff6ff; border-color: #3b82f6; }
.box.warn { background: #fffbeb; border-color: #f59e0b; }
.box.flag { background: #fef2f2; border-color: #dc2626; }
.box ul { margin: 4px 0; padding-left: 20px; }
.grid-table td { padding: 3px 8px 3px 0; vertical-align: middle; }
.grid-table td.lab { font-weight: 600; color: var(--muted); text-align: right; width: 130px; }
img.strip { image-rendering: pixelated; display: block; max-width: 100%; }
img.fig { max-width: 100%; display: block; margin: 6px 0; }
.attr { border: 1px solid var(--line); border-radius: 8px; padding: 4px 18px 12px; margin: 18px 0; }
.attr h2 { border: none; margin-top: 14px; }
table.data td.c { text-align: center; }
td.over { background: #fee2e2 !important; } td.under { background: #dbeafe !important; }
.two { display: flex; gap: 28px; flex-wrap: wrap; align-items: flex-start; }
.two > div { flex: 1 1 520px; max-width: 640px; }
pre { background: #f8fafc; border: 1px solid var(--line); padding: 10px; font-size: 12px;
      overflow-x: auto; max-height: 420px; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ css|safe }}</style></head>
<body><main>
{%- macro space(sp) -%}
<span class="space">{{ sp.name }}</span>{% if not sp.trained %}<span class="badge untrained" title="random weights: not a trained feature space">untrained</span>{% endif %}
{%- endmacro %}
{%- macro ci(lo, hi) -%}<span class="ci">[{{ lo|num }}, {{ hi|num }}]</span>{%- endmacro %}
<h1>{{ title }}</h1>
<p class="sub">{{ subtitle }}</p>
{% if description %}<p>{{ description }}</p>{% endif %}
<p>Feature spaces:
{% for sp in spaces %}{{ space(sp) }}{% if not loop.last %}, {% endif %}{% endfor %}.
{% if any_untrained %}<span class="muted small">Spaces marked <span class="badge untrained">untrained</span>
use random weights (no trained checkpoint was available): their numbers show how a random network reacts, not a trained one.</span>{% endif %}</p>
<nav class="toc">{% for a in toc %}<a href="#{{ a.id }}">{{ a.title }}</a>{% endfor %}</nav>
{% for n in notes %}<div class="box warn">{{ n }}</div>{% endfor %}

{# ------------------------------------------------------------------ sweep ---- #}
{% for at in attributes %}
<section class="attr" id="{{ at.anchor }}">
<h2>Attribute: {{ at.key }}{% if at.synthetic %} <span class="badge synthetic">synthetic occluder</span>{% endif %}
{% if at.verification %}{% if at.verification.passed %}<span class="badge pass">verified</span>{% else %}<span class="badge fail">flagged</span>{% endif %}{% endif %}</h2>
<p class="sub">intervention <code>{{ at.name }}</code>{% if at.params %} with {{ at.params }}{% endif %}</p>
<h3>Examples: base vs counterfactual (matched pairs, same seed)</h3>
{% if at.base_strip and at.twin_strip %}
<table class="grid-table"><tr><td class="lab">base</td><td><img class="strip" src="{{ at.base_strip }}" alt="base faces"></td></tr>
<tr><td class="lab">counterfactual</td><td><img class="strip" src="{{ at.twin_strip }}" alt="counterfactual twins"></td></tr></table>
{% if at.seeds %}<p class="muted small">seeds {{ at.seeds }}</p>{% endif %}
{% else %}<p class="muted">No sample images saved for this attribute (sample_images = 0?).</p>{% endif %}

<h3>Verification</h3>
{% set v = at.verification %}
{% if v %}
<div class="two"><div>
<table class="data"><tr><th class="l">scorer</th><th>role</th><th>base mean</th><th>twin mean</th><th>shift</th><th>{{ v.ci_label }} CI</th><th>effect (SD)</th><th>p</th></tr>
{% for r in v.rows %}<tr><td class="l">{{ r.scorer }}</td><td class="l">{{ r.role }}</td><td>{{ r.mean_base|num }}</td><td>{{ r.mean_twin|num }}</td>
<td><b>{{ r.shift|num }}</b></td><td>{{ ci(r.ci_low, r.ci_high) }}</td><td>{{ r.effect|num(3) }}</td><td>{{ r.p_value|pval }}</td></tr>{% endfor %}
</table></div>
<div><table class="data"><tr><th class="l">identity (ArcFace cosine twin vs base)</th><th>value</th></tr>
{% if v.identity %}<tr><td class="l">mean</td><td>{{ v.identity.mean|num(3) }}</td></tr>
<tr><td class="l">median</td><td>{{ v.identity.quantiles.q50|num(3) }}</td></tr>
<tr><td class="l">5% quantile</td><td>{{ v.identity.quantiles.q05|num(3) }}</td></tr>
<tr><td class="l">min</td><td>{{ v.identity.min|num(3) }}</td></tr>
<tr><td class="l">pairs</td><td>{{ v.identity.n }}</td></tr>
{% else %}<tr><td class="l" colspan="2">not measured</td></tr>{% endif %}
</table></div></div>
{% if v.flags %}<div class="box flag"><b>Flags</b><ul>{% for f in v.flags %}<li><code>{{ f.code }}</code>: {{ f.message }}</li>{% endfor %}</ul></div>
{% elif v.target %}<div class="box note">No flags: the target scorer moved, no other scorer moved beyond the thresholds, and identity was kept.</div>
{% else %}<div class="box note">No target scorer for this edit (nothing to verify it against); no leakage or identity flags.</div>{% endif %}
{% else %}<p class="muted">No verification results for this attribute.</p>{% endif %}

<h3>Dose-response (FD vs prevalence gap Δ, log scale)</h3>
{% if at.dose_plot %}<img class="fig" src="{{ at.dose_plot }}" alt="dose-response plot">
<p class="muted small">Mean FD over the sweep's draws at each Δ; band: {{ ci_level }} bootstrap band over those draws. The draws
reuse the same faces, so the band is split-to-split spread, not uncertainty about other faces (the effects table has that).
Dashed: mean term ‖μ<sub>A</sub>−μ<sub>B</sub>‖², dotted: trace term. Panel titles ending in "(untrained)" are random-weight spaces.
The last panel shows each space's change from Δ = 0 as a share of its change at Δ = 1 (the curve's shape).</p>
{% else %}<p class="muted">No dose-response for this attribute.</p>{% endif %}

{% if at.effects %}
<h3>Effects per space{% if at.is_reference %} (the reference distortion){% endif %}</h3>
<table class="data"><tr><th class="l">space</th><th>FD at Δ=1</th><th>swap floor (Δ=0)</th><th>sensitivity</th><th>{{ ci_level }} CI (faces)</th>
<th>unbiased mean term</th><th>FD∞ change</th><th>SD of FD(1) over draws</th>{% if not at.is_reference %}<th>p</th><th>p (Holm)</th><th>detected</th>{% endif %}</tr>
{% for e in at.effects %}<tr><td class="l">{{ space(e.space) }}</td><td>{{ e.fd1|num }}</td><td>{{ e.fd0|num }}</td>
<td><b>{{ e.sensitivity|num }}</b></td><td>{{ ci(e.sensitivity_ci_low, e.sensitivity_ci_high) }}</td>
<td>{{ e.mean_term_unbiased|num }}</td><td>{{ e.fd_inf_change|num }}</td><td>{{ e.get("fd1_draws_sd")|num(2) }}</td>
{% if not at.is_reference %}<td>{{ e.p_text }}</td><td>{{ e.p_holm_text }}</td><td><b>{{ e.detected }}</b></td>{% endif %}</tr>{% endfor %}
</table>
<p class="muted small">Sensitivity = FD(base set, twin set) − mean FD over within-pair swaps (Δ = 0), on all {{ at.effects[0].n_pairs }} faces:
the FD change from Δ = 0 to 1 with the finite-sample floor removed (0 in expectation without an effect), in the space's own units.
CI: jackknife over faces ({{ at.stats.groups }} groups): uncertainty about other faces from the same generator.
Beside it, estimates of the population FD at Δ = 1: the unbiased mean term and FD∞ (Chong &amp; Forsyth 2020) minus its Δ = 0 value.
{% if not at.is_reference %}p: within-pair swap permutation test, {{ at.stats.n_perm }} permutations (resolution {{ at.stats.resolution }}; "≤" marks a bound:
no permutation reached the observed FD); Holm-corrected over the {{ at.stats.family }} attribute × space tests.
Detected: "yes" when the corrected test rejects and the interval lies above 0, "no" when neither, "borderline" when they disagree.{% endif %}
SD over draws: spread of the sweep's draws on the same faces (split noise).</p>
{% endif %}
</section>
{% endfor %}

{% if reactions %}
<h2 id="summary">Cross-space summary: which spaces over- or under-react</h2>
<table class="data"><tr><th class="l">attribute</th>{% for sp in reactions.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr>
{% for row in reactions.rows %}<tr><td class="l">{{ row.intervention }}</td>
{% for c in row.cells %}<td class="c {{ c.css }}">{% if c.reaction %}<b>{{ c.reaction }}</b>{% if c.relative is not none %}<br><span class="small">×{{ c.relative|num(3) }} {{ ci(c.lo, c.hi) }}</span>{% endif %}{% if c.note %}<br><span class="small">{{ c.note }}</span>{% endif %}{% else %}–{% endif %}</td>{% endfor %}</tr>{% endfor %}
</table>
<p class="muted small">Each space's sensitivity ({{ reactions.definition }}) is divided by {{ reactions.yardstick }}, measured in the
same space on the same faces; that profile is compared with the mean profile of the other trained spaces (×1 = the same).
Untrained spaces are never part of that reference; they are shown relative to the trained spaces, without a verdict.
Intervals: jackknife over faces at the simultaneous level {{ reactions.level }} (Bonferroni over the {{ reactions.n_verdicts }} verdicts).
A space <b>over-reacts</b> to an attribute (red) when the whole interval lies above 1: relative to its own yardstick its FD moves
more with the attribute than the other trained spaces' FDs do; it <b>under-reacts</b> (blue) when the interval lies below 1;
otherwise it is in line.</p>
{% endif %}

{% if region %}
<h2 id="regions">Region sensitivity</h2>
<img class="fig" src="{{ region.heatmap }}" alt="region heatmap">
<table class="data"><tr><th class="l">region</th>{% for sp in region.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr>
{% for row in region.rows %}<tr><td class="l">{{ row.region }}</td>{% for c in row.cells %}<td>{{ c.value|num(3) }}{% if c.sd is not none %} <span class="ci">± {{ c.sd|num(2) }}</span>{% endif %}</td>{% endfor %}</tr>{% endfor %}
</table>
<p class="muted small">FD(original, region distorted) / FD(original, fully distorted) per space (reference: {{ region.reference }}); ± the SD of the ratio over subsampled draws.</p>
{% endif %}

{# ------------------------------------------------------------------ rank ----- #}
{% if rank %}
<h2 id="reference">Reference set</h2>
<div class="box {{ 'note' if rank.reference_real else 'warn' }}"><b>{{ rank.reference_label }}</b>: {{ rank.reference_note }}</div>
<h3>Samples</h3>
<table class="grid-table">{% for s in rank.strips %}<tr><td class="lab">{{ s.label }}</td><td>{% if s.uri %}<img class="strip" src="{{ s.uri }}" alt="samples">{% else %}<span class="muted">no samples saved</span>{% endif %}</td></tr>{% endfor %}</table>

<h2 id="ranking">Rankings</h2>
<p class="muted small">Each generator against the reference; {{ rank.n_generator }} images per generator, {{ rank.n_reference }} reference images,
{{ rank.n_boot }} bootstrap replicates. 1 = closest to the reference. Stability: share of bootstrap replicates in which the generator keeps this rank.</p>
{% for t in rank.tables %}
<h3 id="{{ t.anchor }}">{{ t.title }}</h3>
<table class="data"><tr><th class="l">generator</th>{% for sp in rank.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr><td class="l">{{ row.generator }}</td>{% for c in row.cells %}
<td>{{ c.value|num }} {{ ci(c.lo, c.hi) }}<br><span class="small">rank <b>{{ c.rank }}</b>, stable {{ c.stability|pct }}</span></td>{% endfor %}</tr>{% endfor %}
</table>
{% if t.figure %}<img class="fig" src="{{ t.figure }}" alt="{{ t.title }}">{% endif %}
{% endfor %}
<p class="muted small">Intervals: {{ ci_level }} bootstrap percentile intervals of bias-adjusted replicates (resampling with replacement shifts FD, KID and the k-NN metrics;
the raw percentile intervals are in the tables). When every set has fewer images than a space has dimensions, FD is rank-deficient and dominated by sample size: compare only at equal n, as here.</p>

<h2 id="agreement">Agreement between spaces (Kendall τ of the rankings)</h2>
<div class="two">
{% for tm in rank.taus %}<div><h3>{{ tm.title }}</h3>
{% if tm.heatmap %}<img class="fig" src="{{ tm.heatmap }}" alt="Kendall tau heatmap">{% endif %}
<table class="data"><tr><th class="l">τ</th>{% for sp in rank.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr>
{% for row in tm.rows %}<tr><td class="l">{{ space(row.space) }}</td>{% for c in row.cells %}<td>{{ c|num(3) }}</td>{% endfor %}</tr>{% endfor %}
</table></div>{% endfor %}
</div>
<p class="muted small">τ = 1: the two spaces rank the generators identically; −1: in reverse. Blank / – : a ranking is constant.</p>

<h2 id="stability">Rank stability (FD)</h2>
<table class="data"><tr><th class="l">generator</th>{% for sp in rank.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr>
{% for row in rank.stability %}<tr><td class="l">{{ row.generator }}</td>{% for c in row.cells %}
<td>rank <b>{{ c.rank }}</b> · kept in {{ c.stability|pct }}<br><span class="small">mean rank {{ c.rank_mean|num(3) }}, {{ ci_level }} range {{ c.rank_ci_low|int }}–{{ c.rank_ci_high|int }}</span></td>{% endfor %}</tr>{% endfor %}
</table>
{% endif %}

{# --------------------------------------------------------- explained FD ----- #}
{% if explained %}
<h2 id="explained">Explained FD</h2>
<p class="muted small">How much of each generator's FD to the reference the prevalence gap of one scored attribute explains: the generated set is reweighted
(method: {{ explained.method }}) to the reference prevalence of that attribute and FD is measured again. FD drop = FD − FD after matching; share explained = drop / FD.
{{ explained.ci_label }} bootstrap percentile intervals over {{ explained.n_boot }} replicates resampling both sets.
Thresholds: {% for a, t in explained.thresholds.items() %}{{ a }} ≥ {{ t|num(3) }}{% if not loop.last %}, {% endif %}{% endfor %}.</p>
<div class="box warn" id="explained-assumptions"><b>Assumptions of the explained FD</b> (no peer tool offers this estimate; read it with these in mind)<ul>
{% for a in explained.assumptions %}<li>{{ a }}</li>{% endfor %}</ul></div>
{% if explained.prevalence %}<h3>Attribute prevalence per set</h3>
<table class="data"><tr><th class="l">set</th>{% for a in explained.attributes %}<th>{{ a }} ≥ {{ explained.thresholds[a]|num(3) }}</th>{% endfor %}</tr>
{% for row in explained.prevalence %}<tr><td class="l">{{ row.set }}{% if row.role == "reference" %} <span class="muted small">(reference)</span>{% endif %}</td>{% for c in row.cells %}
<td>{% if c %}{{ c.prevalence|pct }}<br><span class="small">mean score {{ c.mean|num(3) }}</span>{% else %}–{% endif %}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}
{% for g in explained.generators %}
<h3 id="{{ g.anchor }}">{{ g.generator }} vs reference</h3>
<table class="data"><tr><th class="l">attribute</th><th>prevalence<br>generator / reference</th><th class="l">space</th><th>FD</th><th>FD after matching</th><th>FD drop {{ explained.ci_label }}</th><th>share explained {{ explained.ci_label }}</th></tr>
{% for b in g.blocks %}{% for r in b.rows %}<tr>{% if loop.first %}<td class="l" rowspan="{{ b.rows|length }}"><b>{{ b.attribute }}</b></td>
<td rowspan="{{ b.rows|length }}">{{ b.p_gen|pct }} / {{ b.p_ref|pct }}<br><span class="small">gap {{ (100 * b.gap)|round(0)|int }} points</span></td>{% endif %}
<td class="l">{{ space(r.space) }}</td>
{% if r.status %}<td colspan="4" class="l small">{{ r.fd|num }} · not estimated: {{ r.status }}</td>
{% else %}<td>{{ r.fd|num }}</td><td>{{ r.fd_matched|num }}</td><td>{{ r.drop|num }} {{ ci(r.drop_lo, r.drop_hi) }}</td><td>{{ r.share|pct }} <span class="ci">[{{ r.share_lo|pct }}, {{ r.share_hi|pct }}]</span></td>{% endif %}</tr>
{% endfor %}{% endfor %}
</table>
{% endfor %}
<p class="muted small">A share near 100%: the attribute's prevalence gap accounts for (almost) all of the FD in that space; near 0: the FD comes from elsewhere.
A negative drop: matching the prevalence moves the generated set away from the reference in that space. Shares of different attributes are not additive.</p>
{% endif %}

{# ------------------------------------------------------------- provenance ---- #}
<h2 id="provenance">Provenance</h2>
<table class="data">{% for k, v in provenance.run %}<tr><th class="l">{{ k }}</th><td class="l">{{ v }}</td></tr>{% endfor %}</table>
<h3>Feature spaces</h3>
<table class="data"><tr><th class="l">space</th><th>dim</th><th class="l">weights sha256</th><th class="l">preprocessing</th></tr>
{% for s in provenance.spaces %}<tr><td class="l">{{ space(s.space) }}</td><td>{{ s.dim }}</td><td class="l"><code>{{ s.sha or "none (random weights)" }}</code></td><td class="l small"><code>{{ s.preprocessing }}</code></td></tr>{% endfor %}
</table>
{% if provenance.generators %}<h3>Generators</h3>
<table class="data"><tr><th class="l">set</th><th class="l">description</th></tr>
{% for g in provenance.generators %}<tr><td class="l">{{ g.name }}</td><td class="l small"><code>{{ g.text }}</code></td></tr>{% endfor %}</table>{% endif %}
{% if provenance.interventions %}<h3>Interventions</h3>
<table class="data"><tr><th class="l">attribute</th><th class="l">description</th></tr>
{% for i in provenance.interventions %}<tr><td class="l">{{ i.name }}</td><td class="l small"><code>{{ i.text }}</code></td></tr>{% endfor %}</table>{% endif %}
<h3>Versions</h3>
<table class="data">{% for k, v in provenance.versions %}<tr><th class="l">{{ k }}</th><td class="l">{{ v }}</td></tr>{% endfor %}</table>
<h3>Tables (sha256)</h3>
<table class="data">{% for name, sha in provenance.tables %}<tr><td class="l"><code>{{ name }}</code></td><td class="l"><code>{{ sha }}</code></td></tr>{% endfor %}</table>
<h3>Config</h3>
<pre>{{ provenance.config }}</pre>
</main></body></html>
"""


def num(value: Any, digits: int = 4) -> str:
    """A number with `digits` significant digits; "–" for None/NaN."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–" if value is None else str(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{max(digits - 1, 1)}e}"
    return f"{v:.{digits}g}"


def pval(value: Any) -> str:
    """A p-value: "<0.001" below a thousandth, else three decimals."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(v):
        return "–"
    return "<0.001" if v < 1e-3 else f"{v:.3f}"


def pct(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(v) else f"{100 * v:.0f}%".replace("-0%", "0%")


def render(context: dict[str, Any]) -> str:
    """The report HTML from its context (autoescaped)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=num, pval=pval, pct=pct)
    return env.from_string(TEMPLATE).render(css=CSS, **context)
