"""Generator ranking: several generators against one reference set, in every feature space.

    from counterfactual.rank import load_rank_config, run_rank
    run_rank(load_rank_config("experiments/rank_demo.toml"), "runs/rank_demo")

Modules: config (TOML -> RankConfig), sets (image sets and their generation),
compare (FD / KID / precision-recall / density-coverage with bootstrap CIs), ranking (ranks,
Kendall tau between spaces, rank stability), engine (the resumable run).
"""
from counterfactual.rank.config import (MetricsConfig, RankConfig, ReferenceConfig, SetConfig,
                                        load_rank_config, validate_rank_config)

__all__ = ["RankConfig", "ReferenceConfig", "SetConfig", "MetricsConfig", "load_rank_config",
           "validate_rank_config", "run_rank", "RankResult"]


def __getattr__(name: str):  # the engine imports torch: load it only when asked for
    if name in ("run_rank", "RankResult"):
        from counterfactual.rank import engine
        return getattr(engine, name)
    raise AttributeError(name)
