"""The run directory's writer lock: one writer at a time, the holder named, no stale locks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from counterfactual.errors import UserError
from counterfactual.run.lock import RunLock, RunLockedError, writer_of
from helpers.paths import ROOT

HOLD = """
import sys, time
from counterfactual.run.lock import RunLock
lock = RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def _holder(run: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    proc = _holder(run)
    try:
        with pytest.raises(RunLockedError) as info:
            RunLock(run).acquire()
        msg = str(info.value)
        assert f"pid {proc.pid}" in msg and socket.gethostname() in msg and " UTC" in msg
        assert str(run) in msg and "\n" not in msg and isinstance(info.value, UserError)
        assert writer_of(run)["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the kernel dropped the dead holder's lock: no stale lock, no holder reported
    assert writer_of(run) is None
    with RunLock(run) as lock:
        assert lock.held and writer_of(run)["pid"] == os.getpid()
    assert writer_of(run) is None and (run / ".lock").exists()


def test_two_locks_in_one_process_exclude_each_other(tmp_path):
    first = RunLock(tmp_path).acquire()
    with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
        RunLock(tmp_path).acquire()
    first.release()
    RunLock(tmp_path).acquire().release()
