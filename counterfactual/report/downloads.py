"""Download links from the report to the table files in its run directory.

Links are relative to the HTML file's folder (RUN_DIR for the default RUN_DIR/report.html),
so the run directory can be moved or archived whole. Only files that exist are linked.
"""

from __future__ import annotations

import os
from pathlib import Path

FORMATS = ("csv", "parquet", "json")


class Downloads:
    """Links to files of one run directory, as seen from the report's folder."""

    def __init__(self, run_root: Path, html_dir: Path) -> None:
        self.root, self.html_dir = Path(run_root), Path(html_dir)

    def href(self, path: Path) -> str:
        rel = os.path.relpath(path.resolve(), self.html_dir.resolve())
        return Path(rel).as_posix()

    def links(self, *names: str) -> list[dict[str, str]]:
        """Links for each name: "tables/region" (a table stem: every existing format) or a file
        path relative to the run directory ("manifest.json")."""
        out = []
        for name in names:
            path = self.root / name
            candidates = (
                [path]
                if path.suffix and path.is_file()
                else [path.with_name(f"{path.name}.{fmt}") for fmt in FORMATS]
            )
            for c in candidates:
                if c.is_file():
                    out.append({"href": self.href(c), "label": c.relative_to(self.root).as_posix()})
        return out
