"""counterfactual-fd: counterfactual attribute sensitivity of Fréchet distances on faces.

    import counterfactual
    counterfactual.fd("dcgan-digiface", "folder:/data/faces", space="inception-fid", n=1000)
    run = counterfactual.load_run("runs/demo")
    counterfactual.rank_generators(["mobilestylegan-ffhq"], "folder:celeba-999", n=500).rankings

Every top-level name loads on first use (PEP 562): `import counterfactual` imports nothing,
so `generators` and `extractors` can use `counterfactual.foundation` without a cycle.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the lazy exports, for type checkers
    from counterfactual.api import FDComparison, fd  # noqa: F401
    from counterfactual.config import load_config  # noqa: F401
    from counterfactual.errors import UserError  # noqa: F401
    from counterfactual.rank import load_rank_config, run_rank  # noqa: F401
    from counterfactual.rank.api import Ranking, rank_generators  # noqa: F401
    from counterfactual.report import build_report  # noqa: F401
    from counterfactual.run.reader import RunData, load_run  # noqa: F401
    from counterfactual.sweep import run_sweep  # noqa: F401

# name -> module that defines it
_EXPORTS = {
    "fd": "counterfactual.api",
    "FDComparison": "counterfactual.api",
    "load_run": "counterfactual.run.reader",
    "RunData": "counterfactual.run.reader",
    "load_config": "counterfactual.config",
    "run_sweep": "counterfactual.sweep",
    "load_rank_config": "counterfactual.rank",
    "run_rank": "counterfactual.rank",
    "rank_generators": "counterfactual.rank.api",
    "Ranking": "counterfactual.rank.api",
    "build_report": "counterfactual.report",
    "UserError": "counterfactual.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from counterfactual.version import project_version

        return project_version()
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
