"""The HTML report: one self-contained file, untrained spaces labelled, every section present.

The run directories are synthetic: tables written here in the sweep's (and the rank
engine's) schema, plus a few tiny sample images.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from counterfactual.cli import main
from counterfactual.rank.ranking import kendall_tau_table, metric_table, ranking_table
from counterfactual.report import build_report, load_run
from counterfactual.run import RunDir, write_table
from counterfactual.run.schemas import EXPLAINED_COLUMNS, REGION_COLUMNS
from counterfactual.sweep.tables import dose_frame
from counterfactual.foundation.files import write_json

SPACES = {"alpha-net": True, "rand-net": False}          # name -> trained
INTERVENTIONS = ["hat", "gender", "blur:eyes", "blur:all"]
DELTAS = [0.0, 0.25, 0.5, 0.75, 1.0]
UNTRAINED = "rand-net"


def _label(space: str) -> str:
    return space if SPACES[space] else f"{space} (untrained)"


def _images(seed: int, n: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, 8, 8), dtype=np.uint8)


def _spaces_manifest() -> list[dict]:
    return [{"name": s, "label": _label(s), "trained": t, "weights_sha256": "ab12" if t else None,
             "description": {"name": s, "dim": 16, "trained": t, "preprocessing": {"resize": 8}}}
            for s, t in SPACES.items()]


def _verification(key: str) -> dict:
    shift = {"scorer": "gender", "n": 20, "mean_base": 0.2, "mean_twin": 0.7, "shift": 0.5,
             "ci_low": 0.4, "ci_high": 0.6, "sd_base": 0.3, "effect": 1.67, "p_value": 1e-6,
             "method": "t"}
    leak = {**shift, "scorer": "age", "shift": 3.0, "effect": 0.9, "ci_low": 2.0, "ci_high": 4.0}
    flags = [{"code": "leakage", "message": "scorer 'age' moved by +3 (hat leaks into age)"}] \
        if key == "hat" else []
    return {"intervention": key, "name": key, "target": "gender", "passed": not flags,
            "target_shift": shift, "leakage": {"age": leak},
            "identity": {"n": 20, "mean": 0.8, "min": 0.5,
                         "quantiles": {"q05": 0.6, "q25": 0.7, "q50": 0.8, "q75": 0.9, "q95": 0.95}},
            "thresholds": {"ci": 0.95}, "flags": flags}


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep_run")
    rd = RunDir(root)
    rng = np.random.default_rng(0)
    rows = []
    for k, iv in enumerate(INTERVENTIONS):
        for s in SPACES:
            scale = 10.0 if SPACES[s] else 1.0
            for d in DELTAS:
                for draw in range(4):
                    mean_term = scale * (0.02 + (k + 1) * 0.3 * d * d) * (1 + 0.05 * rng.normal())
                    trace_term = scale * (0.5 + 0.2 * d) * (1 + 0.05 * rng.normal())
                    rows.append({"intervention": iv, "space": s, "space_label": _label(s),
                                 "trained": SPACES[s], "delta": d, "draw": draw, "n_pairs": 20,
                                 "fd": mean_term + trace_term, "mean_term": mean_term,
                                 "trace_term": trace_term, "n_counterfactual_a": 10,
                                 "n_counterfactual_b": 10})
    write_table(dose_frame(rows), rd.tables / "dose_response")
    region = [{"intervention": "blur:eyes", "region": "eyes", "space": s, "space_label": _label(s),
               "trained": t, "n_pairs": 20, "fd": 2.0 if t else 1.0, "mean_term": 1.0,
               "trace_term": 1.0, "fd_reference": 4.0, "normalised": (2.0 if t else 1.0) / 4.0,
               "draws": 4, "draw_pairs": 16, "normalised_draw_mean": 0.5, "normalised_draw_sd": 0.05}
              for s, t in SPACES.items()]
    write_table(pd.DataFrame(region, columns=list(REGION_COLUMNS)), rd.tables / "region",
                formats=("csv", "json"))
    write_json(rd.tables / "verification.json", {iv: _verification(iv) for iv in INTERVENTIONS})
    rd.set_dir("base").mkdir(parents=True)
    np.save(rd.set_dir("base") / "sample.npy", _images(0))
    for k, iv in enumerate(INTERVENTIONS):
        rd.set_dir(iv).mkdir(parents=True)
        np.save(rd.set_dir(iv) / "sample.npy", _images(k + 1))
    write_json(rd.manifest_path, {
        "format": 1, "name": "synthetic sweep", "status": "complete",
        "config": {"name": "synthetic sweep", "description": "four attributes, two spaces",
                   "spaces": [{"name": s, "allow_untrained": not t} for s, t in SPACES.items()],
                   "interventions": [{"name": iv, "id": None, "params": {}} for iv in INTERVENTIONS],
                   "region": {"reference": "blur:all", "prefix": "blur:"}},
        "seeds": list(range(20)), "versions": {"python": "3.11", "numpy": np.__version__},
        "generator": {"spec": "dcgan-digiface", "weights_sha256": "0c3b90b1"},
        "spaces": _spaces_manifest(),
        "interventions": {iv: {"name": iv, "synthetic": iv == "hat"} for iv in INTERVENTIONS},
        "timing": {"total": 12.5}, "created": 1.7e9, "updated": 1.7e9})
    return root


@pytest.fixture(scope="module")
def sweep_html(sweep_run) -> str:
    path = build_report(sweep_run, n_boot=200, log=lambda s: None)
    assert path == sweep_run / "report.html"
    return path.read_text(encoding="utf-8")


def _strip_data(html: str) -> str:
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:IMG", html)


def _visible_occurrences_are_labelled(html: str, name: str, window: int = 60) -> list[str]:
    """Contexts of occurrences of `name` not followed by "untrained" within `window` chars."""
    text = _strip_data(html)
    bad = []
    for m in re.finditer(re.escape(name), text):
        after = text[m.end():m.end() + window]
        if "untrained" not in after:
            bad.append(text[max(0, m.start() - 60):m.end() + 80])
    return bad


def _assert_self_contained(html: str) -> None:
    refs = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', html)
    assert refs, "no images or links at all"
    for ref in refs:
        assert ref.startswith(("data:", "#")), f"external reference: {ref[:80]}"
    assert "<link" not in html and "<script" not in html and "url(" not in html
    assert not re.search(r"\b(?:src|href)\s*=\s*'", html)


def test_sweep_report_is_one_self_contained_file(sweep_run, sweep_html):
    _assert_self_contained(sweep_html)
    assert sorted(p.name for p in sweep_run.glob("*.html")) == ["report.html"]
    images = re.findall(r'<img[^>]+src="(data:image/png;base64,[^"]+)"', sweep_html)
    # per attribute: base strip, twin strip, dose plot; plus the region heatmap
    assert len(images) == 3 * len(INTERVENTIONS) + 1
    import base64
    for uri in images:
        assert base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_untrained_occurrence_is_labelled(sweep_html):
    assert UNTRAINED in sweep_html
    bad = _visible_occurrences_are_labelled(sweep_html, UNTRAINED)
    assert not bad, bad[:3]
    assert sweep_html.count('class="badge untrained"') >= 1 + 2 * len(INTERVENTIONS)
    # the trained space carries no badge right after its name
    for m in re.finditer(r'<span class="space">alpha-net</span>(.{0,40})', sweep_html):
        assert "untrained" not in m.group(1)


def test_every_intervention_has_its_section(sweep_html):
    for iv in INTERVENTIONS:
        assert f"Attribute: {iv}" in sweep_html
    assert sweep_html.count('alt="base faces"') == len(INTERVENTIONS)
    assert sweep_html.count('alt="dose-response plot"') == len(INTERVENTIONS)
    # verification numbers and flags
    assert "hat leaks into age" in sweep_html and "flagged" in sweep_html
    assert sweep_html.count('<span class="badge pass">verified</span>') == len(INTERVENTIONS) - 1
    for section in ("Cross-space summary", "Region sensitivity", "Provenance", "0c3b90b1",
                    "four attributes, two spaces"):
        assert section in sweep_html


def test_report_tables_match_independent_references(sweep_run, sweep_html):
    effects = pd.read_csv(sweep_run / "report_tables" / "effects.csv")
    assert len(effects) == len(INTERVENTIONS) * len(SPACES)
    assert set(effects.loc[effects["space"] == UNTRAINED, "space_label"]) == {"rand-net (untrained)"}
    expected = multipletests(effects["p_value"].to_numpy(), method="holm")[1]
    np.testing.assert_allclose(effects["p_holm"], expected)
    # FD at delta = 0 and 1 are the means over draws of the dose table
    dose = pd.read_parquet(sweep_run / "tables" / "dose_response.parquet")
    row = effects[(effects["intervention"] == "gender") & (effects["space"] == "alpha-net")].iloc[0]
    g = dose[(dose["intervention"] == "gender") & (dose["space"] == "alpha-net")]
    assert row["fd1"] == pytest.approx(g.loc[g["delta"] == 1.0, "fd"].mean())
    assert row["fd0"] == pytest.approx(g.loc[g["delta"] == 0.0, "fd"].mean())
    assert row["ratio_to_null"] == pytest.approx(row["fd1"] / row["fd0"])
    for name in ("curves", "fits", "null", "shares", "reactions", "region"):
        assert (sweep_run / "report_tables" / f"{name}.csv").is_file()
        assert (sweep_run / "report_tables" / f"{name}.json").is_file()


def test_cli_report_and_missing_run(sweep_run, tmp_path, capsys):
    out = tmp_path / "elsewhere.html"
    assert main(["report", str(sweep_run), "--out", str(out), "--n-boot", "50"]) == 0
    assert out.is_file() and "Attribute: gender" in out.read_text(encoding="utf-8")
    assert main(["report", str(tmp_path / "nope")]) == 1
    assert "run directory not found" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 1
    assert "no manifest.json" in capsys.readouterr().err


# ---- rank runs --------------------------------------------------------------------------------
GENERATORS = ["psi=1.0", "psi=0.8", "psi=0.6"]


@pytest.fixture(scope="module")
def rank_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rank_run")
    rd = RunDir(root)
    rng = np.random.default_rng(1)
    spaces = [{"name": s, "label": _label(s), "trained": t} for s, t in SPACES.items()]
    settings = {"n_boot": 30, "ci": 0.95, "seed": 0, "pr_k": 3, "dc_k": 5, "kid_subsets": 1,
                "kid_subset_size": 1000, "stats_version": 1}
    results = []
    for gi, g in enumerate(GENERATORS):
        for s in spaces:
            metrics = {"fd": 1.0 + gi, "kid": 0.01 * (1 + gi), "precision": 0.6 + 0.1 * gi,
                       "recall": 0.8 - 0.2 * gi, "density": 0.9 + 0.1 * gi, "coverage": 0.7 - 0.1 * gi}
            reps = {m: list(v + 0.3 * abs(v) * rng.normal(size=30)) for m, v in metrics.items()}
            results.append({
                "generator": g, "spec": "dcgan-digiface", "truncation_psi": 1.0 - 0.2 * gi,
                "truncation_cutoff": None, "space": s["name"], "space_label": s["label"],
                "trained": s["trained"], "dim": 16, "n_generator": 50, "n_reference": 50,
                "kid_subsets": 1, "settings": settings,
                "point": {**metrics, "fd_mean_term": 0.5, "fd_trace_term": 0.5 + gi,
                          "kid_subset_std": float("nan")},
                **{k: {m: v * f for m, v in metrics.items()} for k, f in
                   (("ci_low", 0.8), ("ci_high", 1.2), ("pct_low", 0.9), ("pct_high", 1.3))},
                "bias": {m: 0.0 for m in metrics}, "se": {m: 0.1 for m in metrics},
                "replicates": reps})
    metrics_df = metric_table(results)
    rankings = ranking_table(results, GENERATORS, spaces, 0.95)
    for name, frame in (("rank_metrics", metrics_df), ("rankings", rankings),
                        ("kendall_tau", kendall_tau_table(rankings, GENERATORS, spaces))):
        write_table(frame, rd.tables / name)
    _explained_tables(rd, spaces)
    for k, set_id in enumerate(["reference", *GENERATORS]):
        rd.set_dir(set_id).mkdir(parents=True)
        np.save(rd.set_dir(set_id) / "sample.npy", _images(10 + k, 4))
    write_json(rd.manifest_path, {
        "format": 1, "kind": "rank", "name": "synthetic ranking", "status": "complete",
        "config": {"name": "synthetic ranking", "spaces": [{"name": s, "allow_untrained": not t}
                                                           for s, t in SPACES.items()]},
        "seeds": list(range(50)), "versions": {"python": "3.11"},
        "reference": {"id": "reference", "spec": "dcgan-digiface", "truncation_psi": 1.0,
                      "real": False, "note": "The reference set is samples of the generator "
                      "dcgan-digiface (no real images): not real faces."},
        "sets": {g: {"id": g, "spec": "dcgan-digiface"} for g in GENERATORS},
        "spaces": _spaces_manifest()})
    return root


def _explained_tables(rd: RunDir, spaces: list[dict]) -> None:
    """tables/explained_fd and tables/prevalence in the rank engine's schema (one row not estimable)."""
    prevalence = {"reference": {"gender": 0.5, "age": 0.3},
                  **{g: {"gender": 0.5 + 0.1 * i, "age": 0.3} for i, g in enumerate(GENERATORS)}}
    rows = []
    for i, g in enumerate(GENERATORS):
        for attr, thr in (("gender", 0.5), ("age", 40.0)):
            for s in spaces:
                pg, pr = prevalence[g][attr], prevalence["reference"][attr]
                fd, drop = 2.0 + i, (0.3 * i if attr == "gender" else 0.0)
                row = {"generator": g, "attribute": attr, "space": s["name"],
                       "space_label": s["label"], "trained": s["trained"], "threshold": thr,
                       "n_gen": 50, "n_ref": 50, "prevalence_gen": pg, "prevalence_ref": pr,
                       "prevalence_gap": pg - pr, "fd": fd, "fd_matched": fd - drop,
                       "fd_drop": drop, "fd_drop_ci_low": drop - 0.1, "fd_drop_ci_high": drop + 0.1,
                       "explained_fraction": drop / fd, "explained_ci_low": drop / fd - 0.05,
                       "explained_ci_high": drop / fd + 0.05, "method": "weighted", "n_boot": 30,
                       "ci_level": 0.95, "seed": 0, "status": "ok"}
                if g == GENERATORS[2] and attr == "age" and not s["trained"]:
                    row.update({k: np.nan for k in ("fd_matched", "fd_drop", "fd_drop_ci_low",
                                                    "fd_drop_ci_high", "explained_fraction",
                                                    "explained_ci_low", "explained_ci_high")},
                               status="cannot reweight: the generated set has no image with the "
                                      "attribute")
                rows.append(row)
    write_table(pd.DataFrame(rows, columns=["generator", *EXPLAINED_COLUMNS]), rd.tables / "explained_fd")
    prev = [{"set": k, "role": "reference" if k == "reference" else "generator", "attribute": a,
             "threshold": 0.5 if a == "gender" else 40.0, "n": 50, "prevalence": p,
             "score_mean": p, "score_sd": 0.2} for k, v in prevalence.items() for a, p in v.items()]
    write_table(pd.DataFrame(prev), rd.tables / "prevalence")


def test_rank_report_explained_fd(rank_run):
    html = build_report(rank_run, log=lambda s: None).read_text(encoding="utf-8")
    assert not _visible_occurrences_are_labelled(html, UNTRAINED)
    section = html[html.index('<h2 id="explained">'):html.index('<h2 id="provenance">')]
    assert "Explained FD" in section and 'href="#explained"' in html
    # the assumptions box, stated in full
    assert 'id="explained-assumptions"' in section and 'class="box warn"' in section
    for needle in ("binary after thresholding", "within-group", "scorer", "one at a time",
                   "not additive"):
        assert needle in section, needle
    # one table per generator, with prevalences, FD, matched FD, drop and share
    for g in GENERATORS:
        assert f"{g} vs reference" in section
    assert "60% / 50%" in section                      # psi=0.8: gender prevalence gen / ref
    assert "FD after matching" in section and "share explained" in section
    assert '10% <span class="ci">[5%, 15%]</span>' in section   # psi=0.8 gender: 0.3 / 3.0
    assert "not estimated: cannot reweight" in section
    assert section.count("untrained") >= 2 * len(GENERATORS)


def test_rank_report(rank_run):
    html = build_report(rank_run, log=lambda s: None).read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert not _visible_occurrences_are_labelled(html, UNTRAINED)
    for needle in ("Rankings", "FD (lower is closer)", "Kendall", "Rank stability", "not real faces",
                   "Precision", "Recall", "Coverage", "KID", *GENERATORS):
        assert needle in html, needle
    assert "Attribute:" not in html
    # sample strips for the reference and every generator, tau heatmaps, CI figures
    assert html.count('alt="samples"') == 1 + len(GENERATORS)
    assert html.count('alt="Kendall tau heatmap"') == 2
    run = load_run(rank_run)
    assert run.kind == "rank" and not run.space(UNTRAINED).trained


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed")
def test_report_renders_in_headless_chromium(sweep_run, sweep_html, tmp_path):
    png = tmp_path / "shot.png"
    script = Path(__file__).resolve().parents[1] / "experiments" / "render_report.sh"
    subprocess.run(["bash", str(script), str(sweep_run / "report.html"), str(png), "1200,1600"],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image
    img = np.asarray(Image.open(png).convert("L"))
    assert img.shape == (1600, 1200)
    assert (img < 128).mean() > 0.01          # text and figures, not a blank page
