"""The explicit execution plan of a sweep: a DAG of tasks, each with a content key.

    generate/base ----------------> extract/base/<space> ---------+--> dose/<iv>/<space> --+
         |                                                         |                        |
         +--> generate/<iv> ------> extract/<iv>/<space> ----------+--> region/<space> -----+--> tables
                     |                                                                      |
                     +------------> verify/<iv> --------------------------------------------+

A task's key hashes everything that determines its output (its own parameters and the keys
of its inputs), so a finished task is recognised across runs, and a changed input re-keys
everything downstream of it. "generate" tasks produce images in memory only (the base set is
also kept in the run directory, because every twin set is made from it); a local executor runs
each generate task together with its extract tasks so the images are produced once and read
by every feature space. A distributed executor can hand out the same units.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from counterfactual.config import SweepConfig
from counterfactual.foundation.hashing import content_hash
from counterfactual.run.schemas import BASE_SET, STATS_VERSION

BASE = BASE_SET
KINDS = ("generate", "extract", "verify", "dose", "region", "tables")


@dataclass(frozen=True)
class Task:
    """One unit of work: kind, a readable id, a content key, the ids it depends on."""

    id: str
    kind: str
    key: str
    deps: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "deps": list(self.deps),
            "params": self.params,
        }


@dataclass
class Plan:
    """Tasks in a topological order (every task after its dependencies)."""

    tasks: dict[str, Task]
    set_identities: dict[str, dict[str, Any]]  # set name -> what determines its images

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks.values())

    def __getitem__(self, task_id: str) -> Task:
        return self.tasks[task_id]

    def of_kind(self, kind: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.kind == kind]

    def consumers(self, task_id: str) -> list[Task]:
        return [t for t in self.tasks.values() if task_id in t.deps]

    def as_dict(self) -> dict[str, Any]:
        return {"tasks": [t.as_dict() for t in self.tasks.values()]}


def _add(
    tasks: dict[str, Task],
    task_id: str,
    kind: str,
    deps: list[str],
    params: dict[str, Any],
    own: dict[str, Any],
) -> Task:
    for dep in deps:
        if dep not in tasks:
            raise ValueError(f"task {task_id} depends on unknown task {dep}")
    key = content_hash({"kind": kind, "params": own, "deps": [tasks[d].key for d in deps]})
    task = Task(task_id, kind, key, tuple(deps), params)
    tasks[task_id] = task
    return task


def set_names(config: SweepConfig) -> list[str]:
    """Image sets of a sweep: the base set, then one twin set per intervention."""
    return [BASE] + [iv.key for iv in config.interventions]


def build_plan(
    config: SweepConfig,
    generator_desc: dict[str, Any],
    extractor_descs: dict[str, dict[str, Any]],
    intervention_descs: dict[str, dict[str, Any]],
) -> Plan:
    """The sweep's task DAG from its config and the descriptions of its components."""
    seeds = config.seed_list
    tasks: dict[str, Task] = {}
    identities: dict[str, dict[str, Any]] = {}

    base_identity = {"generator": generator_desc, "seeds": seeds, "set": BASE}
    identities[BASE] = base_identity
    _add(tasks, "generate/base", "generate", [], {"set": BASE}, base_identity)
    for iv in config.interventions:
        identity = {
            "generator": generator_desc,
            "seeds": seeds,
            "set": iv.key,
            "intervention": intervention_descs[iv.key],
        }
        identities[iv.key] = identity
        _add(tasks, f"generate/{iv.key}", "generate", ["generate/base"], {"set": iv.key}, identity)

    for set_name in set_names(config):
        for space in config.spaces:
            _add(
                tasks,
                f"extract/{set_name}/{space.name}",
                "extract",
                [f"generate/{set_name}"],
                {"set": set_name, "space": space.name},
                {"extractor": extractor_descs[space.name]},
            )

    final: list[str] = []
    if config.verification.enabled:
        thresholds = config.verification.model_dump()
        for iv in config.interventions:
            t = _add(
                tasks,
                f"verify/{iv.key}",
                "verify",
                ["generate/base", f"generate/{iv.key}"],
                {"intervention": iv.key},
                {"thresholds": thresholds},
            )
            final.append(t.id)

    dose_params = {
        "deltas": list(config.deltas),
        "draws": config.draws,
        "pairs_per_draw": config.pairs_per_draw,
        "seed": config.seed,
        "stats_version": STATS_VERSION,
    }
    for iv in config.interventions:
        if not iv.dose:
            continue
        for space in config.spaces:
            t = _add(
                tasks,
                f"dose/{iv.key}/{space.name}",
                "dose",
                [f"extract/{BASE}/{space.name}", f"extract/{iv.key}/{space.name}"],
                {"intervention": iv.key, "space": space.name},
                dose_params,
            )
            final.append(t.id)

    regions = config.region_interventions()
    if regions:
        reference = config.region.reference
        for space in config.spaces:
            deps = [f"extract/{BASE}/{space.name}", f"extract/{reference}/{space.name}"]
            deps += [f"extract/{iv.key}/{space.name}" for iv in regions]
            t = _add(
                tasks,
                f"region/{space.name}",
                "region",
                deps,
                {
                    "space": space.name,
                    "reference": reference,
                    "regions": [iv.key for iv in regions],
                },
                {
                    "stats_version": STATS_VERSION,
                    "reference": reference,
                    "regions": [iv.key for iv in regions],
                },
            )
            final.append(t.id)

    _add(tasks, "tables", "tables", final, {}, {"stats_version": STATS_VERSION})
    return Plan(tasks, identities)
