"""Run-directory integrity: one writer at a time, checksums on everything later results read,
recovery without --force, a report that never mixes configs, and a full disk."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from counterfactual.cli import main
from counterfactual.config import load_config
from counterfactual.foundation.files import TEMP_MARK
from counterfactual.run.lock import RunLock
from counterfactual.sweep import run_sweep
from helpers import sweep_fakes as fakes
from helpers.paths import subprocess_pythonpath

pytestmark = pytest.mark.usefixtures("sweep_fakes")


@pytest.fixture(autouse=True)
def _fake_components(monkeypatch):
    """In-process CLI sweeps use the fake scorers, like `_sweep` and the subprocesses."""
    import counterfactual.engine.components as components

    fake = fakes.components()
    monkeypatch.setattr(components, "Components", lambda *args, **kwargs: fake)


TABLES = ("dose_response.csv", "region.csv", "verification.json")
CLI = """
import sys, time
from pathlib import Path
import helpers.sweep_fakes as f
f.register()
import counterfactual.engine.components as components
real = components.Components               # the CLI's sweeps use the fake scorers too
components.Components = lambda: real(load_scorer=f.load_scorer, identity_similarity=f.identity_similarity)
from counterfactual.cli import main
print("ready", flush=True)
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.002)
sys.exit(main(["sweep", sys.argv[1], "--out", sys.argv[2], "--no-progress"]))
"""


def quiet(_: str) -> None:
    pass


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "calls.log"
    monkeypatch.setenv("SWEEP_FAKES_LOG", str(path))
    return path


def _sweep(config, out, **kw):
    return run_sweep(config, out, progress=False, components=fakes.components(), log=quiet, **kw)


def _config(tmp_path: Path, name: str, extra_replace: tuple[str, str] | None = None):
    text = fakes.CONFIG if extra_replace is None else fakes.CONFIG.replace(*extra_replace)
    path = tmp_path / name
    path.write_text(text)
    return path


def _same_tables(a: Path, b: Path) -> None:
    for name in TABLES:
        assert (a / "tables" / name).read_bytes() == (b / "tables" / name).read_bytes(), name


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Uninterrupted runs of the default config and of its draws = 2 variant."""
    root = tmp_path_factory.mktemp("clean")
    out = {}
    for label, change in (("draws3", None), ("draws2", ("draws = 3", "draws = 2"))):
        cfg = load_config(_config(root, f"{label}.toml", change))
        _sweep(cfg, root / label)
        out[label] = root / label
    return out


def _start(config: Path, out: Path, go: Path, sleep: str = "0.05") -> subprocess.Popen:
    env = {
        **os.environ,
        "SWEEP_FAKES_SLEEP": sleep,
        "PYTHONPATH": subprocess_pythonpath(),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, str(config), str(out), str(go)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


# ---- the writer lock --------------------------------------------------------------------
def test_two_sweeps_racing_into_one_run_directory(tmp_path, clean):
    configs = {
        "draws3": _config(tmp_path, "a.toml"),
        "draws2": _config(tmp_path, "b.toml", ("draws = 3", "draws = 2")),
    }
    out, go = tmp_path / "run", tmp_path / "go"
    procs = {label: _start(cfg, out, go) for label, cfg in configs.items()}
    go.touch()
    results = {}
    for label, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        results[label] = (proc.returncode, stderr)
    winners = [label for label, (rc, _) in results.items() if rc == 0]
    assert len(winners) == 1, results
    winner = winners[0]
    loser = next(label for label in results if label != winner)
    rc, stderr = results[loser]
    assert rc == 2, stderr
    if "being written" in stderr:  # it met the lock (else the finished run's config)
        assert (
            f"being written by pid {procs[winner].pid}" in stderr
            and stderr.strip().count("\n") == 0
        )
    else:
        assert "different config" in stderr, stderr
    _same_tables(out, clean[winner])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config"]["draws"] == (
        3 if winner == "draws3" else 2
    )
    # the loser's config is refused afterwards too: never "complete" with the winner's tables
    assert main(["sweep", str(configs[loser]), "--out", str(out), "--no-progress"]) == 2


def test_a_refused_invocation_leaves_the_running_sweep_intact(tmp_path, clean, capsys):
    cfg = _config(tmp_path, "a.toml")
    other = _config(tmp_path, "b.toml", ("draws = 3", "draws = 2"))
    out, go = tmp_path / "run", tmp_path / "go"
    go.touch()
    proc = _start(cfg, out, go, sleep="0.15")
    try:
        deadline = time.monotonic() + 120
        while not (out / "done").is_dir() or not list((out / "done").iterdir()):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        partial = out / "sets" / f"{TEMP_MARK}stand-in-for-a-write-in-progress"
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"half")
        for argv in (
            ["sweep", str(other), "--out", str(out), "--no-progress"],
            ["sweep", str(cfg), "--out", str(out), "--no-progress", "--force"],
            ["report", str(out)],
        ):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err.strip()
            assert "\n" not in err and f"pid {proc.pid}" in err, err
        assert partial.exists()  # the refused invocations cleaned nothing
        partial.unlink()
    finally:
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    _same_tables(out, clean["draws3"])


# ---- checksums and recovery ----------------------------------------------------------------
def _half_finished(tmp_path: Path, clean: dict) -> tuple[object, Path]:
    """A copy of a finished run whose manifest says it was interrupted (status running)."""
    out = tmp_path / "run"
    shutil.copytree(clean["draws3"], out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "done" / "tables.json").unlink()
    return load_config(_config(tmp_path, "a.toml")), out


def _flip(path: Path, where: float = 0.6) -> None:
    data = bytearray(path.read_bytes())
    i = int(len(data) * where)
    data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])


@pytest.mark.parametrize("damage", [_flip, _truncate], ids=["flipped", "truncated"])
@pytest.mark.parametrize("target", ["images", "stats", "features"])
def test_damaged_files_are_detected_and_recomputed_by_a_plain_rerun(
    tmp_path, clean, log, target, damage
):
    config, out = _half_finished(tmp_path, clean)
    if target == "images":
        victims = [out / "sets" / "base" / "images.npy"]
        for marker in (out / "done").glob("extract__fakeblur_top*"):  # its twins need the base set
            marker.unlink()
    elif target == "stats":
        victims = sorted((out / "stats").glob("*.json"))[:2]
    else:
        victims = sorted((out / "features").rglob("*.npy"))[:2]
    for path in victims:
        damage(path)
    with pytest.warns(UserWarning, match="checksum|corrupt|recomput"):
        result = _sweep(config, out)
    assert result.status == "complete"
    calls = log.read_text().splitlines() if log.exists() else []
    if target == "images":
        assert "images 24" in calls  # the base set was generated again
    _same_tables(out, clean["draws3"])


def test_force_recovers_a_truncated_manifest_and_images(tmp_path, clean, capsys):
    out = tmp_path / "run"
    shutil.copytree(clean["draws3"], out)
    cfg = _config(tmp_path, "a.toml")
    _truncate(out / "manifest.json")
    _truncate(out / "sets" / "base" / "images.npy")
    assert main(["sweep", str(cfg), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "manifest.json" in err and "--force" in err
    assert main(["sweep", str(cfg), "--out", str(out), "--no-progress", "--force"]) == 0
    _same_tables(out, clean["draws3"])
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_complete_run_with_a_damaged_table_is_rewritten(tmp_path, clean):
    out = tmp_path / "run"
    shutil.copytree(clean["draws3"], out)
    _flip(out / "tables" / "dose_response.csv")
    result = _sweep(load_config(_config(tmp_path, "a.toml")), out)
    assert result.status == "complete"
    _same_tables(out, clean["draws3"])


def test_stale_temp_files_are_cleaned_by_the_writer(tmp_path, clean):
    out = tmp_path / "run"
    shutil.copytree(clean["draws3"], out)
    stale = [
        out / "interventions" / "fake_latent" / "directions" / ".x-z-1.npy.abc123.tmp",
        out / "features" / ".y.npy.def456.tmp",
        out / "tables" / f"{TEMP_MARK}dose_response.csv",
    ]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    _sweep(load_config(_config(tmp_path, "b.toml", ("draws = 3", "draws = 2"))), out, force=True)
    assert not any(p.exists() for p in stale)


def test_failed_setup_leaves_no_manifest_needing_force(tmp_path, capsys):
    out = tmp_path / "run"
    broken = _config(
        tmp_path, "broken.toml", ('{name = "fake-b", allow_untrained = true}', '"fake-b"')
    )
    assert main(["sweep", str(broken), "--out", str(out), "--no-progress"]) == 1
    assert "fake-b" in capsys.readouterr().err
    assert not (out / "manifest.json").exists()
    fixed = _config(tmp_path, "fixed.toml", ("draws = 3", "draws = 2"))
    assert main(["sweep", str(fixed), "--out", str(out), "--no-progress"]) == 0


def test_intervention_slug_cannot_escape_the_run_directory():
    from counterfactual.run.directory import RunDir, slug

    for name in ("..", ".", ".hidden"):
        assert not slug(name).startswith(".")
    rd = RunDir("/runs/x")
    assert rd.intervention_dir("..").parent == Path("/runs/x/interventions")


# ---- the report --------------------------------------------------------------------------
def test_report_refuses_a_half_written_run(tmp_path, clean, capsys):
    _, out = _half_finished(tmp_path, clean)
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not complete" in err and str(out) in err
    assert not (out / "report.html").exists()


def test_report_refuses_tables_that_are_not_the_manifests(tmp_path, clean, capsys):
    out = tmp_path / "run"
    shutil.copytree(clean["draws3"], out)
    shutil.copy(clean["draws2"] / "tables" / "dose_response.parquet", out / "tables")
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "dose_response.parquet" in err and "\n" not in err


def test_report_beside_a_writer_is_refused_naming_it(tmp_path, clean, capsys):
    out = tmp_path / "run"
    shutil.copytree(clean["draws3"], out)
    with RunLock(out):
        assert main(["report", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"pid {os.getpid()}" in err
    _truncate(out / "sets" / "base" / "sample.npy")  # a damaged grid sample is left out
    with pytest.warns(UserWarning, match=r"sample\.npy: unreadable sample images"):
        assert main(["report", str(out), "--n-boot", "20"]) == 0


# ---- a full disk -------------------------------------------------------------------------
def _looks_complete_or_absent(out: Path) -> None:
    """Every file left is whole: JSON parses, .npy loads, markers' checksums hold; no temps."""
    from counterfactual.foundation.hashing import sha256_file

    assert not list(out.rglob(f"{TEMP_MARK}*")) and not list(out.rglob(".*.tmp"))
    for path in out.rglob("*.json"):
        json.loads(path.read_text())
    for path in out.rglob("*.npy"):
        np.load(path, allow_pickle=False)
    for marker in (out / "done").glob("*.json") if (out / "done").is_dir() else []:
        for rel, digest in json.loads(marker.read_text()).get("files", {}).items():
            assert sha256_file(out / rel) == digest, rel
    manifest = out / "manifest.json"
    assert not manifest.exists() or json.loads(manifest.read_text())["status"] != "complete"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_disk_full_leaves_no_complete_looking_file_and_resumes(tmp_path, clean, capsys):
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        need = sum(p.stat().st_size for p in clean["draws3"].rglob("*") if p.is_file())
        free = shutil.disk_usage(mnt).free
        ballast = mnt / "ballast"
        with open(ballast, "wb") as fh:
            fh.write(b"\0" * max(0, free - need // 3))
        cfg = _config(tmp_path, "a.toml")
        out = mnt / "run"
        assert main(["sweep", str(cfg), "--out", str(out), "--no-progress"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "No space left on device" in err[0] and str(out) in err[0], err
        _looks_complete_or_absent(out)
        ballast.unlink()
        assert main(["sweep", str(cfg), "--out", str(out), "--no-progress"]) == 0
        _same_tables(out, clean["draws3"])
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_oserror_without_a_file_name_gets_the_target_named(tmp_path, monkeypatch):
    from counterfactual.foundation import files

    target = tmp_path / "x.json"

    def full(*_args, **_kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as info:
        files.atomic_write(target, lambda fh: full())
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert not list(tmp_path.iterdir())
