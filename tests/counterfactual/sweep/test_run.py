"""The sweep engine end to end on stand-ins: tables, manifest, determinism, no-op reruns, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import torch

from counterfactual.cli import main
from counterfactual.config import load_config
from counterfactual.foundation.files import TEMP_MARK
from counterfactual.sweep import RunConfigMismatch, build_plan, plan_draws, run_sweep
from helpers import sweep_fakes as fakes

pytestmark = pytest.mark.usefixtures("sweep_fakes")


def _scipy_fd(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    sx, sy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    return float(
        ((x.mean(0) - y.mean(0)) ** 2).sum()
        + np.trace(sx + sy - 2 * scipy.linalg.sqrtm(sx @ sy).real)
    )


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "calls.log"
    monkeypatch.setenv("SWEEP_FAKES_LOG", str(path))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished sweep shared by the read-only tests."""
    root = tmp_path_factory.mktemp("sweep")
    config = load_config(fakes.write_config(root / "sweep.toml"))
    out = root / "run"
    run_sweep(config, out, progress=False, components=fakes.components(), log=lambda s: None)
    return config, out


def test_dose_table_matches_an_independent_computation(finished):
    config, out = finished
    table = pd.read_parquet(out / "tables" / "dose_response.parquet")
    expected_cols = [
        "intervention",
        "space",
        "space_label",
        "trained",
        "delta",
        "draw",
        "n_pairs",
        "fd",
        "mean_term",
        "trace_term",
    ]
    assert list(table.columns[:10]) == expected_cols
    n_iv, n_sp = len(config.interventions), len(config.spaces)
    assert len(table) == n_iv * n_sp * len(config.deltas) * config.draws
    assert set(table.loc[table.space == "fake-b", "space_label"]) == {"fake-b (untrained)"}
    assert not table.loc[table.space == "fake-b", "trained"].any()
    assert table.loc[table.space == "fake-a", "trained"].all()
    pd.testing.assert_frame_equal(
        table, pd.read_csv(out / "tables" / "dose_response.csv"), check_dtype=False
    )

    # Recompute from scratch: generator -> twins -> extractor -> sets A/B -> scipy FD.
    gen = fakes.FakeGenerator()
    seeds = config.seed_list
    base = gen.images_for_seeds(seeds, batch_size=7)
    twins = fakes.FakeLatent(0.8).counterfactual(gen, seeds, base)
    ext = fakes.FakeExtractor("fake-a", 12, True)
    fb, ft = ext(base).numpy(), ext(twins).numpy()
    pool = np.concatenate([fb, ft])
    draws = plan_draws(len(seeds), config.pairs_per_draw, config.deltas, config.draws, config.seed)
    rows = table[(table.intervention == "fake_latent") & (table.space == "fake-a")]
    assert len(rows) == len(draws)
    for d, (_, row) in zip(draws, rows.iterrows()):
        assert (row.delta, row.draw, row.n_pairs) == (d.delta, d.draw, config.pairs_per_draw)
        a, b = d.rows(len(seeds))
        assert row.fd == pytest.approx(_scipy_fd(pool[a], pool[b]), rel=1e-6)
        assert row.n_counterfactual_a == int(
            np.floor(config.pairs_per_draw * (1 - d.delta) / 2 + 0.5)
        )


def test_region_table_is_normalised_by_the_reference(finished):
    config, out = finished
    region = pd.read_csv(out / "tables" / "region.csv")
    assert set(region.region) == {"top"} and set(region.space) == {"fake-a", "fake-b"}
    np.testing.assert_allclose(region.normalised, region.fd / region.fd_reference, rtol=1e-12)
    gen, ext = fakes.FakeGenerator(), fakes.FakeExtractor("fake-a", 12, True)
    base = gen.images_for_seeds(config.seed_list)
    top = ext(fakes.FakeBlur("top").counterfactual(gen, config.seed_list, base)).numpy()
    full = ext(fakes.FakeBlur("all").counterfactual(gen, config.seed_list, base)).numpy()
    fb = ext(base).numpy()
    row = region[region.space == "fake-a"].iloc[0]
    assert row.fd == pytest.approx(_scipy_fd(fb, top), rel=1e-6)
    assert row.normalised == pytest.approx(_scipy_fd(fb, top) / _scipy_fd(fb, full), rel=1e-6)
    assert 0 < row.normalised < 1  # blurring a third of the image moves FD less


def test_manifest_samples_and_verification(finished):
    config, out = finished
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["seeds"] == config.seed_list
    assert manifest["config"]["pairs_per_draw"] == config.pairs_per_draw
    assert {"torch", "numpy", "python"} <= set(manifest["versions"])
    assert manifest["generator"]["spec"] == "fake-gen"
    labels = {s["name"]: (s["label"], s["trained"]) for s in manifest["spaces"]}
    assert labels == {"fake-a": ("fake-a", True), "fake-b": ("fake-b (untrained)", False)}
    assert {"generation", "extraction", "statistics", "other", "total"} <= set(manifest["timing"])
    assert manifest["work"] == {"images_generated": 4 * 24, "feature_passes": 4 * 24 * 2}
    sample = np.load(out / "sets" / "base" / "sample.npy")
    assert sample.dtype == np.uint8 and sample.shape == (4, 3, 8, 8)
    expected = fakes.FakeGenerator().images_for_seeds(config.seed_list[:4]).numpy()
    np.testing.assert_array_equal(sample, expected)
    verification = json.loads((out / "tables" / "verification.json").read_text())
    assert set(verification) == {"fake_latent", "fakeblur:top", "fakeblur:all"}
    shift = verification["fake_latent"]["target_shift"]
    assert shift["scorer"] == "bright" and shift["shift"] != 0
    assert not list(out.rglob(f"{TEMP_MARK}*")) and not list(out.rglob("*.tmp"))


def test_tables_identical_across_batch_sizes_and_reruns(finished, tmp_path):
    config, first = finished  # batch size 4 (the config's)
    tables = []
    for out, bs in ((first, None), (tmp_path / "bs3", 3), (tmp_path / "bs8", 8)):
        if bs is not None:
            run_sweep(
                config,
                out,
                batch_size=bs,
                progress=False,
                components=fakes.components(),
                log=lambda s: None,
            )
        tables.append(
            (out / "tables" / "dose_response.csv").read_bytes()
            + (out / "tables" / "region.csv").read_bytes()
        )
    assert tables[0] == tables[1] == tables[2]


def test_rerun_is_a_noop_and_config_changes_are_refused(tmp_path, log):
    config = load_config(fakes.write_config(tmp_path / "sweep.toml"))
    out = tmp_path / "run"
    run_sweep(config, out, progress=False, components=fakes.components(), log=lambda s: None)
    first = _calls(log)
    assert first.count("images 24") == 2  # base set + the latent edit, once each
    stamp = (out / "tables" / "dose_response.csv").stat().st_mtime_ns
    messages: list[str] = []
    result = run_sweep(
        config, out, progress=False, components=fakes.components(), log=messages.append
    )
    assert result.status == "already complete" and "complete" in messages[0]
    assert _calls(log) == first  # nothing generated
    assert (out / "tables" / "dose_response.csv").stat().st_mtime_ns == stamp

    changed = config.with_overrides(draws=2)
    with pytest.raises(RunConfigMismatch, match="draws: 3 -> 2"):
        run_sweep(changed, out, progress=False, components=fakes.components(), log=lambda s: None)
    run_sweep(
        changed, out, force=True, progress=False, components=fakes.components(), log=lambda s: None
    )
    assert _calls(log) == first  # same sets: features reused, nothing generated
    table = pd.read_csv(out / "tables" / "dose_response.csv")
    assert sorted(table.draw.unique()) == [0, 1]


def test_plan_keys_follow_content(tmp_path):
    config = load_config(fakes.write_config(tmp_path / "sweep.toml"))
    descs = (
        {"spec": "g"},
        {"fake-a": {"n": 1}, "fake-b": {"n": 2}},
        {"fake_latent": {"a": 1}, "fakeblur:top": {"b": 1}, "fakeblur:all": {"c": 1}},
    )
    plan = build_plan(config, *descs)
    ids = [t.id for t in plan]
    for task in plan:  # topological order
        assert all(ids.index(dep) < ids.index(task.id) for dep in task.deps)
    assert plan["dose/fake_latent/fake-a"].deps == (
        "extract/base/fake-a",
        "extract/fake_latent/fake-a",
    )
    again = build_plan(config, *descs)
    assert [t.key for t in plan] == [t.key for t in again]
    # a different intervention description re-keys its set and everything downstream only
    changed = build_plan(config, descs[0], descs[1], {**descs[2], "fake_latent": {"a": 2}})
    differs = {t.id for t in plan if t.key != changed[t.id].key}
    assert "generate/fake_latent" in differs and "dose/fake_latent/fake-b" in differs
    assert "tables" in differs and "verify/fake_latent" in differs
    assert not any(
        t.startswith(("extract/base", "dose/fakeblur", "generate/base")) for t in differs
    )


# ---- CLI -----------------------------------------------------------------------------------
def test_cli_spaces_and_help_texts(capsys):
    import argparse

    from counterfactual.cli import build_parser

    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    assert "inception-fid" in out and "random-inception" in out and "untrained" in out
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("sweep", "demo", "spaces", "fd"):
        for action in sub.choices[name]._actions:
            assert action.help, f"{name} {action.dest} has no help text"


def test_cli_sweep_and_bad_config(tmp_path, capsys):
    text = fakes.CONFIG.replace('scorers = ["bright", "red"]', "enabled = false")
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(text)
    assert (
        main(
            [
                "sweep",
                str(cfg),
                "--out",
                str(tmp_path / "run"),
                "--no-progress",
                "--batch-size",
                "5",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "timing: generation" in out and "run complete" in out
    assert (tmp_path / "run" / "tables" / "dose_response.parquet").exists()
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("pairs_per_draw = 16", "pairs_per_draw = 15"))
    assert main(["sweep", str(bad), "--out", str(tmp_path / "run2")]) == 2
    err = capsys.readouterr().err
    assert "pairs_per_draw" in err and "even" in err


def test_cli_fd_between_folders(tmp_path, capsys):
    from PIL import Image

    gen = fakes.FakeGenerator()
    sets = {}
    for name, seeds in (("a", range(0, 20)), ("b", range(100, 120))):
        folder = tmp_path / name
        folder.mkdir()
        images = gen.images_for_seeds(list(seeds))
        for i, img in enumerate(images):
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
        sets[name] = images
    assert (
        main(
            [
                "fd",
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                "--space",
                "fake-a",
                "--n",
                "50",
                "--json",
                "--no-progress",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    ext = fakes.FakeExtractor("fake-a", 12, True)
    expected = _scipy_fd(ext(sets["a"]).numpy(), ext(sets["b"]).numpy())
    assert result["n_a"] == result["n_b"] == 20
    assert result["fd"] == pytest.approx(expected, rel=1e-6)
    assert result["space_label"] == "fake-a" and result["trained"] is True
    assert (
        main(["fd", str(tmp_path / "a"), str(tmp_path / "b"), "--space", "fake-b", "--no-progress"])
        != 0
    )  # untrained needs --allow-untrained
    capsys.readouterr()
    assert (
        main(
            [
                "fd",
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                "--space",
                "fake-b",
                "--allow-untrained",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "(untrained)" in capsys.readouterr().out
    assert torch.equal(sets["a"], gen.images_for_seeds(list(range(20))))
