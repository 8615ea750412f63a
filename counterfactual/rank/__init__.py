"""Generator ranking: several generators against one reference set, in every feature space.

    from counterfactual.rank import load_rank_config, run_rank
    run_rank(load_rank_config("experiments/rank_demo.toml"), "runs/rank_demo")

Modules: config (TOML -> RankConfig), sets (image sets and their generation),
compare (FD / KID / precision-recall / density-coverage with bootstrap CIs), ranking (ranks,
Kendall tau between spaces, rank stability), engine (the resumable run, on the shared
`counterfactual.engine`), ray_executor (its image phase as shard tasks on Ray).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> module, imported on first use (PEP 562): the CLI registers `rank` without loading
# pydantic, and the engine (torch) loads only when a run starts.
_EXPORTS = {
    **dict.fromkeys(
        (
            "RankConfig",
            "ReferenceConfig",
            "SetConfig",
            "MetricsConfig",
            "load_rank_config",
            "validate_rank_config",
        ),
        "counterfactual.rank.config",
    ),
    **dict.fromkeys(("run_rank", "RankResult"), "counterfactual.rank.engine"),
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
