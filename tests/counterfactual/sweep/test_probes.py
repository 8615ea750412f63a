"""A finished sweep keeps its base faces' verification scores; the report's analysis turns them
and the cached features into the neighbours and probes tables (no images, no models)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from counterfactual.analysis import sweep_tables
from counterfactual.analysis.neighbours import own_twin_ranks
from counterfactual.config import load_config
from counterfactual.report import build_report
from counterfactual.run import load_run
from counterfactual.sweep import run_sweep
from helpers import sweep_fakes as fakes

pytestmark = pytest.mark.usefixtures("sweep_fakes")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    config = load_config(fakes.write_config(root / "sweep.toml"))
    out = root / "run"
    run_sweep(config, out, progress=False, components=fakes.components(), log=lambda s: None)
    return config, out


def test_base_scores_are_kept(finished):
    config, out = finished
    run = load_run(out)
    scores = run.scores("base")
    assert set(scores) == {"bright", "red"}
    base = fakes.FakeGenerator().images_for_seeds(config.seed_list)
    np.testing.assert_allclose(scores["bright"], fakes.bright_scorer(base))
    np.testing.assert_allclose(scores["red"], fakes.red_scorer(base))


def test_report_tables_hold_neighbours_and_probes(finished):
    _, out = finished
    run = load_run(out)
    derived = sweep_tables(run, n_boot=50)
    nb = derived.neighbours
    assert {
        "intervention",
        "space",
        "n",
        "own_twin_top1",
        "lo",
        "hi",
        "chance",
        "mean_rank",
    } <= set(nb.columns)
    assert set(nb["intervention"]) == {"fake_latent", "fakeblur:top", "fakeblur:all"}
    assert set(nb["space"]) == {"fake-a", "fake-b"}
    row = nb[(nb["intervention"] == "fake_latent") & (nb["space"] == "fake-a")].iloc[0]
    index = run.feature_index
    rank, top1 = own_twin_ranks(index.load("base", "fake-a"), index.load("fake_latent", "fake-a"))
    assert row["own_twin_top1"] == pytest.approx(top1.mean())
    assert row["mean_rank"] == pytest.approx(rank.mean()) and row["n"] == 24
    assert nb.set_index("space").loc["fake-b", "space_label"].iloc[0] == "fake-b (untrained)"
    pr = derived.probes
    assert set(zip(pr["attribute"], pr["space"])) == {
        (a, s) for a in ("bright", "red") for s in ("fake-a", "fake-b")
    }
    assert (pr["status"] == "ok").all() and (pr["n"] == 24).all()
    assert pr["balanced_accuracy"].between(0, 1).all()


def test_report_shows_and_writes_them(finished):
    _, out = finished
    html = build_report(out, n_boot=50, log=lambda s: None).read_text()
    assert 'id="probes"' in html and "own twin" in html
    tables = out / "report_tables"
    nb = pd.read_csv(tables / "neighbours.csv")
    assert list(nb.columns[:3]) == ["intervention", "space", "space_label"]
    assert len(pd.read_csv(tables / "probes.csv")) == 4


def test_damaged_scores_are_left_out(finished, tmp_path):
    import shutil

    _, out = finished
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    path = copy / "scores" / "base" / "red.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip a byte of the last score
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="checksum"):
        scores = load_run(copy).scores("base")
    assert set(scores) == {"bright"}
