"""The demo-shaped report rendered in headless Chromium (Debian's `chromium`), checked from the
rendered page: no page-level horizontal overflow at 800 px, every image decodes, the findings
box is the first section, every table has a download link to an existing file, and a click on
a sortable column header sorts the rows.

A probe script is appended to a copy of the report (the product page carries no test code); it
writes its measurements as JSON into the DOM, which `chromium --dump-dom` prints. Without the
browser the test skips locally and fails in CI (CI=true), where `.ci/run` installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from counterfactual.report import build_report
from helpers.report_fakes import write_sweep_run

DEMO_SPACES = {
    "inception-fid": True,
    "arcface": True,
    "gender-classifier": True,
    "random-inception": False,
}
DEMO_INTERVENTIONS = [
    "gender",
    "age",
    "truncation",
    "hat",
    "blur:eyes",
    "blur:mouth",
    "blur:hair",
    "blur:all",
]
DEMO_DELTAS = [round(0.05 * i, 2) for i in range(21)]

PROBE = r"""
<script>
window.addEventListener('load', function () {
  var r = {}, doc = document.documentElement;
  r.innerWidth = window.innerWidth;
  r.scrollWidth = Math.max(doc.scrollWidth, document.body.scrollWidth);
  r.clientWidth = doc.clientWidth;
  r.images = Array.prototype.map.call(document.images, function (i) {
    return {alt: i.alt, complete: i.complete, w: i.naturalWidth, shown: i.getBoundingClientRect().width};
  });
  r.strips = Array.prototype.map.call(document.querySelectorAll('svg.strip'), function (s) {
    var b = s.getBoundingClientRect(), ref = s.querySelector('use').getAttribute('href');
    return {ref: ref, defined: !!document.querySelector(ref), w: b.width, h: b.height};
  });
  r.stripSources = Array.prototype.map.call(document.querySelectorAll('svg defs image'), function (el) {
    return el.getAttribute('href');
  });
  var first = document.querySelector('main section');
  r.firstSection = first ? first.id : null;
  r.findingsTop = first ? first.getBoundingClientRect().top : null;
  r.findingsItems = first ? first.querySelectorAll('li').length : 0;
  r.tables = Array.prototype.map.call(document.querySelectorAll('table'), function (t) {
    var box = t.closest('.tbl'), a = box ? box.querySelector(':scope > .dl a[href]') : null;
    return {href: a ? a.getAttribute('href') : null};
  });
  r.wide = Array.prototype.filter.call(document.querySelectorAll('main *'), function (e) {
    return !e.closest('.tbl') && !e.closest('svg') && e.getBoundingClientRect().right > doc.clientWidth + 1;
  }).slice(0, 5).map(function (e) { return e.tagName + '.' + e.className; });
  var table = document.querySelector('table.sortable'), col = 5;
  var th = table.tHead.rows[0].cells[col];
  th.click();
  r.sorted = Array.prototype.map.call(table.tBodies[0].rows, function (row) {
    return row.cells[col].getAttribute('data-sort');
  });
  r.sortState = th.getAttribute('aria-sort');
  var out = document.createElement('pre');
  out.id = 'probe-result';
  out.textContent = JSON.stringify(r);
  document.body.appendChild(out);
});
</script>
"""


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = (
        "headless Chromium not found (Debian: apt-get install -y chromium; .ci/run installs it)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _probe(browser: str, html: Path, width: int, profile: Path) -> dict:
    probe = html.with_name("probe_" + html.name)
    probe.write_text(
        html.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8"
    )
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},1000",
        "--virtual-time-budget=5000",
        "--dump-dom",
        probe.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    probe.unlink()
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', done.stdout, flags=re.S)
    assert match, f"the probe did not run (rc {done.returncode}): {done.stderr[-2000:]}"
    import html as html_lib

    return json.loads(html_lib.unescape(match.group(1)))


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    root = write_sweep_run(
        tmp_path_factory.mktemp("demo_like"),
        DEMO_SPACES,
        DEMO_INTERVENTIONS,
        DEMO_DELTAS,
        draws=10,
        res=64,
        n_images=16,
        dims=512,
    )
    return build_report(root, n_boot=100, log=lambda s: None)


def _check_page(r: dict, run_dir: Path) -> None:
    assert r["firstSection"] == "findings" and r["findingsItems"] >= 4
    assert r["images"], "no <img> at all"
    for img in r["images"]:
        assert img["complete"] and img["w"] > 0, f"image does not decode: {img}"
    assert r["strips"] and all(s["defined"] and s["w"] > 0 and s["h"] > 0 for s in r["strips"])
    assert r["tables"] and all(t["href"] for t in r["tables"]), (
        f"{sum(not t['href'] for t in r['tables'])} tables without a download link"
    )
    for t in r["tables"]:
        assert (run_dir / t["href"]).is_file(), t["href"]


def test_demo_report_in_headless_chromium(demo_report, tmp_path):
    browser = _browser()
    assert demo_report.stat().st_size < 1_000_000
    narrow = _probe(browser, demo_report, 800, tmp_path / "profile800")
    assert narrow["innerWidth"] == 800
    assert narrow["scrollWidth"] <= narrow["clientWidth"], (
        f"page is {narrow['scrollWidth']} px wide at 800 px: {narrow['wide']}"
    )
    assert not narrow["wide"], narrow["wide"]
    _check_page(narrow, demo_report.parent)
    # the strips decode too: each source loads as an image in the same browser
    for uri in narrow["stripSources"]:
        assert uri.startswith("data:image/jpeg;base64,")
    wide = _probe(browser, demo_report, 1400, tmp_path / "profile1400")
    _check_page(wide, demo_report.parent)
    assert wide["findingsTop"] < 150  # the findings box opens the page
    # sorting: the clicked numeric column is ascending afterwards
    values = [float(v) for v in wide["sorted"] if v not in ("", None)]
    assert wide["sortState"] == "ascending" and values == sorted(values) and len(values) > 1
