"""The HTML report: one self-contained file (plus links to its run's tables), untrained spaces
labelled, findings first, every section present.

The run directories are synthetic: tables written here in the sweep's (and the rank
engine's) schema, plus a few tiny sample images.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from counterfactual.cli import main
from counterfactual.foundation.files import write_json
from counterfactual.rank.paired import paired_table
from counterfactual.rank.ranking import kendall_tau_table, metric_table, ranking_table
from counterfactual.report import build_report, load_run
from counterfactual.report.numbers import num
from counterfactual.run import RunDir, write_table
from counterfactual.run.features import FeatureIndex
from counterfactual.run.schemas import EXPLAINED_COLUMNS, FLOOR_COLUMNS
from helpers.paths import ROOT
from helpers.report_fakes import TITLES, images, label, write_sweep_run

SPACES = {"alpha-net": True, "beta-net": True, "rand-net": False}  # name -> trained
INTERVENTIONS = ["hat", "gender", "blur:eyes", "blur:all"]
DELTAS = [0.0, 0.25, 0.5, 0.75, 1.0]
UNTRAINED = "rand-net"


def _label(space: str) -> str:
    return label(space, SPACES[space])


def _images(seed: int, n: int = 5) -> np.ndarray:
    return images(seed, n)


def _spaces_manifest() -> list[dict]:
    return [
        {
            "name": s,
            "label": _label(s),
            "trained": t,
            "weights_sha256": "ab12" if t else None,
            "description": {"name": s, "dim": 16, "trained": t, "preprocessing": {"resize": 8}},
        }
        for s, t in SPACES.items()
    ]


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory) -> Path:
    return write_sweep_run(tmp_path_factory.mktemp("sweep_run"), SPACES, INTERVENTIONS, DELTAS)


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
        after = text[m.end() : m.end() + window]
        if "untrained" not in after:
            bad.append(text[max(0, m.start() - 60) : m.end() + 80])
    return bad


def _assert_self_contained(html: str, html_dir: Path) -> None:
    """Images and styles embedded; the only links outside the page are relative links to
    files that exist (the run's tables and manifest)."""
    refs = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', html)
    assert refs, "no images or links at all"
    files = 0
    for ref in refs:
        if ref.startswith(("data:", "#")):
            continue
        assert "://" not in ref and not ref.startswith("/"), f"external reference: {ref[:80]}"
        assert (html_dir / ref).is_file(), f"link to a missing file: {ref}"
        files += 1
    assert files, "no download links"
    assert "<link" not in html and "url(" not in html
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"\b(?:src|href)\s*=\s*'", html)


def test_sweep_report_is_one_self_contained_file(sweep_run, sweep_html):
    _assert_self_contained(sweep_html, sweep_run)
    assert sorted(p.name for p in sweep_run.glob("*.html")) == ["report.html"]
    figures = re.findall(r'<img[^>]+src="(data:image/png;base64,[^"]+)"', sweep_html)
    # per attribute its dose plot and its embedding map; plus the region heatmap
    assert len(figures) == 2 * len(INTERVENTIONS) + 1
    # strips: the base strip and each twin strip are embedded once, shown by reference
    # (the nearest-face thumbnails, shown only in their grids, apart)
    maps = sweep_html[sweep_html.index('id="maps"') : sweep_html.index('id="provenance"')]
    thumbs = set(re.findall(r'href="#(img-[0-9a-f]+)"', maps))
    strips = [
        s
        for s in re.findall(
            r'<image id="(img-[0-9a-f]+)"[^>]+href="(data:image/jpeg;base64,[^"]+)"', sweep_html
        )
        if s[0] not in thumbs
    ]
    assert thumbs
    assert len(strips) == 1 + len(INTERVENTIONS) == len({u for _, u in strips})
    uses = re.findall(r'<use href="#(img-[0-9a-f]+)"', sweep_html.replace(maps, ""))
    assert len(uses) == 2 * len(INTERVENTIONS) and set(uses) == {i for i, _ in strips}
    import base64

    for uri in figures:
        assert base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for _, uri in strips:
        assert base64.b64decode(uri.split(",", 1)[1])[:3] == b"\xff\xd8\xff"  # JPEG
    base = [u for i, u in strips if uses.count(i) == len(INTERVENTIONS)]
    assert len(base) == 1  # the base strip, used once per intervention
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(base[0].split(",", 1)[1])))
    assert img.size == (5 * 8 + 4 * 2, 8)  # 5 faces of 8 px at native size, 2 px gaps


def test_every_untrained_occurrence_is_labelled(sweep_html):
    assert UNTRAINED in sweep_html
    bad = _visible_occurrences_are_labelled(sweep_html, UNTRAINED)
    assert not bad, bad[:3]
    assert sweep_html.count('class="badge untrained"') >= 1 + 2 * len(INTERVENTIONS)
    # the trained space carries no badge right after its name
    for m in re.finditer(r'<span class="space">alpha-net</span>(.{0,40})', sweep_html):
        assert "untrained" not in m.group(1)


def _section(html: str, key: str) -> str:
    start = html.index(f'id="a-attr-{re.sub(r"[^A-Za-z0-9_-]+", "-", key)}"')
    return html[start : html.index("</section>", start)]


def test_every_intervention_has_its_section(sweep_html):
    for iv in INTERVENTIONS:
        assert f"<h2>{TITLES[iv]}" in sweep_html, iv
        assert "Attribute:" not in sweep_html
    assert sweep_html.count('aria-label="base faces"') == len(INTERVENTIONS)
    assert sweep_html.count('alt="dose-response plot"') == len(INTERVENTIONS)
    # verification badges: flagged (leakage), verified, not verifiable (no target scorer),
    # reference distortion (the region reference: its flags are expected, not failures)
    badges = {
        iv: re.findall(
            r'<span class="badge (?:pass|fail|neutral|ref)">([^<]+)</span>',
            _section(sweep_html, iv),
        )
        for iv in INTERVENTIONS
    }
    assert badges == {
        "hat": ["flagged"],
        "gender": ["verified"],
        "blur:eyes": ["not verifiable"],
        "blur:all": ["reference distortion"],
    }
    assert "hat leaks into age" in _section(sweep_html, "hat")
    assert "Expected for a reference distortion" in _section(sweep_html, "blur:all")
    # direction quality from the manifest, scorer units, the edit in words
    gender = _section(sweep_html, "gender")
    assert "held-out balanced accuracy <b>0.650</b>, AUC 0.710" in gender and "weak" in gender
    assert "(quantile rule)" in gender
    assert "(P(male))" in gender and "strength α = 3 (default)" in gender
    # region edits show their own region result
    assert "Region result" in _section(sweep_html, "blur:eyes")
    for section in (
        "Cross-space summary",
        "Region sensitivity",
        "Provenance",
        "0c3b90b1",
        "4 attributes, 3 spaces",
    ):
        assert section in sweep_html


def test_findings_box_comes_first_and_states_intervals(sweep_run, sweep_html):
    body = sweep_html[sweep_html.index("<main>") :]
    assert body[body.index("<section") :].startswith('<section id="findings"')
    assert body.index('id="findings"') < body.index('id="design"') < body.index('class="toc"')
    box = body[body.index('id="findings"') : body.index("</section>")]
    effects = pd.read_csv(sweep_run / "report_tables" / "effects.csv")
    from counterfactual.report.numbers import estimate

    reactions = pd.read_csv(sweep_run / "report_tables" / "reactions.csv")
    for iv in ("gender", "hat"):  # the cross-space relative reaction, with its interval
        row = reactions[
            (reactions["intervention"] == iv) & (reactions["space"] == "alpha-net")
        ].iloc[0]
        assert estimate(row["relative"], row["relative_ci_low"], row["relative_ci_high"]) in box
    assert set(effects["intervention"]) >= {"gender", "hat"}
    assert "rand-net" in box and "left out of every comparison" in box
    assert "Hat</b> failed verification" in box
    assert "Eyes blurred</b>" in box and "Not verifiable" in box
    assert "held-out balanced accuracy 0.650 (AUC 0.710" in box
    assert "Bias floor" in box and "20 faces" in box


def test_every_table_links_its_file_and_numbers_are_uniform(sweep_run, sweep_html):
    tables = re.findall(r'<div class="tbl"><table.*?</table>(.*?)</div>', sweep_html, flags=re.S)
    assert len(tables) == sweep_html.count("<table")
    for after in tables:
        assert '<p class="dl">download: <a href=' in after
    assert 'href="report_tables/effects.csv"' in sweep_html
    assert 'href="tables/dose_response.parquet"' in sweep_html
    # provenance: weight hashes (incl. the scorer network of a learned direction), report
    # settings and command, config as TOML that reads back, versions of the report build
    prov = sweep_html[sweep_html.index('id="provenance"') :]
    assert "e7" * 32 in prov and "f1" * 32 in prov and "0c3b90b1" in prov
    assert "n_boot = 200" in prov and "statsmodels" in prov and "scikit-learn" in prov
    assert "held_out_balanced_accuracy" in prov  # interventions as prepared, not as configured
    import html as html_lib
    import tomllib

    toml_text = html_lib.unescape(re.search(r"<pre>(.*?)</pre>", prov, flags=re.S).group(1))
    assert tomllib.loads(toml_text)["name"] == "synthetic sweep"
    # no number in the effects table carries more than 3 significant digits
    effects = _section(sweep_html, "gender")
    cells = re.findall(r'<td data-sort="[^"]*">(?:<b>)?([-0-9.e]+)(?:</b>)?</td>', effects)
    assert cells
    for c in cells:
        digits = c.split("e")[0].replace("-", "").replace(".", "").lstrip("0")
        assert len(digits) <= 3 or set(digits[3:]) == {"0"}, c


def test_report_tables_match_independent_references(sweep_run, sweep_html):
    effects = pd.read_csv(sweep_run / "report_tables" / "effects.csv")
    attributes = [iv for iv in INTERVENTIONS if iv != "blur:all"]  # blur:all is the reference
    assert len(effects) == len(attributes) * len(SPACES)
    assert set(effects.loc[effects["space"] == UNTRAINED, "space_label"]) == {
        "rand-net (untrained)"
    }
    expected = multipletests(effects["p_value"].to_numpy(), method="holm")[1]
    np.testing.assert_allclose(effects["p_holm"], expected)
    assert (effects["family_size"] == len(effects)).all()
    assert (effects["n_perm"] == 2 * len(effects) / 0.05 - 1).all()
    assert (effects["p_value"] >= 1 / (effects["n_perm"] + 1) - 1e-15).all()
    # FD at delta = 1 is FD(base, twin) on every face; the descriptive draw columns are the
    # dose table's mean and SD over draws
    from counterfactual.metrics import frechet_distance_features

    index = FeatureIndex(RunDir(sweep_run))
    row = effects[(effects["intervention"] == "gender") & (effects["space"] == "alpha-net")].iloc[0]
    ref = frechet_distance_features(
        index.load("base", "alpha-net"), index.load("gender", "alpha-net")
    )
    assert row["fd1"] == pytest.approx(ref.value, rel=1e-9)
    assert row["sensitivity"] == pytest.approx(row["fd1"] - row["fd0"], rel=1e-9)
    dose = pd.read_parquet(sweep_run / "tables" / "dose_response.parquet")
    g = dose[(dose["intervention"] == "gender") & (dose["space"] == "alpha-net")]
    assert row["fd1_draws_mean"] == pytest.approx(g.loc[g["delta"] == 1.0, "fd"].mean())
    assert row["fd1_draws_sd"] == pytest.approx(g.loc[g["delta"] == 1.0, "fd"].std())
    reference = pd.read_csv(sweep_run / "report_tables" / "reference.csv")
    assert set(reference["intervention"]) == {"blur:all"}
    reactions = pd.read_csv(sweep_run / "report_tables" / "reactions.csv")
    assert (reactions["normaliser"] == "reference").all()
    assert not reactions["compared_with"].fillna("").str.contains(UNTRAINED).any()
    judged = reactions[reactions["trained"] & reactions["relative"].notna()]
    assert len(judged)
    for _, r in judged.iterrows():  # the verdict needs the interval and the flip test
        test = r["p_value"] <= 0.05 / r["n_verdicts"]
        assert r["reaction"] == (
            "over"
            if test and r["relative_ci_low"] > 1
            else "under"
            if test and r["relative_ci_high"] < 1
            else "in line"
        )
    assert (reactions.loc[~reactions["trained"], "reaction"] == "not judged (untrained)").all()
    for name in ("curves", "fits", "shares", "effects", "reference", "region"):
        assert (sweep_run / "report_tables" / f"{name}.csv").is_file()
        assert (sweep_run / "report_tables" / f"{name}.json").is_file()
    # a p-value at the permutation floor is printed as a bound, with its resolution
    floor = 1 / (effects["n_perm"].iloc[0] + 1)
    from counterfactual.report.numbers import num

    assert f"\u2264{num(floor)}" in sweep_html and f"resolution {num(floor)}" in sweep_html


def test_strength_section_shows_each_family_per_space(sweep_run):
    """A run whose edits are one distortion at two strengths gets the "Dose-response over
    strength" section: the figure, and per family x strength x space the effects table's S and
    interval (the fake run's edits renamed noise@4 / noise@16)."""
    from counterfactual.analysis import sweep_tables
    from counterfactual.analysis.strength import strength_response
    from counterfactual.report.build import build_context
    from counterfactual.report.template import render

    run = load_run(sweep_run)
    derived = sweep_tables(run, n_boot=50, permutations=19)
    assert derived.strength is None  # no "@" families in the fake run
    renamed = derived.effects.replace({"intervention": {"hat": "noise@4", "gender": "noise@16"}})
    derived.strength = strength_response(renamed)
    html = render(build_context(run, derived))
    assert 'id="strength"' in html and "Dose-response over strength" in html
    assert "sensitivity against strength per space" in html
    section = html[html.index('id="strength"') : html.index('id="probes"')]
    for old, new in (("hat", 4), ("gender", 16)):
        for _, r in derived.effects[derived.effects["intervention"] == old].iterrows():
            assert f'data-sort="{new}' in section
            assert num(r["sensitivity"]) in section and num(r["sensitivity_ci_low"]) in section
    assert UNTRAINED in section and "untrained" in section


def test_cli_report_and_missing_run(sweep_run, tmp_path, capsys):
    out = tmp_path / "elsewhere.html"
    assert main(["report", str(sweep_run), "--out", str(out), "--n-boot", "50"]) == 0
    text = out.read_text(encoding="utf-8")
    assert out.is_file() and "Gender edit" in text
    # links are relative to the HTML file's folder, and the command line is recorded
    _assert_self_contained(text, out.parent)
    assert "counterfactual report" in text and "--n-boot 50" in text
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
    return _write_rank_run(tmp_path_factory.mktemp("rank_run"), GENERATORS)


@pytest.fixture(scope="module")
def rank_run_two(tmp_path_factory) -> Path:
    return _write_rank_run(tmp_path_factory.mktemp("rank_run_two"), GENERATORS[:2])


def _write_rank_run(root: Path, GENERATORS: list[str]) -> Path:
    rd = RunDir(root)
    rng = np.random.default_rng(1)
    spaces = [{"name": s, "label": _label(s), "trained": t} for s, t in SPACES.items()]
    settings = {
        "n_boot": 30,
        "ci": 0.95,
        "seed": 0,
        "pr_k": 3,
        "dc_k": 5,
        "kid_subsets": 1,
        "kid_subset_size": 1000,
        "stats_version": 1,
    }
    results = []
    for gi, g in enumerate(GENERATORS):
        for s in spaces:
            metrics = {
                "fd": 1.0 + gi,
                "kid": 0.01 * (1 + gi),
                "precision": 0.6 + 0.1 * gi,
                "recall": 0.8 - 0.2 * gi,
                "density": 0.9 + 0.1 * gi,
                "coverage": 0.7 - 0.1 * gi,
            }
            reps = {m: list(v + 0.3 * abs(v) * rng.normal(size=30)) for m, v in metrics.items()}
            results.append(
                {
                    "generator": g,
                    "spec": "dcgan-digiface",
                    "truncation_psi": 1.0 - 0.2 * gi,
                    "truncation_cutoff": None,
                    "space": s["name"],
                    "space_label": s["label"],
                    "trained": s["trained"],
                    "dim": 16,
                    "n_generator": 50,
                    "n_reference": 50,
                    "kid_subsets": 1,
                    "settings": settings,
                    "point": {
                        **metrics,
                        "fd_mean_term": 0.5,
                        "fd_trace_term": 0.5 + gi,
                        "kid_subset_std": float("nan"),
                    },
                    **{
                        k: {m: v * f for m, v in metrics.items()}
                        for k, f in (
                            ("ci_low", 0.8),
                            ("ci_high", 1.2),
                            ("pct_low", 0.9),
                            ("pct_high", 1.3),
                        )
                    },
                    "bias": {m: 0.0 for m in metrics},
                    "se": {m: 0.1 for m in metrics},
                    "replicates": reps,
                }
            )
    metrics_df = metric_table(results)
    rankings = ranking_table(results, GENERATORS, spaces, 0.95)
    floor = pd.DataFrame(
        [
            {
                "space": s["name"],
                "space_label": s["label"],
                "trained": s["trained"],
                "set": k,
                "role": "reference" if k == "reference" else "generator",
                "n_a": 25,
                "n_b": 25,
                "fd": 0.5 + i,
                "fd_sd": 0.05,
                "splits": 5,
                "seed": 0,
            }
            for i, k in enumerate(["reference", *GENERATORS])
            for s in spaces
        ],
        columns=list(FLOOR_COLUMNS),
    )
    for name, frame in (
        ("rank_metrics", metrics_df),
        ("rankings", rankings),
        ("kendall_tau", kendall_tau_table(rankings, GENERATORS, spaces)),
        ("paired_differences", paired_table(results, GENERATORS, spaces, 0.95)),
        ("reference_floor", floor),
    ):
        write_table(frame, rd.tables / name)
    if len(GENERATORS) > 2:
        _explained_tables(rd, spaces)
    for k, set_id in enumerate(["reference", *GENERATORS]):
        rd.set_dir(set_id).mkdir(parents=True)
        np.save(rd.set_dir(set_id) / "sample.npy", _images(10 + k, 4))
    write_json(
        rd.manifest_path,
        {
            "format": 1,
            "kind": "rank",
            "name": "synthetic ranking",
            "status": "complete",
            "config": {
                "name": "synthetic ranking",
                "spaces": [{"name": s, "allow_untrained": not t} for s, t in SPACES.items()],
            },
            "seeds": list(range(50)),
            "versions": {"python": "3.11"},
            "reference": {
                "id": "reference",
                "spec": "dcgan-digiface",
                "truncation_psi": 1.0,
                "real": False,
                "note": "The reference set is samples of the generator "
                "dcgan-digiface (no real images): not real faces.",
            },
            "sets": {
                "reference": {
                    "id": "reference",
                    "generator": {"resolution": 178, "resolution_rule": "given"},
                },
                **{
                    g: {"id": g, "spec": "dcgan-digiface", "generator": {"resolution": 64}}
                    for g in GENERATORS
                },
            },
            "command": ["counterfactual", "rank", "rank.toml", "--out", "runs/r"],
            "timing_history": [{"total": 269.0, "details": {"explained": 150.0, "scoring": 7.0}}],
            "spaces": _spaces_manifest(),
        },
    )
    return root


def _explained_tables(rd: RunDir, spaces: list[dict]) -> None:
    """tables/explained_fd and tables/prevalence in the rank engine's schema (one row not estimable)."""
    prevalence = {
        "reference": {"gender": 0.5, "age": 0.3},
        **{g: {"gender": 0.5 + 0.1 * i, "age": 0.3} for i, g in enumerate(GENERATORS)},
    }
    rows = []
    for i, g in enumerate(GENERATORS):
        for attr, thr in (("gender", 0.5), ("age", 40.0)):
            for s in spaces:
                pg, pr = prevalence[g][attr], prevalence["reference"][attr]
                fd, drop = 2.0 + i, (0.3 * i if attr == "gender" else 0.0)
                row = {
                    "generator": g,
                    "attribute": attr,
                    "space": s["name"],
                    "space_label": s["label"],
                    "trained": s["trained"],
                    "threshold": thr,
                    "n_gen": 50,
                    "n_ref": 50,
                    "prevalence_gen": pg,
                    "prevalence_ref": pr,
                    "prevalence_gap": pg - pr,
                    "fd": fd,
                    "fd_matched": fd - drop,
                    "fd_drop": drop,
                    "fd_drop_ci_low": drop - 0.1,
                    "fd_drop_ci_high": drop + 0.1,
                    "explained_fraction": drop / fd,
                    "explained_ci_low": drop / fd - 0.05,
                    "explained_ci_high": drop / fd + 0.05,
                    "method": "weighted",
                    "n_boot": 30,
                    "ci_level": 0.95,
                    "seed": 0,
                    "status": "ok",
                }
                if g == GENERATORS[2] and attr == "age" and not s["trained"]:
                    row.update(
                        {
                            k: np.nan
                            for k in (
                                "fd_matched",
                                "fd_drop",
                                "fd_drop_ci_low",
                                "fd_drop_ci_high",
                                "explained_fraction",
                                "explained_ci_low",
                                "explained_ci_high",
                            )
                        },
                        status="cannot reweight: the generated set has no image with the attribute",
                    )
                rows.append(row)
    write_table(
        pd.DataFrame(rows, columns=["generator", *EXPLAINED_COLUMNS]), rd.tables / "explained_fd"
    )
    prev = [
        {
            "set": k,
            "role": "reference" if k == "reference" else "generator",
            "attribute": a,
            "threshold": 0.5 if a == "gender" else 40.0,
            "n": 50,
            "prevalence": p,
            "score_mean": p,
            "score_sd": 0.2,
        }
        for k, v in prevalence.items()
        for a, p in v.items()
    ]
    write_table(pd.DataFrame(prev), rd.tables / "prevalence")


def test_rank_report_explained_fd(rank_run):
    html = build_report(rank_run, log=lambda s: None).read_text(encoding="utf-8")
    assert not _visible_occurrences_are_labelled(html, UNTRAINED)
    section = html[html.index('<h2 id="explained">') : html.index('<h2 id="provenance">')]
    assert "Explained FD" in section and 'href="#explained"' in html
    # the assumptions box, stated in full
    assert 'id="explained-assumptions"' in section and 'class="box warn"' in section
    for needle in (
        "binary after thresholding",
        "within-group",
        "scorer",
        "one at a time",
        "not additive",
    ):
        assert needle in section, needle
    # one table per generator, with prevalences, FD, matched FD, drop and share
    for g in GENERATORS:
        assert f"{g} vs reference" in section
    assert "60% / 50%" in section  # psi=0.8: gender prevalence gen / ref
    assert "FD after matching" in section and "share explained" in section
    assert '10% <span class="ci">[5%, 15%]</span>' in section  # psi=0.8 gender: 0.3 / 3.0
    assert "not estimated: cannot reweight" in section
    assert section.count("untrained") >= 2 * len(GENERATORS)


def test_rank_report(rank_run):
    html = build_report(rank_run, log=lambda s: None).read_text(encoding="utf-8")
    _assert_self_contained(html, rank_run)
    assert not _visible_occurrences_are_labelled(html, UNTRAINED)
    box = html[html.index('id="findings"') : html.index("</section>", html.index('id="findings"'))]
    assert "ranks first" in box and "not real faces" in box and "left out" in box
    for needle in (
        "Rankings",
        "FD (lower is closer)",
        "Kendall",
        "Rank stability",
        "not real faces",
        "Precision",
        "Recall",
        "Coverage",
        "KID",
        *GENERATORS,
    ):
        assert needle in html, needle
    assert 'class="attr"' not in html
    # sample strips for the reference and every generator, tau heatmaps, CI figures
    assert html.count(' samples"') == 1 + len(GENERATORS)
    assert html.count('alt="Kendall tau heatmap"') == 2
    run = load_run(rank_run)
    assert run.kind == "rank" and not run.space(UNTRAINED).trained


def _findings(html: str) -> str:
    return html[html.index('id="findings"') : html.index("</section>", html.index('id="findings"'))]


def test_rank_report_states_leads_from_paired_differences(rank_run):
    """The lead sentence comes from the paired difference's interval, never from overlapping
    marginal intervals; the paired table, the floor, resolutions, settings and command show."""
    html = build_report(rank_run, log=lambda s: None).read_text(encoding="utf-8")
    box = _findings(html)
    assert "overlaps" not in box and "paired" in box
    paired = load_run(rank_run).table("paired_differences")
    for sp, space_label in ((s, _label(s)) for s, t in SPACES.items() if t):
        r = paired[
            (paired["metric"] == "fd")
            & (paired["space"] == sp)
            & (paired["generator_a"] == GENERATORS[0])
            & (paired["generator_b"] == GENERATORS[1])
        ].iloc[0]
        verdict = (
            "lead is established"
            if r["hi"] < 0
            else "plain order is a sample-size artefact"
            if r["lo"] > 0
            else "includes 0, so the lead is not established"
        )
        line = box[box.index(space_label) :]
        assert verdict in line[: line.index("</li>")], (space_label, verdict)
    section = html[html.index('<h2 id="paired">') : html.index('<h2 id="agreement">')]
    assert "Paired differences" in section and f"{GENERATORS[0]} − {GENERATORS[1]}" in section
    assert (
        'id="floor"' in html
        and "reference half vs half (floor)" in html
        and "25 images each" in html
    )
    assert "Resolution mismatch" in box and "reference 178 px" in box and "64 px" in box
    assert (
        "counterfactual rank CONFIG --out RUN_DIR" in html
        and "counterfactual sweep CONFIG" not in html
    )
    assert "counterfactual rank rank.toml --out runs/r" in html
    assert "rank settings" in html and "1 subset(s) of 50 rows" in html
    assert "took 157 s of the run&#39;s 269 s" in html or "took 157 s of the run's 269 s" in html
    assert 'href="#paired"' in html


def test_rank_report_hides_tau_between_two_generators(rank_run_two):
    html = build_report(rank_run_two, log=lambda s: None).read_text(encoding="utf-8")
    assert 'alt="Kendall tau heatmap"' not in html
    assert "±1 by construction" in html and "Kendall τ from" not in _findings(html)
    assert 'explained FD</th><td class="l">off' in html


def test_scorer_units_come_from_the_scorer_classes():
    from extractors.scorers import AgeScorer, GenderScorer, scorer_unit

    assert scorer_unit("gender") == GenderScorer.score_doc == "P(male)"
    assert scorer_unit("age") == AgeScorer.score_doc and "years" in scorer_unit("age")
    assert scorer_unit("no-such-scorer") is None


def test_effects_caption_is_the_analysis_definition(sweep_html):
    """One definition, one caption: the effects table's caption is worded by the analysis
    (sensitivity.EFFECT_DESCRIPTIONS) for the columns shown, nothing from older estimators."""
    import html as html_lib

    from counterfactual.analysis.sensitivity import DEFINITION, EFFECT_DESCRIPTIONS, INTERVAL

    gender = _section(sweep_html, "gender")
    caption = re.search(r'<p class="muted small">([^<]*sensitivity[^<]*)', gender).group(1)
    for text in (DEFINITION, INTERVAL, EFFECT_DESCRIPTIONS["fd0"]):
        assert html_lib.escape(text) in caption
    for stale in ("quadratic fit of FD", "HC3", "FD(1)/FD(0)"):
        assert stale not in caption
    headers = re.findall(r"<th>([^<]*)</th>", gender)
    assert "FD(1)/FD(0)" not in headers  # no column the analysis does not compute
    assert "the quadratic fit behind the effects table" not in sweep_html


def test_reference_study_section_comes_right_after_the_findings(sweep_run, sweep_html, tmp_path):
    body = sweep_html[sweep_html.index("<main>") :]
    assert body.index('id="findings"') < body.index('id="claims"') < body.index('id="design"')
    section = body[body.index('id="claims"') : body.index('id="design"')]
    claims = pd.read_csv(sweep_run / "report_tables" / "claims.csv")
    from counterfactual.analysis.claims import NOT_TESTED, load_claims

    builtin = [c.id for c in load_claims()]
    assert list(dict.fromkeys(claims["claim"])) == builtin
    assert set(claims["verdict"]) == {NOT_TESTED}  # the fake run has none of the study's spaces
    assert section.count("not tested in this run</span>") == len(builtin)
    assert "Inception&#39;s FD emphasises hats" in section
    # a user's claim on this run's own edits and spaces
    mine = tmp_path / "mine.toml"
    mine.write_text(
        '[[claim]]\nid = "gender-moves-alpha"\nstatement = "Gender moves alpha-net"\n'
        'normalisation = "raw"\n[[claim.compare]]\n'
        'lhs = { intervention = "gender", space = "alpha-net" }\nrhs = { value = 0 }\n'
        'direction = "greater"\n',
        encoding="utf-8",
    )
    html = build_report(
        sweep_run, out=tmp_path / "r.html", n_boot=50, log=lambda s: None, claims_files=[mine]
    ).read_text(encoding="utf-8")
    claims = pd.read_csv(sweep_run / "report_tables" / "claims.csv")
    row = claims[claims["claim"] == "gender-moves-alpha"].iloc[0]
    effects = pd.read_csv(sweep_run / "report_tables" / "effects.csv")
    s = effects[(effects["intervention"] == "gender") & (effects["space"] == "alpha-net")]
    assert row["estimate"] == pytest.approx(s["sensitivity"].iloc[0])
    word = (
        "reproduced"
        if row["ci_low"] > 0
        else "not reproduced"
        if row["ci_high"] < 0
        else "not decidable at this n"
    )
    assert row["verdict"] == word
    assert '<span class="badge' in html and f"{word}</span> <b>Gender moves alpha-net" in html


def test_readme_quotes_the_one_sensitivity_definition():
    """The README's wording of the sensitivity and its interval is the analysis' own string
    (the one the report's captions use)."""

    from counterfactual.analysis.sensitivity import DEFINITION, INTERVAL

    readme = " ".join((ROOT / "README.md").read_text("utf-8").split())
    assert f'"{DEFINITION}"' in readme and f'"{INTERVAL}"' in readme
