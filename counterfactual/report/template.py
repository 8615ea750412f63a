"""The report's jinja2 template (inline, so the package needs no data files), styles and script.

Every occurrence of a feature space goes through the `space` macro (its colour swatch, and an
"untrained" badge for random-weight spaces). Every number goes through the `numbers` filters.
Every table sits in a `.tbl` box (it scrolls inside the box on narrow screens) with its
download links (`.dl`). Images are data: URIs, each distinct strip defined once in <defs>.
"""

from __future__ import annotations

from typing import Any

import jinja2

from counterfactual.report import numbers

CSS = """
:root { --ink:#1f2937; --muted:#4b5563; --line:#e5e7eb; --head:#f3f4f6; --link:#1d4ed8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0; background: #fafafa; font-size: 14px; line-height: 1.45; }
main { max-width: 1320px; margin: 0 auto; padding: 14px 28px 60px; background: white; }
h1 { font-size: 22px; margin: 6px 0 2px; }
h2 { font-size: 19px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
a { color: var(--link); }
code { overflow-wrap: anywhere; }
.sub { color: var(--muted); margin: 0 0 8px; }
.question { font-size: 15px; margin: 4px 0 10px; }
section.findings { border: 2px solid #0072B2; border-radius: 8px; padding: 6px 18px 10px; margin: 10px 0 14px;
                   background: #f5faff; }
section.findings h2 { border: none; margin: 6px 0 4px; font-size: 18px; }
section.findings h3 { margin: 10px 0 2px; font-size: 14px; color: var(--muted); }
section.findings ul { margin: 2px 0 6px; padding-left: 20px; }
section.findings li { margin: 3px 0; }
section.design { border: 1px solid var(--line); border-radius: 8px; padding: 4px 18px 10px; margin: 10px 0; }
section.design h2 { border: none; margin: 8px 0 4px; font-size: 17px; }
nav.toc { background: var(--head); border-radius: 6px; padding: 6px 12px; margin: 12px 0; font-size: 13px;
          display: flex; flex-wrap: wrap; gap: 2px 14px; }
nav.toc a { text-decoration: none; }
.tbl { max-width: 100%; overflow-x: auto; margin: 6px 0 12px; }
.tbl > table { margin: 0; }
.dl { font-size: 12px; color: var(--muted); margin: 2px 0 0; }
.dl a { margin-left: 2px; overflow-wrap: anywhere; }
table.data { border-collapse: collapse; font-size: 13px; }
table.data th, table.data td { border: 1px solid var(--line); padding: 4px 8px; text-align: right; vertical-align: middle; }
table.data th { background: var(--head); font-weight: 600; text-align: center; }
table.data td.l, table.data th.l { text-align: left; }
table.data td[data-sort] { white-space: nowrap; }
table.data tbody tr:nth-child(even) td { background: #fcfcfd; }
table.sortable thead th { cursor: pointer; user-select: none; }
table.sortable thead th::after { content: " ↕"; color: #9ca3af; font-weight: 400; }
table.sortable thead th[aria-sort="ascending"]::after { content: " ↑"; color: var(--ink); }
table.sortable thead th[aria-sort="descending"]::after { content: " ↓"; color: var(--ink); }
.ci { color: var(--muted); font-size: 12px; white-space: nowrap; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 11px; font-weight: 700;
         vertical-align: 2px; margin-left: 6px; white-space: nowrap; line-height: 18px; }
.badge.untrained { background: #fef3c7; color: #92400e; border: 1px solid #f59e0b; }
.badge.pass { background: #dcfce7; color: #166534; border: 1px solid #22c55e; }
.badge.fail { background: #fee2e2; color: #991b1b; border: 1px solid #ef4444; }
.badge.neutral { background: #f3f4f6; color: #374151; border: 1px solid #9ca3af; }
.badge.ref { background: #e0f2fe; color: #075985; border: 1px solid #0ea5e9; }
.badge.synthetic { background: #e0e7ff; color: #3730a3; border: 1px solid #818cf8; }
.space { font-weight: 600; white-space: nowrap; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: 0; }
.box { border-left: 4px solid; padding: 8px 12px; margin: 10px 0; border-radius: 3px; }
.box.note { background: #eff6ff; border-color: #3b82f6; }
.box.warn { background: #fffbeb; border-color: #f59e0b; }
.box.flag { background: #fef2f2; border-color: #dc2626; }
.box.ref { background: #f0f9ff; border-color: #0ea5e9; }
.box ul { margin: 4px 0; padding-left: 20px; }
.strips { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 10px; align-items: center; }
.strips .lab { font-weight: 600; color: var(--muted); text-align: right; }
svg.strip { display: block; max-width: 100%; height: auto; image-rendering: pixelated; }
img.fig { max-width: 100%; height: auto; display: block; margin: 6px 0; }
.faces { display: flex; flex-wrap: wrap; gap: 6px; align-items: flex-start; margin: 4px 0 8px; }
.faces figure { margin: 0; text-align: center; max-width: 110px; }
.faces figcaption { font-size: 11px; line-height: 1.2; color: var(--muted); }
.faces figure.query svg { outline: 2px solid var(--ink); }
.faces figure.own svg { outline: 3px solid #16a34a; }
.attr { border: 1px solid var(--line); border-radius: 8px; padding: 4px 18px 12px; margin: 18px 0; }
.attr h2 { border: none; margin-top: 12px; }
table.data td.c { text-align: center; }
td.over { background: #fde2d3 !important; } td.under { background: #d6ebf7 !important; }
td.lead { background: #dcfce7 !important; }
.two { display: flex; gap: 8px 28px; flex-wrap: wrap; align-items: flex-start; }
.two > div { flex: 1 1 420px; min-width: 0; max-width: 100%; }
.two > div.wide { flex-basis: 100%; }  /* a wide table on its own row, the rest below */
pre { background: #f8fafc; border: 1px solid var(--line); padding: 10px; font-size: 12px;
      overflow-x: auto; max-height: 480px; white-space: pre-wrap; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
@media (max-width: 900px) {
  main { padding: 10px 12px 40px; }
  .attr, section.findings, section.design { padding-left: 10px; padding-right: 10px; }
  h1 { font-size: 20px; }
}
@media print {
  body { background: white; font-size: 11px; }
  main { max-width: none; padding: 0; }
  nav.toc, .dl { display: none; }
  a { color: inherit; text-decoration: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  table, img, svg, .box, li { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  .tbl { overflow: visible; }
  pre { max-height: none; overflow: visible; white-space: pre-wrap; }
  .attr { border: none; padding: 0; }
  section.findings { break-inside: avoid; }
  table.sortable thead th::after { content: ""; }
}
"""

SCRIPT = """
(function () {
  function key(td) {
    if (!td) return Infinity;
    var s = td.getAttribute('data-sort');
    if (s === null) s = td.textContent.trim();
    if (s === '' || s === '\\u2013') return Infinity;
    var v = Number(s);
    return isNaN(v) ? s.toLowerCase() : v;
  }
  function sortBy(table, th, i) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    rows.sort(function (x, y) {
      var a = key(x.cells[i]), b = key(y.cells[i]);
      if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : (a < b ? -dir : dir);
      return dir * String(a).localeCompare(String(b));
    });
    Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    if (!table.tHead || !table.tBodies.length) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.title = 'sort by this column';
      th.addEventListener('click', function () { sortBy(table, th, i); });
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sortBy(table, th, i); });
    });
  });
})();
"""

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ css|safe }}</style></head>
<body><main>
{%- macro space(sp) -%}
<span class="space"><span class="sw" style="background:{{ colors.get(sp.name, '#6b7280') }}"></span>{{ sp.name }}</span>{% if not sp.trained %}<span class="badge untrained" title="random weights: not a trained feature space">untrained</span>{% endif %}
{%- endmacro %}
{%- macro ci(lo, hi) -%}<span class="ci">{{ interval(lo, hi) }}</span>{%- endmacro %}
{%- macro n(v, bold=False) -%}<td data-sort="{{ v|sortkey }}">{% if bold %}<b>{{ v|num }}</b>{% else %}{{ v|num }}{% endif %}</td>{%- endmacro %}
{%- macro links(items) -%}<p class="dl">download:{% for l in items %} <a href="{{ l.href }}" download>{{ l.label }}</a>{% else %} <span>no file</span>{% endfor %}</p>{%- endmacro %}
{%- macro pic(p) -%}<svg class="strip" viewBox="0 0 {{ p.width }} {{ p.height }}" width="{{ p.display_width }}" height="{{ p.display_height }}" role="img" aria-label="{{ p.alt }}"><use href="#{{ p.id }}"></use></svg>{%- endmacro %}
<svg class="defs" aria-hidden="true" width="0" height="0" style="position:absolute"><defs>
{% for p in pictures %}<image id="{{ p.id }}" width="{{ p.width }}" height="{{ p.height }}" preserveAspectRatio="none" style="image-rendering:pixelated" href="{{ p.uri }}"></image>
{% endfor %}</defs></svg>
<header><h1>{{ title }}</h1>
<p class="sub">{{ subtitle }}{% if description %} · {{ description }}{% endif %}</p></header>

<section id="findings" class="findings">
<h2>Findings</h2>
<p class="question">{{ question }}</p>
{% if findings and findings.results %}<ul>{% for line in findings.results %}<li>{{ line }}</li>{% endfor %}</ul>
{% else %}<p class="muted">No comparison could be made (see the notes below).</p>{% endif %}
{% if findings and findings.verification %}<h3>Verification</h3><ul>{% for line in findings.verification %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
{% if findings and findings.caveats %}<h3>Caveats</h3><ul>{% for line in findings.caveats %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
<p class="muted small">Intervals are {{ ci_level }} intervals (each table says how they are computed); the same numbers are in the tables below.</p>
</section>

{% if claims %}
<section id="claims" class="findings">
<h2>Reference-study findings</h2>
<p class="question">Does this run reproduce the qualitative claims of Kabra &amp; Balakrishnan (and any claims you added)?
{{ claims.counts['reproduced'] }} reproduced, {{ claims.counts['not reproduced'] }} not reproduced, {{ claims.counts['not decidable at this n'] }} not decidable at this n, {{ claims.counts['not tested in this run'] }} not tested in this run.</p>
<ul>{% for c in claims.entries %}<li><span class="badge {{ c.css }}">{{ c.verdict }}</span> <b>{{ c.statement }}</b> <span class="muted small">({{ c.source }}; {{ c.units }})</span>
<ul>{% for line in c.lines %}<li class="small">{{ line }}</li>{% endfor %}</ul></li>{% endfor %}</ul>
<p class="muted small">Each claim is one or more comparisons (lhs − rhs, all must hold), with a simultaneous interval over the claim's comparisons. Reproduced: every interval excludes 0 in the claimed direction;
not reproduced: one excludes 0 the other way, or lies within the claim's margin of 0 (the difference is absent); not decidable at this n: otherwise; not tested in this run: an edit or space the claim names is missing.
Claims are data: counterfactual/analysis/claims.toml, plus your own files (<code>--claims FILE</code>, or <code>claims = ["FILE"]</code> in the sweep config).</p>
{{ links(claims.links) }}
</section>
{% endif %}

{% if design %}
<section id="design" class="design">
<h2>Design</h2>
<div class="two"><div>
<div class="tbl"><table class="data"><tbody>
{% for k, v in design.rows %}<tr><th class="l">{{ k }}</th><td class="l">{{ v }}</td></tr>{% endfor %}
</tbody></table>{{ links(design.links) }}</div>
</div><div>
<p>{{ design.delta }}</p>
<p>Feature spaces (colour and marker in every plot):</p>
<ul>{% for s in design.spaces %}<li>{{ space(s.space) }}{% if s.dim %} <span class="muted small">{{ s.dim }}-d,</span>{% endif %}

{% if s.space.trained %}<span class="muted small">trained</span>{% else %}<span class="muted small">random weights: shows how a random network reacts</span>{% endif %}</li>{% endfor %}</ul>
</div></div>
</section>
{% endif %}

<nav class="toc">{% for a in toc %}<a href="#{{ a.id }}">{{ a.title }}</a>{% endfor %}</nav>
{% for note in notes %}<div class="box warn">{{ note }}</div>{% endfor %}

{# ------------------------------------------------------------------ sweep ---- #}
{% for at in attributes %}
{% set v = at.verification %}
<section class="attr" id="{{ at.anchor }}">
<h2>{{ at.title }}{% if at.synthetic %} <span class="badge synthetic">synthetic</span>{% endif %}
{% if v %}<span class="badge {{ v.css }}">{{ v.status }}</span>{% endif %}</h2>
<p class="sub">{{ at.sentence }} Key in the tables: <code>{{ at.key }}</code>.</p>
{% if at.base_strip and at.twin_strip %}
<div class="strips"><span class="lab">base</span>{{ pic(at.base_strip) }}<span class="lab">edited</span>{{ pic(at.twin_strip) }}</div>
{% if at.seeds %}<p class="muted small">Matched pairs: the same seeds ({{ at.seeds }}) before and after the edit.</p>{% endif %}
{% else %}<p class="muted">No sample images saved for this edit (sample_images = 0?).</p>{% endif %}

<h3>Verification</h3>
{% if v %}
<div class="box {{ 'flag' if v.status == 'flagged' else ('ref' if v.status == 'reference distortion' else 'note') }}">{{ v.note }}</div>
{% if at.direction %}<p>Direction quality: held-out balanced accuracy <b>{{ at.direction.held_out_balanced_accuracy|num }}</b>, AUC {{ at.direction.held_out_auc|num }} (n = {{ at.direction.n_held_out }}; training {{ at.direction.train_balanced_accuracy|num }}, n = {{ at.direction.n_train }}) of the linear boundary on {{ at.direction.scorer }} labels ({{ at.direction.rule }} rule){% if at.direction.weak %} — <b>weak</b>: the direction only partly separates the attribute{% endif %}.</p>{% endif %}
{% if at.conditioning %}{% set c = at.conditioning %}<p>Conditioning: the direction is made orthogonal to the boundaries of {% for r in c.rows %}<b>{{ r.scorer }}</b>{{ ", " if not loop.last }}{% endfor %} (cosine {{ c.cosine_with_raw|num }} with the unconditioned direction). Linear leakage at this strength, the shift of each boundary's score in SD over the learning samples, unconditioned → conditioned: {% for r in c.rows %}{{ r.scorer }} {{ r.raw|num }} → {{ r.conditioned|num }}{{ "; " if not loop.last }}{% endfor %}; the target's own linear shift {{ c.target_raw|num }} → {{ c.target_conditioned|num }} SD. The measured leakage of the conditioned edit is in the table below.</p>{% endif %}
<div class="two"><div class="wide">
<div class="tbl"><table class="data sortable"><thead><tr><th class="l">scorer (unit)</th><th class="l">role</th><th>base mean</th><th>edited mean</th><th>shift</th><th>{{ v.ci_label }} CI</th><th>effect (SD)</th><th>p</th></tr></thead><tbody>
{% for r in v.rows %}<tr><td class="l">{{ r.scorer }}{% if r.unit %} <span class="muted small">({{ r.unit }})</span>{% endif %}</td><td class="l">{{ r.role }}</td>{{ n(r.mean_base) }}{{ n(r.mean_twin) }}{{ n(r.shift, True) }}
<td data-sort="{{ r.ci_low|sortkey }}">{{ ci(r.ci_low, r.ci_high) }}</td>{{ n(r.effect) }}<td data-sort="{{ r.p_value|sortkey }}">{{ r.p_value|pval }}</td></tr>{% endfor %}
</tbody></table>{{ links(at.links.verification) }}</div></div>
<div><div class="tbl"><table class="data"><thead><tr><th class="l">identity (ArcFace cosine, edited vs base)</th><th>value</th></tr></thead><tbody>
{% if v.identity %}<tr><td class="l">mean</td>{{ n(v.identity.mean) }}</tr>
<tr><td class="l">median</td>{{ n(v.identity.quantiles.q50) }}</tr>
<tr><td class="l">5% quantile</td>{{ n(v.identity.quantiles.q05) }}</tr>
<tr><td class="l">min</td>{{ n(v.identity.min) }}</tr>
<tr><td class="l">pairs</td><td>{{ v.identity.n }}</td></tr>
{% else %}<tr><td class="l" colspan="2">not measured</td></tr>{% endif %}
</tbody></table>{{ links(at.links.verification) }}</div>
{% if v.parsing %}<div class="tbl"><table class="data"><thead><tr><th class="l">parsing agreement (share of pixels with the same class, edited vs base)</th><th>value</th></tr></thead><tbody>
<tr><td class="l">mean</td>{{ n(v.parsing.mean) }}</tr>
<tr><td class="l">median</td>{{ n(v.parsing.quantiles.q50) }}</tr>
<tr><td class="l">5% quantile</td>{{ n(v.parsing.quantiles.q05) }}</tr>
<tr><td class="l">min</td>{{ n(v.parsing.min) }}</tr>
<tr><td class="l">pairs</td><td>{{ v.parsing.n }}</td></tr>
</tbody></table></div>{% endif %}</div></div>
{% if v.flags %}<div class="box {{ 'ref' if v.expected_flags else 'flag' }}"><b>{{ 'Expected for a reference distortion' if v.expected_flags else 'Flags' }}</b><ul>{% for f in v.flags %}<li><code>{{ f.code }}</code>: {{ f.message }}</li>{% endfor %}</ul></div>{% endif %}
{% else %}<p class="muted">No verification results for this edit.</p>{% endif %}

{% if at.dose_plot %}
<h3>Dose-response: how FD changes with the prevalence gap Δ</h3>
<img class="fig" src="{{ at.dose_plot }}" alt="dose-response plot">
<p class="muted small">One panel per space, on a linear scale of the change from Δ = 0 (the panel title gives FD(0), the bias floor): solid with markers, mean FD over the draws;
band, its {{ ci_level }} bootstrap interval over the draws (which reuse the same faces: split-to-split noise, not uncertainty about other faces); dash-dot, a quadratic fit describing the curve (descriptive only: the effects table does not use it); dashed, the mean term ‖μ<sub>A</sub>−μ<sub>B</sub>‖²; dotted, the trace term
(each minus its value at Δ = 0). Last panel: every space's FD(Δ)/FD(0) with bands (the interval divided by FD(0)).</p>
{{ links(at.links.curves) }}
{% endif %}

{% if at.effects %}
<h3>{{ 'Reference distortion: effects per space' if at.reference else 'Effects per space' }}</h3>
<div class="tbl"><table class="data sortable"><thead><tr><th class="l">space</th>{% for c in at.effect_columns %}<th>{{ c.header }}</th>{% endfor %}</tr></thead><tbody>
{% for e in at.effects %}<tr><td class="l" data-sort="{{ e.space.label }}">{{ space(e.space) }}</td>
{% for c in at.effect_columns %}{% set v = e[c.field] %}
{% if c.kind == 'num' %}{{ n(v) }}{% elif c.kind == 'key' %}{{ n(v, True) }}
{% elif c.kind == 'ci' %}<td data-sort="{{ v|sortkey }}">{{ ci(e[c.extra[0]], e[c.extra[1]]) }}</td>
{% elif c.kind == 'pct' %}<td data-sort="{{ v|sortkey }}">{{ v|pct }}</td>
{% elif c.kind == 'p' %}<td data-sort="{{ v|sortkey }}">{{ v|pval(bound=e.get(c.extra[0])) }}</td>
{% else %}<td class="c">{{ v if v is not none else '–' }}</td>{% endif %}{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(at.links.effects) }}</div>
<p class="muted small">{{ at.effects_note }}{% if at.p_source %} p: {{ at.p_source }}; Holm-corrected across all edits × spaces.{% endif %}</p>
{% endif %}

{% if at.distances %}
<h3>Sensitivity by distance × space</h3>
<div class="tbl"><table class="data"><thead><tr><th class="l">distance</th>{% for sp in at.distances.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in at.distances.rows %}<tr><td class="l">{{ row.distance }}{% if not row.lower_is_better %} <span class="small muted">(higher = closer)</span>{% endif %}</td>
{% for c in row.cells %}<td class="c">{% if c %}<b>{{ c.sensitivity|num }}</b> {{ ci(c.sensitivity_ci_low, c.sensitivity_ci_high) }}{% if c.p_holm is not none %}<br><span class="small">p<sub>Holm</sub> {{ c.p_holm|pval(bound=c.p_holm_is_bound) }} · {{ c.detected }}</span>{% endif %}{% else %}–{% endif %}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(at.links.effects) }}</div>
<p class="muted small">S<sub>d</sub> = d(base set, twin set) − mean d over within-pair swaps, for each distance d on the same faces, with its {{ ci_level }} corrected jackknife interval;
p: the within-pair swap permutation test of d, Holm-corrected over the edits × spaces of that distance. For precision, recall, density and coverage (higher = the sets are closer) an attribute that moves the features makes S negative.</p>
{% endif %}

{% if at.region %}
<h3>{{ 'Reference distortion: FD(base, edited) per space' if at.reference else 'Region result' }}</h3>
<div class="tbl"><table class="data sortable"><thead><tr><th class="l">space</th>{% if not at.reference %}<th>share of the full distortion's FD</th><th>{{ ci_level }} interval</th>{% endif %}<th>FD(base, edited)</th><th>FD(base, fully distorted)</th></tr></thead><tbody>
{% for r in at.region %}<tr><td class="l" data-sort="{{ r.space.label }}">{{ space(r.space) }}</td>{% if not at.reference %}{{ n(r.value, True) }}<td data-sort="{{ r.lo|sortkey }}">{{ ci(r.lo, r.hi) }}</td>{% endif %}{{ n(r.fd) }}{{ n(r.fd_reference) }}</tr>{% endfor %}
</tbody></table>{{ links(at.links.region) }}</div>
{% if not at.reference and region %}<p class="muted small">Share = FD(base, this region distorted) / FD(base, whole image distorted) in the same space; {{ region.interval_note }}.</p>{% endif %}
{% elif not at.dose %}<p class="muted">No region result for this edit.</p>{% endif %}
</section>
{% endfor %}

{% if reactions %}
<h2 id="summary">Cross-space summary: which spaces over- or under-react</h2>
<div class="tbl"><table class="data"><thead><tr><th class="l">edit</th>{% for sp in reactions.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in reactions.rows %}<tr><td class="l">{{ row.intervention }}</td>
{% for c in row.cells %}<td class="c {{ c.css }}">{% if c.reaction %}<b>{{ c.reaction }}</b><br><span class="small">× {{ c.ratio|num }} {{ ci(c.lo, c.hi) }}</span>{% if c.p is not none %}<br><span class="small">p<sub>{{ 'flip' if reactions.relative else 'Holm' }}</sub> {{ c.p|pval(bound=c.p_bound) }}</span>{% endif %}{% if c.note %}<br><span class="small muted">{{ c.note }}</span>{% endif %}{% else %}–{% endif %}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(reactions.links) }}</div>
{% if reactions.relative %}<p class="muted small">Each trained space's sensitivity profile (normalised by {{ reactions.normaliser }}) relative to the mean profile of the other trained spaces (× 1 = reacts like them),
with a simultaneous {{ reactions.level|pct }} interval and p<sub>flip</sub>, the face-group sign-flip test of "relative reaction = 1". Over-reacts (orange) when the interval lies above 1 and p<sub>flip</sub> ≤ α/m = {{ reactions.alpha_m|num }}, under-reacts (blue) when it lies below 1 and p<sub>flip</sub> ≤ α/m; in line otherwise; untrained spaces are shown without a verdict.</p>
{% else %}<p class="muted small">Each space's FD(1)/FD(0) divided by the median over the edit's spaces (× 1 = the median space), with a {{ ci_level }} bootstrap interval
(the table files give it as a natural-log ratio). Over-reacts (orange) when the interval lies above 1 and the Holm-corrected p &lt; {{ reactions.alpha|num }}; under-reacts (blue) when it lies below 1.</p>{% endif %}
{% endif %}

{% if strength %}
<h2 id="strength">Dose-response over strength</h2>
<p>Each distortion family run at several strengths ({{ strength.families|join(", ") }}): the sensitivity S (the FD change from Δ = 0 to 1, floor removed, in each space's own FD units) at each strength, with its {{ ci_level }} interval over faces.
A curve that rises with strength in one space and stays flat in another shows which spaces track the distortion's size.</p>
<img class="fig" src="{{ strength.figure }}" alt="sensitivity against strength per space">
<div class="tbl"><table class="data"><thead><tr><th class="l">family</th><th>strength</th>{% for sp in strength.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in strength.rows %}<tr><td class="l">{{ row.family }}</td><td data-sort="{{ row.strength|sortkey }}">{{ row.strength|num }}</td>
{% for c in row.cells %}<td class="c">{% if c and c.value is not none %}<b>{{ c.value|num }}</b> {{ ci(c.lo, c.hi) }}<br><span class="small muted">{% if c.share is not none %}{{ c.share|pct }} of the strongest · {% endif %}detected: {{ c.detected }}</span>{% else %}–{% endif %}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(strength.links) }}</div>
<p class="muted small">"of the strongest": S at this strength over S at the family's strongest setting in the same space (the curve's shape, comparable across spaces); "detected": the swap permutation test (Holm over the run's attribute × space family) and the interval of S agree.</p>
{% endif %}

{% if probes %}
<h2 id="probes">Readable vs moves FD: linear probes and twin neighbours</h2>
{% set pr = probes.readable %}{% if pr %}
<p>Can a linear classifier read the attribute from a space's features of the base faces (<b>readable</b>), and does editing the attribute move the space's FD (<b>moves FD</b>)? A space can encode an attribute and still weight it little in its FD, or the reverse.</p>
<div class="tbl"><table class="data"><thead><tr><th class="l">edit (attribute read)</th>{% for sp in pr.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in pr.rows %}<tr><td class="l">{% if row.edit %}{{ row.edit }} <span class="muted small">({{ row.attribute }})</span>{% else %}<span class="muted small">no edit;</span> {{ row.attribute }}{% endif %}</td>
{% for c in row.cells %}<td class="c">{% if c.probe and c.probe.ba is not none %}<span class="small">readable</span> <b>{{ c.probe.ba|num }}</b> {{ ci(c.probe.lo, c.probe.hi) }}<br><span class="small muted">AUC {{ c.probe.auc|num }} · shuffled {{ c.probe.chance|num }} (max {{ c.probe.chance_max|num }})</span>{% elif c.probe %}<span class="small muted">{{ c.probe.status }}</span>{% else %}–{% endif %}
{% if c.moves %}<br><span class="small">moves FD</span> <b>{{ c.moves.value|num }}</b> {{ ci(c.moves.lo, c.moves.hi) }}{% if c.moves.ratio is not none %}<br><span class="small muted">FD(1)/FD(0) × {{ c.moves.ratio|num }}</span>{% endif %}{% endif %}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(pr.links) }}</div>
<p class="muted small">Readable: cross-validated balanced accuracy (0.5 = chance, 1 = perfect) of a logistic regression (standardised features, L2, C = 1) predicting the attribute's label, {{ pr.rule }}, from the base faces' features;
{{ pr.folds }}-fold stratified split over faces; interval: {{ pr.interval }} ({{ pr.level|pct }}, approximate: the folds share training faces); shuffled: the same with the labels shuffled over faces ({{ pr.n_shuffles }} times), the chance reference.
{% if pr.measure %}Moves FD: the edit's {{ pr.measure }} with its interval, as in the edit's effects table, and FD(1)/FD(0) (× 1 = no more than the bias floor).{% endif %}</p>
{% endif %}
{% set nb = probes.neighbours %}{% if nb %}
<h3>Twin neighbours: is a face's nearest edited face its own twin?</h3>
<div class="tbl"><table class="data"><thead><tr><th class="l">edit</th>{% for sp in nb.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in nb.rows %}<tr><td class="l">{{ row.edit }}</td>{% for c in row.cells %}<td class="c">{% if c %}<b>{{ c.top1|num }}</b> {{ ci(c.lo, c.hi) }}<br><span class="small muted">mean rank {{ c.rank|num }}</span>{% else %}–{% endif %}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(nb.links) }}</div>
<p class="muted small">Share of the {{ nb.n }} base faces whose nearest neighbour (Euclidean, in the space) among all {{ nb.n }} twins of the edit is their own twin, with a {{ nb.level|pct }} {{ nb.interval }}; chance {{ nb.chance|num }} (1/n),
mean rank of the own twin by chance {{ nb.chance_rank|num }}. High: the edit moves a face less than faces differ from each other in this space; near chance: the edit moves it as far as other faces are.</p>
{% endif %}
{% endif %}

{% if region %}
<h2 id="regions">Region sensitivity</h2>
<img class="fig" src="{{ region.heatmap }}" alt="region heatmap">
<div class="tbl"><table class="data sortable"><thead><tr><th class="l">region</th>{% for sp in region.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in region.rows %}<tr><td class="l">{{ row.region }}</td>{% for c in row.cells %}<td data-sort="{{ c.value|sortkey }}">{{ c.value|num }} {% if c.lo is not none %}{{ ci(c.lo, c.hi) }}{% endif %}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(region.links) }}</div>
<p class="muted small">FD(original, region distorted) / FD(original, fully distorted: {{ region.reference }}) per space: 0, the space ignores the region; 1, as far as distorting everything.
The colour scale runs from 0 to the largest value ({{ region.top|num }}). {{ region.interval_note|capitalize }}.</p>
{% endif %}
{% if attention %}
<h2 id="attention">Where FD looks: attention maps</h2>
<p>The Grad-CAM map of FD with respect to each image (Kynkäänniemi et al., ICLR 2023): the gradient of FD(reference, edited set) with respect to an edited face's last convolutional feature map, channels weighted by their spatially averaged gradient, ReLU, upsampled to the face and normalised per face, then averaged over {{ attention.n }} faces.
Control: the same for FD(reference, the same faces unedited). The reference is the base faces of the first {{ attention.reference_faces }} seeds. Each pair of maps shares one colour scale. Share: the mean fraction of a face's heat inside the region (its face-parsing mask; "changed": the pixels the edit moved); area: the region's mean fraction of the image. A share above the area and above the control's means FD looks there because of the edit.</p>
{% for b in attention.blocks %}<h3>{{ b.intervention }}</h3>
{% for r in b.rows %}<div class="strips"><span class="lab">{{ space(r.space) }}</span>{{ pic(r.pic) }}</div>
<p class="muted small">edited mean face · its FD map · base mean face · control map (n = {{ r.n }})</p>
<div class="tbl"><table class="data sortable"><thead><tr><th class="l">region</th><th>share (edited)</th><th>share (control)</th><th>area</th></tr></thead><tbody>
{% for g in r.regions %}<tr><td class="l">{{ g.region }}</td>{{ n(g.twin, g.twin > g.area) }}{{ n(g.control) }}{{ n(g.area) }}</tr>{% endfor %}
</tbody></table></div>{% endfor %}{% endfor %}
{{ links(attention.links) }}
{% if attention.no_map %}<p class="muted small">No maps in: {% for sp, why in attention.no_map.items() %}<b>{{ sp }}</b> ({{ why }}){% if not loop.last %}; {% endif %}{% endfor %}.</p>{% endif %}
{% endif %}

{# ------------------------------------------------------------------ rank ----- #}
{% if rank %}
<h2 id="reference">Reference set</h2>
<div class="box {{ 'note' if rank.reference_real else 'warn' }}"><b>{{ rank.reference_label }}</b>: {{ rank.reference_note }}</div>
{% if rank.resolutions %}<div class="box {{ 'warn' if rank.resolutions.mismatch else 'note' }}"><b>Resolution</b>: {% for r in rank.resolutions.rows %}{{ r.set }} {{ r.px }} px{% if r.rule %} ({{ r.rule }}){% endif %}{% if not loop.last %}, {% endif %}{% endfor %}.
{% if rank.resolutions.mismatch %}The sets differ in resolution: every feature space resizes its input to its own size, so part of each FD may come from resolution (upsampling blur, lost detail) rather than from the faces. Bring the sets to one resolution for a fair comparison.{% else %}All sets share one resolution.{% endif %}</div>{% endif %}
{% if rank.floor %}<h3 id="floor">The reference's own floor</h3>
<p class="muted small">FD between two disjoint halves of the reference ({{ rank.floor.m }} images each), the distance at which a generator is indistinguishable from the reference at this n;
each generator's FD measured at the same {{ rank.floor.m }} images ({{ rank.floor.m }} of its {{ rank.floor.n_generator }} faces drawn at random, the same face indices for every generator) against a reference half, so the two compare like with like.
Both are means over {{ rank.floor.splits }} random half splits (± SD over splits). FD falls with n, so the full-n column ({{ rank.floor.n_generator }} generator vs {{ rank.floor.n_reference }} reference images) sits lower than the half-n columns: compare within a column, not across.</p>
<div class="tbl"><table class="data"><thead><tr><th class="l">set</th>{% for sp in rank.spaces %}<th>{{ space(sp) }}<br><span class="small">at {{ rank.floor.m }} vs {{ rank.floor.m }} · at full n</span></th>{% endfor %}</tr></thead><tbody>
{% for row in rank.floor.rows %}<tr><td class="l">{% if row.reference %}<b>reference half vs half (floor)</b>{% else %}{{ row.set }} vs reference half{% endif %}</td>{% for c in row.cells %}
<td>{{ c.fd|num }} <span class="ci">± {{ c.sd|num }}</span>{% if not row.reference %} · {{ c.full|num }}{% endif %}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(rank.links.floor) }}</div>{% endif %}
<h3>Samples</h3>
<div class="strips">{% for s in rank.strips %}<span class="lab">{{ s.label }}</span>{% if s.pic %}{{ pic(s.pic) }}{% else %}<span class="muted">no samples saved</span>{% endif %}{% endfor %}</div>

<h2 id="ranking">Rankings</h2>
<p class="muted small">Each generator against the reference; {{ rank.n_generator }} images per generator, {{ rank.n_reference }} reference images,
{{ rank.n_boot }} bootstrap replicates. 1 = closest to the reference. Stability: share of bootstrap replicates in which the generator keeps this rank.</p>
{% for t in rank.tables %}
<h3 id="{{ t.anchor }}">{{ t.title }}</h3>
<div class="tbl"><table class="data sortable"><thead><tr><th class="l">generator</th>{% for sp in rank.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in t.rows %}<tr><td class="l">{{ row.generator }}</td>{% for c in row.cells %}
<td data-sort="{{ c.value|sortkey }}">{{ c.value|num }} {{ ci(c.lo, c.hi) }}<br><span class="small">rank <b>{{ c.rank }}</b>, stable {{ c.stability|pct }}</span></td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(rank.links.rankings) }}</div>
{% if t.figure %}<img class="fig" src="{{ t.figure }}" alt="{{ t.title }}">{% endif %}
{% endfor %}
<p class="muted small">Intervals: {{ ci_level }} bootstrap percentile intervals of bias-adjusted replicates (resampling with replacement shifts FD, KID and the k-NN metrics;
the raw percentile intervals are in the tables). When every set has fewer images than a space has dimensions, FD is rank-deficient and dominated by sample size: compare only at equal n, as here.</p>

{% if rank.settings %}<h3>Rank settings</h3>
<div class="tbl"><table class="data"><tbody>{% for k, val in rank.settings %}<tr><th class="l">{{ k }}</th><td class="l">{{ val }}</td></tr>{% endfor %}</tbody></table></div>{% endif %}

{% if rank.paired %}<h2 id="paired">Paired differences (FD)</h2>
<p class="muted small">Whether one generator is closer to the reference than another is read from the interval of their paired difference FD(a) − FD(b), never from overlapping marginal intervals:
{{ rank.paired.method }}, {{ rank.paired.n_boot }} replicates; the difference is bias-corrected (each FD's finite-sample bias depends on its set's spread), so it can differ in sign from the plain difference of the table above (shown small).
Highlighted: the interval excludes 0, so the closer generator is established.</p>
<div class="tbl"><table class="data"><thead><tr><th class="l">a − b</th>{% for sp in rank.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rank.paired.rows %}<tr><td class="l">{{ row.a }} − {{ row.b }}</td>{% for c in row.cells %}
{% if c %}<td class="c {{ c.css }}">{{ c.diff|num }} {{ ci(c.lo, c.hi) }}<br><span class="small">{% if c.closer %}<b>{{ c.closer }}</b> closer{% else %}not established{% endif %} · plain {{ c.plain|num }}</span></td>{% else %}<td>–</td>{% endif %}{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(rank.links.paired) }}</div>{% endif %}

<h2 id="agreement">Agreement between spaces (Kendall τ of the rankings)</h2>
{% if rank.n_generators < rank.min_tau_generators %}<p class="muted">Not shown: with {{ rank.n_generators }} generator{{ '' if rank.n_generators == 1 else 's' }}, Kendall τ between two spaces' rankings is ±1 by construction (the two orders either agree or not), so it is no evidence of agreement.
Compare the spaces' leaders in the findings and the paired differences instead; τ needs at least {{ rank.min_tau_generators }} generators (the values are still in the table files).</p>{% endif %}
<div class="two">
{% for tm in rank.taus %}<div><h3>{{ tm.title }}</h3>
{% if tm.heatmap %}<img class="fig" src="{{ tm.heatmap }}" alt="Kendall tau heatmap">{% endif %}
<div class="tbl"><table class="data"><thead><tr><th class="l">τ</th>{% for sp in rank.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in tm.rows %}<tr><td class="l">{{ space(row.space) }}</td>{% for c in row.cells %}{{ n(c) }}{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(rank.links.tau) }}</div></div>{% endfor %}
</div>
{% if rank.taus %}<p class="muted small">τ = 1: the two spaces rank the generators identically; −1: in reverse. – : a ranking is constant.</p>{% endif %}

<h2 id="stability">Rank stability (FD)</h2>
<div class="tbl"><table class="data"><thead><tr><th class="l">generator</th>{% for sp in rank.spaces %}<th>{{ space(sp) }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rank.stability %}<tr><td class="l">{{ row.generator }}</td>{% for c in row.cells %}
<td>rank <b>{{ c.rank }}</b> · kept in {{ c.stability|pct }}<br><span class="small">mean rank {{ c.rank_mean|num }}, {{ ci_level }} range {{ c.rank_ci_low|int }}–{{ c.rank_ci_high|int }}</span></td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(rank.links.rankings) }}</div>
{% endif %}

{# --------------------------------------------------------- explained FD ----- #}
{% if explained %}
<h2 id="explained">Explained FD</h2>
<p class="muted small">How much of each generator's FD to the reference the prevalence gap of one scored attribute explains: the generated set is reweighted
(method: {{ explained.method }}) to the reference prevalence of that attribute and FD is measured again. FD drop = FD − FD after matching; share explained = drop / FD.
{{ explained.ci_label }} bootstrap percentile intervals over {{ explained.n_boot }} replicates resampling both sets.
Thresholds: {% for a, t in explained.thresholds.items() %}{{ a }} ≥ {{ t|num }}{% if not loop.last %}, {% endif %}{% endfor %}.</p>
<div class="box warn" id="explained-assumptions"><b>Assumptions of the explained FD</b> (no peer tool offers this estimate; read it with these in mind)<ul>
{% for a in explained.assumptions %}<li>{{ a }}</li>{% endfor %}</ul></div>
{% if explained.prevalence %}<h3>Attribute prevalence per set</h3>
<div class="tbl"><table class="data"><thead><tr><th class="l">set</th>{% for a in explained.attributes %}<th>{{ a }} ≥ {{ explained.thresholds[a]|num }}</th>{% endfor %}</tr></thead><tbody>
{% for row in explained.prevalence %}<tr><td class="l">{{ row.set }}{% if row.role == "reference" %} <span class="muted small">(reference)</span>{% endif %}</td>{% for c in row.cells %}
<td>{% if c %}{{ c.prevalence|pct }}<br><span class="small">mean score {{ c.mean|num }}</span>{% else %}–{% endif %}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>{{ links(explained.prevalence_links) }}</div>{% endif %}
{% for g in explained.generators %}
<h3 id="{{ g.anchor }}">{{ g.generator }} vs reference</h3>
<div class="tbl"><table class="data"><thead><tr><th class="l">attribute</th><th>prevalence<br>generator / reference</th><th class="l">space</th><th>FD</th><th>FD after matching</th><th>FD drop {{ explained.ci_label }}</th><th>share explained {{ explained.ci_label }}</th></tr></thead><tbody>
{% for b in g.blocks %}{% for r in b.rows %}<tr>{% if loop.first %}<td class="l" rowspan="{{ b.rows|length }}"><b>{{ b.attribute }}</b></td>
<td rowspan="{{ b.rows|length }}">{{ b.p_gen|pct }} / {{ b.p_ref|pct }}<br><span class="small">gap {{ (100 * b.gap)|round(0)|int }} points</span></td>{% endif %}
<td class="l">{{ space(r.space) }}</td>
{% if r.status %}<td colspan="4" class="l small">{{ r.fd|num }} · not estimated: {{ r.status }}</td>
{% else %}<td>{{ r.fd|num }}</td><td>{{ r.fd_matched|num }}</td><td>{{ r.drop|num }} {{ ci(r.drop_lo, r.drop_hi) }}</td><td>{{ r.share|pct }} <span class="ci">[{{ r.share_lo|pct }}, {{ r.share_hi|pct }}]</span></td>{% endif %}</tr>
{% endfor %}{% endfor %}
</tbody></table>{{ links(explained.links) }}</div>
{% endfor %}
<p class="muted small">A share near 100%: the attribute's prevalence gap accounts for (almost) all of the FD in that space; near 0: the FD comes from elsewhere.
A negative drop: matching the prevalence moves the generated set away from the reference in that space. Shares of different attributes are not additive.</p>
{% endif %}

{# ------------------------------------------------------- maps, nearest faces --- #}
{% set mp = maps %}{% if mp %}
<h2 id="maps">Embedding maps and nearest faces</h2>
{% if mp.blocks %}<p class="muted small">Each panel: one joint {{ 'PaCMAP' if mp.method == 'pacmap' else mp.method|upper }} map (seed {{ mp.seed }}) of
{% if mp.sweep %}the base faces (grey) and the edit's twins (the space's colour), each pair joined by a faint line{% else %}the reference (grey) and the generator's faces (the space's colour){% endif %},
the first {{ mp.max_faces }} faces of each set. A map shows neighbourhoods: its axes have no units, and sizes and distances are not comparable between panels.
{% if mp.sweep %}Twins mixed in among the base faces: the space places edited faces where unedited ones lie; a separate cloud: the space separates the edit.{% else %}A generator cloud apart from the reference's: the space separates them.{% endif %}</p>
{% for b in mp.blocks %}<img class="fig" src="{{ b.figure }}" alt="embedding map: {{ b.name }}">{% endfor %}
{% elif mp.missing %}<p class="muted">No embedding maps: {{ mp.missing }}.</p>{% endif %}
{% set fc = mp.faces %}{% if fc %}
<h3>Nearest faces</h3>
<p class="muted small">For each of the first {{ fc.queries }} base faces (outlined), its {{ fc.k }} nearest faces (Euclidean, in the space) among the {{ fc.pool }} faces whose images the run keeps: the first {{ fc.per_set }} seeds of each set ({{ fc.sets }}). Green outline: the query's own edited twin; d: the distance.</p>
{% for g in fc.grids %}<h4>{{ space(g.space) }}</h4>
{% for row in g.rows %}<div class="faces">{% for c in row.cells %}<figure class="{{ c.css }}">{% if c.pic %}{{ pic(c.pic) }}{% else %}<span class="muted small">no image</span>{% endif %}<figcaption>{{ c.caption }}<br>{{ c.detail }}</figcaption></figure>{% endfor %}</div>
{% endfor %}{% endfor %}{% endif %}
{{ links(mp.links) }}
{% endif %}

{# ------------------------------------------------------------- provenance ---- #}
{% set pv = provenance %}
<h2 id="provenance">Provenance</h2>
<h3>Run</h3>
<div class="tbl"><table class="data"><tbody>{% for k, val in pv.run %}<tr><th class="l">{{ k }}</th><td class="l">{{ val }}</td></tr>{% endfor %}</tbody></table>{{ links(pv.links) }}</div>
<h3>This report</h3>
<div class="tbl"><table class="data"><tbody>{% for k, val in pv.report %}<tr><th class="l">{{ k }}</th><td class="l"><code>{{ val }}</code></td></tr>{% endfor %}</tbody></table>{{ links(pv.links) }}</div>
<h3>Weight files (sha256)</h3>
<div class="tbl"><table class="data sortable"><thead><tr><th class="l">role</th><th class="l">name</th><th class="l">sha256</th></tr></thead><tbody>
{% for w in pv.weights %}<tr><td class="l">{{ w.what }}</td><td class="l">{{ w.name }}</td><td class="l"><code>{{ w.sha256 }}</code></td></tr>{% endfor %}
</tbody></table>{{ links(pv.links) }}</div>
{% if pv.weights_missing %}<p class="muted small">Scorers without a recorded weight hash in this run: {{ pv.weights_missing|join(", ") }}.</p>{% endif %}
<h3>Feature spaces</h3>
<div class="tbl"><table class="data"><thead><tr><th class="l">space</th><th>dim</th><th class="l">weights sha256</th><th class="l">preprocessing</th></tr></thead><tbody>
{% for s in pv.spaces %}<tr><td class="l">{{ space(s.space) }}</td><td>{{ s.dim }}</td><td class="l"><code>{{ s.sha or "none (random weights)" }}</code></td><td class="l small"><code>{{ s.preprocessing }}</code></td></tr>{% endfor %}
</tbody></table>{{ links(pv.links) }}</div>
{% if pv.generators %}<h3>Generators</h3>
<div class="tbl"><table class="data"><thead><tr><th class="l">set</th><th class="l">description</th></tr></thead><tbody>
{% for g in pv.generators %}<tr><td class="l">{{ g.name }}</td><td class="l small"><code>{{ g.text }}</code></td></tr>{% endfor %}</tbody></table>{{ links(pv.links) }}</div>{% endif %}
{% if pv.interventions %}<h3>Interventions (as prepared by the run)</h3>
<div class="tbl"><table class="data"><thead><tr><th class="l">edit</th><th class="l">description</th></tr></thead><tbody>
{% for i in pv.interventions %}<tr><td class="l">{{ i.name }}</td><td class="l small"><code>{{ i.text }}</code></td></tr>{% endfor %}</tbody></table>{{ links(pv.links) }}</div>{% endif %}
<h3>Versions</h3>
<div class="tbl"><table class="data sortable"><thead><tr><th class="l">package</th><th class="l">run</th><th class="l">report</th></tr></thead><tbody>
{% for row in pv.versions %}<tr><td class="l">{{ row.name }}</td><td class="l">{{ row.run }}</td><td class="l">{{ row.report }}</td></tr>{% endfor %}</tbody></table>{{ links(pv.links) }}</div>
<h3>Tables (sha256)</h3>
<div class="tbl"><table class="data sortable"><thead><tr><th class="l">file</th><th class="l">sha256</th></tr></thead><tbody>
{% for name, sha in pv.tables %}<tr><td class="l"><a href="{{ pv.table_links[name] }}" download><code>{{ name }}</code></a></td><td class="l"><code>{{ sha }}</code></td></tr>{% endfor %}</tbody></table>{{ links(pv.links) }}</div>
<h3>Config ({{ pv.config_format }}; run it with <code>{{ pv.run_hint }}</code>)</h3>
<pre>{{ pv.config }}</pre>
</main>
<script>{{ script|safe }}</script>
</body></html>
"""


def render(context: dict[str, Any]) -> str:
    """The report HTML from its context (autoescaped)."""
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(
        num=numbers.num,
        pval=numbers.pval,
        pct=numbers.pct,
        count=numbers.count,
        sortkey=numbers.sort_key,
    )
    env.globals.update(interval=numbers.interval)
    return env.from_string(TEMPLATE).render(css=CSS, script=SCRIPT, **context)
