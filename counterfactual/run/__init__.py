"""The run directory: layout and manifest (`directory`), table names and columns (`schemas`),
table files (`tables`), the feature index (`features`), the writer lock (`lock`) and the
reader (`reader`). The sweep
and rank engines write runs through it; analysis and the report read them through it.
Atomic writes and content hashing live one layer down, in `counterfactual.foundation`."""

from counterfactual.run.directory import RunConfigMismatch, RunDir, RunDirError, slug
from counterfactual.run.features import FeatureIndex
from counterfactual.run.lock import RunLock, RunLockedError
from counterfactual.run.reader import RunData, Space, load_run
from counterfactual.run.tables import read_table, write_table

__all__ = [
    "FeatureIndex",
    "RunConfigMismatch",
    "RunData",
    "RunDir",
    "RunDirError",
    "RunLock",
    "RunLockedError",
    "Space",
    "load_run",
    "read_table",
    "slug",
    "write_table",
]
