"""The Ray executor against the local one on a tiny sweep and rank run (one local Ray instance
for the module), recovery from a killed actor, and an unreachable cluster."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from counterfactual.config import ConfigError, ExecutorConfig, load_config
from counterfactual.rank.config import load_rank_config
from counterfactual.rank.engine import run_rank
from counterfactual.sweep import run_sweep
from helpers import sweep_fakes as fakes
from helpers.paths import subprocess_pythonpath

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed (make setup installs it)")
pytestmark = pytest.mark.usefixtures("sweep_fakes")
EXECUTOR = "\n[executor]\nworkers = 2\nshard_size = 7\n"  # 24 seeds: 7 + 7 + 7 + 3
RANK = """
name = "fake ranking"
seeds = {start = 0, count = 30}
spaces = ["fake-a", {name = "fake-b", allow_untrained = true}]
sample_images = 3
seed = 1
[reference]
spec = "fake-gen"
seeds = {start = 100, count = 30}
[[generators]]
spec = "fake-gen"
id = "half"
truncation_psi = 0.5
[[generators]]
spec = "fake-gen"
id = "most"
truncation_psi = 0.8
[metrics]
n_boot = 20
pr_k = 3
dc_k = 3
kid_subsets = 5
[explained]
enabled = true
scorers = ["bright"]
thresholds = {bright = 128.0}
n_boot = 10
[executor]
workers = 2
shard_size = 8
"""


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    """One local Ray instance; its workers import the test fakes and register them."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {"PYTHONPATH": subprocess_pythonpath()},
            "worker_process_setup_hook": fakes.register,
        },
    )
    yield
    ray.shutdown()


def _quiet(_: str) -> None:
    pass


def _tables(run: Path) -> dict[str, pd.DataFrame | dict]:
    out: dict[str, pd.DataFrame | dict] = {}
    for path in sorted((run / "tables").iterdir()):
        if path.suffix == ".parquet":
            out[path.name] = pd.read_parquet(path)
        elif path.suffix == ".json" and not (run / "tables" / f"{path.stem}.parquet").exists():
            out[path.name] = json.loads(path.read_text())
    return out


def _assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = _tables(a), _tables(b)
    assert ta and set(ta) == set(tb)
    for name in ta:
        if isinstance(ta[name], pd.DataFrame):
            pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=False, rtol=1e-12)
        else:
            assert ta[name] == tb[name], name


def _feature_files(run: Path) -> list[Path]:
    return sorted(p for p in (run / "features").rglob("*") if p.is_file())


def _assert_same_features(a: Path, b: Path) -> None:
    fa, fb = _feature_files(a), _feature_files(b)
    assert [p.relative_to(a) for p in fa] == [p.relative_to(b) for p in fb]
    for pa, pb in zip(fa, fb):
        if pa.suffix == ".npy":  # bitwise: same images, same extractors
            assert np.array_equal(np.load(pa), np.load(pb)), pa.name


def test_sweep_on_ray_equals_local_with_a_killed_actor(tmp_path):
    """The Ray sweep, one of whose actors dies mid-task (retried by Ray), equals the local
    sweep: tables, every cached feature (bitwise), report samples; one cache entry per set and
    space, no temp files, no leftover shard results."""
    marker = tmp_path / "died"
    text = (
        fakes.CONFIG.replace('generator = "fake-gen"', f'generator = "fake-gen:die-once={marker}"')
        + EXECUTOR
    )
    (tmp_path / "c.toml").write_text(text)
    config = load_config(tmp_path / "c.toml")
    for executor in ("ray", "local"):
        run_sweep(
            config,
            tmp_path / executor,
            progress=False,
            components=fakes.components(),
            log=_quiet,
            executor=executor,
        )
    assert marker.exists()  # an actor did die mid-task
    local, remote = tmp_path / "local", tmp_path / "ray"
    _assert_same_tables(local, remote)
    _assert_same_features(local, remote)
    for set_dir in (local / "sets").iterdir():  # report samples
        assert np.array_equal(
            np.load(set_dir / "sample.npy"), np.load(remote / "sets" / set_dir.name / "sample.npy")
        )
    files = _feature_files(remote)
    n_entries = len(config.spaces) * (1 + len(config.interventions))
    assert len([p for p in files if p.suffix == ".npy"]) == n_entries
    assert not [p for p in files if p.name.startswith(".") or "partial" in p.name]
    manifest = json.loads((remote / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["work"]["images_generated"] == 4 * 24
    assert not (remote / "shards").exists()
    # a finished run is recognised whichever executor ran it
    again = run_sweep(
        config, remote, progress=False, components=fakes.components(), log=_quiet, executor="local"
    )
    assert again.status == "already complete"


def test_rank_on_ray_equals_local(tmp_path):
    (tmp_path / "rank.toml").write_text(RANK)
    config = load_rank_config(tmp_path / "rank.toml")
    for executor in ("local", "ray"):
        run_rank(
            config,
            tmp_path / executor,
            progress=False,
            components=fakes.components(),
            log=_quiet,
            executor=executor,
        )
    _assert_same_tables(tmp_path / "local", tmp_path / "ray")
    _assert_same_features(tmp_path / "local", tmp_path / "ray")
    for scores in (tmp_path / "local" / "scores").rglob("*.npy"):
        twin = tmp_path / "ray" / scores.relative_to(tmp_path / "local")
        assert np.array_equal(np.load(scores), np.load(twin))


def test_killed_driver_resumes_from_stored_shards(tmp_path, monkeypatch):
    from counterfactual.sweep.ray_executor import RaySweepExecutor

    config = load_config(fakes.write_config(tmp_path / "c.toml", EXECUTOR))
    store = RaySweepExecutor.store_features

    def killed(self, *args, **kwargs):
        raise KeyboardInterrupt  # the driver dies once the shards are in

    monkeypatch.setattr(RaySweepExecutor, "store_features", killed)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            config,
            tmp_path / "ray",
            progress=False,
            components=fakes.components(),
            log=_quiet,
            executor="ray",
        )
    assert len(list((tmp_path / "ray" / "shards").glob("*.npz"))) == 4
    monkeypatch.setattr(RaySweepExecutor, "store_features", store)
    resumed = run_sweep(
        config,
        tmp_path / "ray",
        progress=False,
        components=fakes.components(),
        log=_quiet,
        executor="ray",
    )
    assert resumed.work.get("images_generated", 0) == 0  # every shard was reused
    run_sweep(
        config,
        tmp_path / "local",
        progress=False,
        components=fakes.components(),
        log=_quiet,
        executor="local",
    )
    _assert_same_tables(tmp_path / "local", tmp_path / "ray")
    _assert_same_features(tmp_path / "local", tmp_path / "ray")


def test_unreachable_cluster_is_one_clear_error(tmp_path, monkeypatch, capsys):
    import socket

    from counterfactual.cli import main

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"127.0.0.1:{port}"
    config = fakes.write_config(tmp_path / "c.toml", f'\n[executor]\naddress = "{address}"\n')
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh driver
    code = main(
        ["sweep", str(config), "--out", str(tmp_path / "run"), "--executor", "ray", "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and f"cannot reach the Ray cluster at '{address}'" in lines[0], err


@pytest.mark.parametrize(
    "table,needle",
    [
        ('kind = "spark"', "key 'executor.kind'"),
        ("workers = 0", "key 'executor.workers'"),
        ("shard = 3", "unknown key; allowed keys here: kind, address, workers"),
    ],
)
def test_executor_table_is_validated(tmp_path, table, needle):
    path = fakes.write_config(tmp_path / "c.toml", f"\n[executor]\n{table}\n")
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config(path)
    assert ExecutorConfig().kind == "local"
