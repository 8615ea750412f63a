"""The HTML report of a run directory (sweep or rank): one self-contained file.

    from counterfactual.report import build_report
    build_report("runs/demo")          # -> runs/demo/report.html, runs/demo/report_tables/

Modules: data (reading a run directory), derived (analysis tables of a sweep), figures
(matplotlib Agg -> embedded PNG), images (sample strips), template (jinja2, inline), build.
"""
from counterfactual.report.build import build_context, build_report
from counterfactual.run.reader import RunData, Space, load_run

__all__ = ["build_report", "build_context", "load_run", "RunData", "Space"]
