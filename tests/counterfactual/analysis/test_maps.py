"""Embedding maps (PaCMAP / PCA) and nearest-face grids: the analysis against independent
references, reproducibility by seed, and the report sections of a sweep and a rank run."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.decomposition import PCA

from counterfactual.analysis import sweep_tables
from counterfactual.analysis.embedding import MAP_COLUMNS, embed, pair_maps, pca_2d
from counterfactual.analysis.neighbours import nearest_faces
from counterfactual.analysis.sweep_analysis import twin_pairs
from counterfactual.cli import main
from counterfactual.config import load_config
from counterfactual.report import build_report
from counterfactual.report.images import thumbnail
from counterfactual.run import load_run
from counterfactual.sweep import run_sweep
from helpers import sweep_fakes as fakes

pytestmark = pytest.mark.usefixtures("sweep_fakes", "toy_rank_spaces")


def _blobs(n: int = 40, d: int = 30, gap: float = 12.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2 * n, d))
    x[n:, 0] += gap
    return x, np.repeat([0, 1], n)


def _nn_agreement(xy: np.ndarray, labels: np.ndarray) -> float:
    d = cdist(xy, xy)
    np.fill_diagonal(d, np.inf)
    return float((labels[d.argmin(axis=1)] == labels).mean())


# ---- the embedding ----------------------------------------------------------------------------
def test_pacmap_same_seed_same_coordinates_other_seed_other():
    pytest.importorskip("pacmap")
    x, _ = _blobs()
    a, b = embed(x, "pacmap", seed=7), embed(x, "pacmap", seed=7)
    assert a.shape == (80, 2) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, embed(x, "pacmap", seed=8))


def test_pacmap_keeps_separated_clusters_apart():
    pytest.importorskip("pacmap")
    x, labels = _blobs()
    xy = embed(x, "pacmap", seed=0)
    assert _nn_agreement(xy, labels) == 1.0
    # overlapping clusters (no gap) are not separated: agreement near chance
    x0, _ = _blobs(gap=0.0)
    assert _nn_agreement(embed(x0, "pacmap", seed=0), labels) < 0.75


def test_pca_matches_sklearn_up_to_sign():
    x, _ = _blobs(gap=3.0)
    ours = pca_2d(x)
    ref = PCA(n_components=2, svd_solver="full").fit_transform(x)
    for j in range(2):
        sign = np.sign(ours[:, j] @ ref[:, j])
        np.testing.assert_allclose(ours[:, j], sign * ref[:, j], atol=1e-9)
    np.testing.assert_array_equal(embed(x, "pca", seed=1), embed(x, "pca", seed=2))


def test_embed_errors_name_the_problem():
    with pytest.raises(ValueError, match="at least 8 points"):
        embed(np.zeros((5, 3)), "pca")
    with pytest.raises(ValueError, match="allowed: pacmap, pca"):
        embed(np.zeros((20, 3)), "tsne")


def test_missing_pacmap_is_a_clear_runtime_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pacmap", None)  # import pacmap -> ImportError
    with pytest.raises(RuntimeError, match="pacmap package cannot be imported"):
        embed(_blobs()[0], "pacmap")


# ---- nearest faces ----------------------------------------------------------------------------
def test_nearest_faces_match_a_brute_force_reference():
    rng = np.random.default_rng(3)
    sets = {"base": rng.normal(size=(6, 4)), "hat": rng.normal(size=(6, 4))}
    sets["hat"][2] = sets["base"][2] + 1e-3  # face 2's twin is its nearest face
    rows = pd.DataFrame(nearest_faces(sets, "base", [0, 2], k=4))
    pool = np.vstack([sets["base"], sets["hat"]])
    names = [("base", i) for i in range(6)] + [("hat", i) for i in range(6)]
    for q in (0, 2):
        d = cdist(sets["base"][q : q + 1], pool)[0]
        order = [j for j in np.argsort(d, kind="stable") if names[j] != ("base", q)][:4]
        got = rows[rows["query"] == q].sort_values("rank")
        assert list(zip(got["set"], got["face"])) == [names[j] for j in order]
        np.testing.assert_allclose(got["distance"], d[order])
        assert list(got["own_twin"]) == [names[j] == ("hat", q) for j in order]
    first = rows[rows["query"] == 2].iloc[0]
    assert (first["set"], first["face"], first["own_twin"]) == ("hat", 2, True)
    with pytest.raises(ValueError, match="not a row"):
        nearest_faces(sets, "base", [6], k=2)


def test_thumbnail_shrinks_large_images_only():
    small = np.zeros((3, 8, 8), np.uint8)
    assert thumbnail(small) is small
    big = np.full((3, 256, 200), 77, np.uint8)
    out = thumbnail(big, 96)
    assert out.shape == (3, 96, 75) and out.dtype == np.uint8 and (out == 77).all()


# ---- sweep and rank runs ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("maps_sweep")
    config = load_config(fakes.write_config(root / "sweep.toml"))
    out = root / "run"
    run_sweep(config, out, progress=False, components=fakes.components(), log=lambda s: None)
    return out


def test_sweep_maps_and_face_grids(sweep_run):
    run = load_run(sweep_run)
    derived = sweep_tables(run, n_boot=20, maps="pca", seed=5)
    maps = derived.maps
    assert list(maps.columns) == list(MAP_COLUMNS)
    pairs = twin_pairs(run)
    assert set(zip(maps["map"], maps["space"])) == {(p.intervention, p.space) for p in pairs}
    pf = pairs[0]
    cell = maps[(maps["map"] == pf.intervention) & (maps["space"] == pf.space)]
    ref = pca_2d(np.vstack([pf.base, pf.twin]))  # independent of the table plumbing
    np.testing.assert_allclose(cell[["x", "y"]].to_numpy(), ref)
    assert list(cell["role"]) == ["base"] * pf.n_pairs + ["twin"] * pf.n_pairs
    assert (maps["seed"] == 5).all() and (maps["method"] == "pca").all()
    faces = derived.face_neighbours
    m = len(run.sample("base"))
    row = faces[(faces["space"] == pf.space) & (faces["query"] == 1)].sort_values("rank")
    sets = {
        s: run.feature_index.load(s, pf.space)[:m] for s in row.iloc[0]["pool_sets"].split(", ")
    }
    expected = pd.DataFrame(nearest_faces(sets, "base", [1], k=5))
    assert list(zip(row["set"], row["face"])) == list(zip(expected["set"], expected["face"]))
    assert int(row.iloc[0]["pool_faces"]) == m * len(sets)


def test_sweep_pacmap_maps_are_reproducible(sweep_run):
    pytest.importorskip("pacmap")
    pairs = twin_pairs(load_run(sweep_run))[:2]
    a, b = pair_maps(pairs, "pacmap", seed=3), pair_maps(pairs, "pacmap", seed=3)
    pd.testing.assert_frame_equal(a, b)


def test_sweep_report_shows_maps_and_grids(sweep_run):
    html = build_report(sweep_run, n_boot=20, log=lambda s: None).read_text()
    section = html[html.index('id="maps"') : html.index('id="provenance"')]
    assert section.count('alt="embedding map:') == 3  # one figure per edit
    assert "Nearest faces" in section and "own twin" in section
    assert 'class="own"' in section
    tables = sweep_run / "report_tables"
    assert len(pd.read_csv(tables / "face_neighbours.csv")) > 0
    assert set(pd.read_csv(tables / "maps.csv")["method"]) == {"pacmap"}


def test_report_without_pacmap_says_why(sweep_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pacmap", None)
    html = build_report(sweep_run, tmp_path / "r.html", n_boot=20, log=lambda s: None).read_text()
    assert "No embedding maps: embedding maps not available: the pacmap package" in html
    assert "Nearest faces" in html  # the grids do not need pacmap
    off = build_report(sweep_run, tmp_path / "o.html", n_boot=20, maps=None, log=lambda s: None)
    assert "embedding maps are off (--maps none)" in off.read_text()


def test_rank_report_maps_each_generator_against_the_reference(rank_run):
    assert main(["report", str(rank_run), "--maps", "pca", "--seed", "2"]) == 0
    maps = pd.read_csv(rank_run / "report_tables" / "maps.csv")
    assert set(maps["map"]) == {"g0", "g30", "g60", "g90"}
    assert set(maps["space"]) == {"toy-red", "toy-blue"}
    assert set(maps["role"]) == {"reference", "generator"}
    html = (rank_run / "report.html").read_text()
    assert html.count('alt="embedding map:') == 4 and 'id="maps"' in html
    # toy-red sees the red shift: the farthest generator (g90) separates from the reference
    cell = maps[(maps["map"] == "g90") & (maps["space"] == "toy-red")]
    labels = (cell["role"] == "generator").to_numpy().astype(int)
    assert _nn_agreement(cell[["x", "y"]].to_numpy(), labels) > 0.9


def test_cli_rejects_an_unknown_map_method(rank_run, capsys):
    with pytest.raises(SystemExit):
        main(["report", str(rank_run), "--maps", "tsne"])
    assert "allowed: pacmap, pca" in capsys.readouterr().err
