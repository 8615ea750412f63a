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
from counterfactual.report.build import build_context, build_report
from counterfactual.run.reader import RunData, Space, load_run

__all__ = ["build_report", "build_context", "load_run", "RunData", "Space"]
