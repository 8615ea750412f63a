"""The sweep: plan (task DAG), local and Ray executors, dose-response, region tables, run dir
(built on the shared feature engine, `counterfactual.engine`).

from counterfactual.config import load_config
from counterfactual.sweep import run_sweep
run_sweep(load_config("experiments/demo.toml"), "runs/demo")
"""

from counterfactual.engine.components import Components
from counterfactual.run.directory import RunConfigMismatch, RunDir
from counterfactual.sweep.dose import DoseResult, Draw, dose_response, n_swapped, plan_draws
from counterfactual.sweep.executor import LocalExecutor, SweepResult, run_sweep
from counterfactual.sweep.plan import Plan, Task, build_plan

__all__ = [
    "run_sweep",
    "LocalExecutor",
    "Components",
    "SweepResult",
    "Plan",
    "Task",
    "build_plan",
    "RunDir",
    "RunConfigMismatch",
    "Draw",
    "DoseResult",
    "dose_response",
    "n_swapped",
    "plan_draws",
]
