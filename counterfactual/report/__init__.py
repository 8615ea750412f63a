"""The HTML report of a run directory (sweep or rank): one file, images embedded.

    from counterfactual.report import build_report
    build_report("runs/demo")          # -> runs/demo/report.html, runs/demo/report_tables/

Modules: build (page order and sections), headline (the findings box in words, from
`counterfactual.analysis.findings`), edits (what each intervention is, in words), provenance,
figures (matplotlib Agg -> embedded PNG), images (sample strips, each embedded once), palette
(one colour and marker per space), numbers (the one number format), downloads (links to the
run's table files), template (jinja2, CSS and the table-sorting script, inline), explained.
The run directory is read through `counterfactual.run`; the analysis comes from
`counterfactual.analysis`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> module: imported on first use, so that the CLI's parser (which registers `report`)
# does not pay for matplotlib, the analysis and torch (PEP 562).
_EXPORTS = {
    "build_report": "counterfactual.report.build",
    "build_context": "counterfactual.report.build",
    "load_run": "counterfactual.run.reader",
    "RunData": "counterfactual.run.reader",
    "Space": "counterfactual.run.reader",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
