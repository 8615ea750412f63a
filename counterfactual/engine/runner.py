"""Running an engine: the run directory's writer lock around setup and run, the shared entry
point of `run_sweep` and `run_rank` (`run_engine`), their result and their completion log."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from counterfactual.engine.choice import execution_overrides, executor_class
from counterfactual.engine.components import Components
from counterfactual.engine.timer import format_timing
from counterfactual.run.directory import RunDir

Log = Callable[[str], None]


@dataclass
class RunResult:
    """What a sweep or rank invocation did."""

    run_dir: Path
    status: str  # "complete" (ran to the end) or "already complete"
    timing: dict[str, Any] = field(default_factory=dict)
    work: dict[str, int] = field(default_factory=dict)


def run_locked(
    out: str | Path,
    config: Any,
    force: bool,
    log: Log,
    engine: Callable[[RunDir], Any],
    already_complete: Callable[[RunDir, dict[str, Any]], Any],
) -> Any:
    """Run an engine (sweep or rank) in the run directory `out` under its writer lock, held
    until the run returns: `already_complete(rd, manifest)` when a finished run of `config` is
    there (unless `force`), else open it, set `engine(rd)` up and run it. A failed setup
    (missing weights, a bad generator) puts the manifest back as it was, so the corrected
    config needs no --force."""
    with RunDir(out) as rd:
        if not force and rd.is_complete(config):
            log(f"{rd.root}: run is complete; nothing to do (use --force to recompute)")
            return already_complete(rd, rd.read_manifest() or {})
        runner = engine(rd)
        rd.open(config, force=force)
        try:
            runner.setup()
        except BaseException:
            rd.undo_open()
            raise
        return runner.run()


def run_engine(
    executors: Mapping[str, str],
    result_cls: type,
    config: Any,
    out: str | Path,
    *,
    device: str | None,
    batch_size: int | None,
    executor: str | None,
    progress: bool,
    force: bool,
    components: Components | None,
    log: Log,
) -> Any:
    """Run (or resume) a sweep or rank run with its table of `executors` (kind -> "module:Class")
    under the run directory's lock, with the command line's execution options; a finished run
    answers `result_cls(..., "already complete", ...)` without doing anything."""
    config = execution_overrides(config, device, batch_size, executor)
    cls = executor_class(executors, config.executor.kind)
    return run_locked(
        out,
        config,
        force,
        log,
        lambda rd: cls(config, rd, progress=progress, components=components, log=log),
        lambda rd, m: result_cls(rd.root, "already complete", m.get("timing", {}), {}),
    )


def log_completion(result: RunResult, log: Log, what: str = "run") -> None:
    """The console's last lines of a finished run: its timing and where its tables are."""
    log(format_timing(result.timing))
    log(f"{result.run_dir}: {what} complete; tables in {RunDir(result.run_dir).tables}")
