"""Resume: a sweep killed with SIGKILL mid-run resumes without recomputing finished sets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from counterfactual.config import load_config
from counterfactual.foundation.files import TEMP_MARK
from counterfactual.sweep import run_sweep
from helpers import sweep_fakes as fakes
from helpers.paths import subprocess_pythonpath

pytestmark = pytest.mark.usefixtures("sweep_fakes")
SCRIPT = """
import sys
import helpers.sweep_fakes as f
f.register()
from counterfactual.config import load_config
from counterfactual.sweep import run_sweep
run_sweep(load_config(sys.argv[1]), sys.argv[2], progress=False, components=f.components())
"""


def _kill_after(marker: Path, config: Path, out: Path, log: Path, timeout: float = 120.0) -> None:
    env = {
        **os.environ,
        "SWEEP_FAKES_LOG": str(log),
        "SWEEP_FAKES_SLEEP": "0.1",
        "PYTHONPATH": subprocess_pythonpath(),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(config), str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(
                    f"sweep ended before the kill point: {proc.stderr.read().decode()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError("sweep did not reach the kill point in time")
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def test_killed_sweep_resumes_without_recomputing(tmp_path, monkeypatch):
    config_path = fakes.write_config(tmp_path / "sweep.toml")
    config = load_config(config_path)
    out = tmp_path / "run"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    # kill once the first twin set is fully extracted and verified
    _kill_after(out / "done" / "verify__fake_latent.json", config_path, out, first_log)
    assert not (out / "tables" / "dose_response.csv").exists()  # really interrupted
    first = first_log.read_text().splitlines()
    assert first.count("images 24") == 2  # base + latent twins
    # debris of writes interrupted half way (a table and a feature-cache entry)
    (out / "tables").mkdir(exist_ok=True)
    (out / "tables" / f"{TEMP_MARK}dose_response.csv.1234").write_text("half a table")
    stray = next((out / "features").rglob("*.npy"))
    (stray.parent / f"{TEMP_MARK}abc123-{stray.name}").write_bytes(b"half")

    monkeypatch.setenv("SWEEP_FAKES_LOG", str(second_log))
    result = run_sweep(
        config, out, progress=False, components=fakes.components(), log=lambda s: None
    )
    assert result.status == "complete"
    second = second_log.read_text().splitlines() if second_log.exists() else []
    # finished sets are neither regenerated nor re-extracted: the base set is read back from
    # the run directory, the latent twins are not made again
    assert "images 24" not in second
    assert not any(line.startswith("counterfactual fake_latent") for line in second)
    assert result.work.get("feature_passes", 0) <= 2 * 2 * 24  # at most the 2 blur sets
    assert not list(out.rglob(f"{TEMP_MARK}*")) and not list(out.rglob("*.tmp"))

    # the resumed run's tables equal an uninterrupted run's
    monkeypatch.delenv("SWEEP_FAKES_LOG")
    clean = tmp_path / "clean"
    run_sweep(config, clean, progress=False, components=fakes.components(), log=lambda s: None)
    for name in ("dose_response.csv", "region.csv", "verification.json"):
        assert (out / "tables" / name).read_bytes() == (clean / "tables" / name).read_bytes(), name

    # and running it once more does nothing
    again = run_sweep(
        config, out, progress=False, components=fakes.components(), log=lambda s: None
    )
    assert again.status == "already complete"
