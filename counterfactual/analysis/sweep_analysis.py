"""The sweep's analysis pipeline: every derived table of a finished sweep run, from its tables
and its cached features (read through the run's feature index). The report renders what
`sweep_tables` returns and writes `SweepTables.frames()` to RUN_DIR/report_tables.

- effects: one row per attribute x space (x distance: FD, and those asked for) from the
  face-level inference
  (`counterfactual.analysis.sensitivity`, one definition of sensitivity): raw FD at gap 1 and
  its swap floor, the sensitivity with a jackknife interval over faces, the bias-corrected
  estimates beside it (unbiased mean term, FD-infinity), the within-pair swap permutation p
  with its resolution and its Holm correction over every attribute x space (family size and
  permutation count recorded); plus, described as such, the split-to-split spread of FD(1)
  over the sweep's draws and the mean-term share.
- reference: the same quantities for the reference distortion (``[region] reference``).
- reactions: the cross-space comparison (profiles relative to the reference distortion,
  trained spaces only in every reference, simultaneous jackknife intervals, verdicts).
- curves: `dose_curves` (mean FD per delta and its spread over the draws, which reuse the
  same faces: split-to-split noise, not uncertainty about other faces)
- fits: `fit_dose_table` (a quadratic description of the curve; no test is done on it)
- strength: `strength_response` (S per space at each strength of a distortion family
  "<family>@<strength>" with two or more strengths: the dose-response over strength)
- shares: `term_shares`; region: `region_sensitivity` and its region x space matrix
- neighbours: `twin_neighbours` (how often a base face's nearest twin is its own, per
  intervention x space, with a Wilson interval over faces)
- probes: `linear_probes` (cross-validated balanced accuracy of a linear classifier reading
  each verification scorer's median-split label from the base features, per space)
- claims: `claims.claim_table` (the reference study's claims and the user's, each with the
  measured comparison, its interval and a verdict word; built-in claims in claims.toml, extra
  files from the sweep config's ``claims`` and the ``claims_files`` argument)
- maps: `embedding.pair_maps` (seeded 2-d PaCMAP or PCA coordinates of base and twin features,
  per intervention x space; pictures, not statistics)
- face_neighbours: `neighbours.face_neighbours` (the nearest faces of the first few base faces
  in every space, among the faces whose images the run keeps: the report's image grids)
Analyses that cannot run (no cached features, one space, ...) leave a note instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from counterfactual.run.reader import RunData
from counterfactual.run.schemas import BASE_SET

from .claims import claim_table, load_claims
from .distances import DEFAULT_DISTANCES, check_distances
from .dose import dose_curves
from .embedding import DEFAULT_METHOD, MAPS_WHAT, MAX_FACES, pair_maps
from .fit import fit_dose_table
from .inference import Settings
from .neighbours import face_neighbours, twin_neighbours
from .normalise import term_shares
from .pairs import PairFeatures
from .probes import SpaceFeatures, linear_probes
from .region import region_matrix, region_sensitivity
from .sensitivity import FaceInference, face_inference
from .strength import strength_response
from .tables import validate_dose_table

FACE_QUERIES = 4  # base faces whose nearest faces the report shows
FACE_NEIGHBOURS = 5  # nearest faces shown per query
# Descriptive columns from the sweep's draws appended to the face-level effects.
DRAW_COLUMNS: tuple[str, ...] = ("fd1_draws_mean", "fd1_draws_sd", "n_draws", "mean_term_share")


@dataclass
class SweepTables:
    """Derived tables of a sweep run (None where the analysis could not run)."""

    curves: pd.DataFrame | None = None
    fits: pd.DataFrame | None = None
    shares: pd.DataFrame | None = None
    effects: pd.DataFrame | None = None
    reference: pd.DataFrame | None = None
    reactions: pd.DataFrame | None = None
    strength: pd.DataFrame | None = None
    region: pd.DataFrame | None = None
    region_matrix: pd.DataFrame | None = None
    neighbours: pd.DataFrame | None = None
    probes: pd.DataFrame | None = None
    claims: pd.DataFrame | None = None
    maps: pd.DataFrame | None = None
    face_neighbours: pd.DataFrame | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def frames(self) -> dict[str, pd.DataFrame]:
        """Named tables to write next to the report."""
        names = (
            "curves",
            "fits",
            "shares",
            "effects",
            "reference",
            "reactions",
            "strength",
            "region",
            "neighbours",
            "probes",
            "claims",
            "maps",
            "face_neighbours",
        )
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


def _attempt(notes: list[str], what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (ValueError, KeyError, RuntimeError, FileNotFoundError) as exc:
        notes.append(f"{what} not available: {exc}")
        return None


def draw_spread(dose: pd.DataFrame, shares: pd.DataFrame | None) -> pd.DataFrame:
    """Per attribute x space: mean and SD of FD(1) over the sweep's draws (split-to-split
    spread on the same faces) and the mean-term share at delta = 1."""
    one = dose[np.isclose(dose["delta"], 1.0)]
    out = one.groupby(["intervention", "space"]).agg(
        fd1_draws_mean=("fd", "mean"), fd1_draws_sd=("fd", "std"), n_draws=("fd", "size")
    )
    out = out.reset_index()
    if shares is not None:
        out = out.merge(
            shares[["intervention", "space", "mean_term_share"]],
            on=["intervention", "space"],
            how="left",
        )
    else:
        out["mean_term_share"] = np.nan
    return out


def pair_features(run: RunData) -> tuple[list[PairFeatures], list[PairFeatures]]:
    """(attributes, reference): base/twin features of every dose intervention x space, read
    through the run's feature index (the dose table names them), and of the reference
    distortion (``[region] reference``, e.g. blur:all) in each space when it was extracted.
    The reference is not one of the attributes."""
    dose = run.table("dose_response")
    if dose is None:
        raise FileNotFoundError(f"{run.root} has no dose-response table")
    index = run.feature_index
    reference_key = ((run.manifest.get("config") or {}).get("region") or {}).get("reference")
    spaces = list(dict.fromkeys(dose["space"]))
    entries = index.entries()

    def load(key: str, space_name: str) -> PairFeatures:
        space = run.space(space_name)
        return PairFeatures(
            key,
            space_name,
            index.load(BASE_SET, space_name),
            index.load(key, space_name),
            trained=space.trained,
            space_label=space.label,
        )

    attributes = [
        load(key, sp)
        for key, sp in dict.fromkeys(zip(dose["intervention"], dose["space"]))
        if key != reference_key
    ]
    reference = [
        load(reference_key, sp) for sp in spaces if reference_key and (reference_key, sp) in entries
    ]
    return attributes, reference


def edit_sets(run: RunData) -> list[str]:
    """The edited sets whose features the run's index holds, interventions in config order."""
    order = {k: i for i, k in enumerate(run.interventions())}
    entries = run.feature_index.entries()
    return sorted({s for (s, _) in entries if s != BASE_SET}, key=lambda k: (order.get(k, 1e9), k))


def twin_pairs(run: RunData) -> list[PairFeatures]:
    """Base/twin features of every intervention x space the run's feature index holds (dose,
    region and reference edits alike), interventions in config order."""
    entries = run.feature_index.entries()
    spaces = [sp for (s, sp) in entries if s == BASE_SET]
    sets = edit_sets(run)
    index = run.feature_index
    base = {sp: index.load(BASE_SET, sp) for sp in spaces}
    return [
        PairFeatures(
            key,
            sp,
            base[sp],
            index.load(key, sp),
            trained=run.space(sp).trained,
            space_label=run.space(sp).label,
        )
        for key in sets
        for sp in spaces
        if (key, sp) in entries
    ]


def face_neighbour_table(
    run: RunData, n_queries: int = FACE_QUERIES, k: int = FACE_NEIGHBOURS
) -> pd.DataFrame:
    """The nearest faces of the first `n_queries` base faces in every space, among the faces
    the report can show: base and every edit's twins of the first m seeds, m = the fewest
    sample images any of these sets keeps (`sample_images`, seed order)."""
    entries = run.feature_index.entries()
    kept = {}
    for s in [BASE_SET, *edit_sets(run)]:
        sample = run.sample(s)
        if sample is not None and len(sample):
            kept[s] = len(sample)
    if BASE_SET not in kept:
        raise FileNotFoundError(f"{run.root} keeps no sample images of the base faces")
    m = min(kept.values())
    index = run.feature_index
    spaces = []
    for sp in dict.fromkeys(sp for (s, sp) in entries if s == BASE_SET):
        sets = {s: index.load(s, sp)[:m] for s in kept if (s, sp) in entries}
        spaces.append((sp, run.space(sp).label, run.space(sp).trained, sets))
    return face_neighbours(spaces, BASE_SET, n_queries, k)


def probe_tables(run: RunData, seed: int) -> pd.DataFrame:
    """Linear probes of every verification scorer's base-face scores in every space."""
    scores = run.scores(BASE_SET)
    if not scores:
        raise FileNotFoundError(
            f"{run.root} keeps no per-face scores of the base faces (no "
            "verification scorers, or a run made before they were kept)"
        )
    entries = run.feature_index.entries()
    spaces = [
        SpaceFeatures(
            sp, run.feature_index.load(BASE_SET, sp), run.space(sp).trained, run.space(sp).label
        )
        for (s, sp) in entries
        if s == BASE_SET
    ]
    return linear_probes(spaces, scores, seed=seed)


def face_tables(
    run: RunData, settings: Settings, workers: int, distances: Sequence[str] = DEFAULT_DISTANCES
) -> FaceInference:
    """The face-level inference of a run's attributes (see `sensitivity.face_inference`)."""
    attributes, reference = pair_features(run)
    return face_inference(attributes, reference, settings, workers=workers, distances=distances)


def sweep_tables(
    run: RunData,
    n_boot: int = 2000,
    seed: int = 0,
    permutations: int = 0,
    workers: int = 2,
    distances: Sequence[str] = DEFAULT_DISTANCES,
    claims_files: Sequence[str | Path] = (),
    maps: str | None = DEFAULT_METHOD,
    max_map_faces: int = MAX_FACES,
) -> SweepTables:
    """Every derived table of a sweep run (see the module docstring).

    ``n_boot``: bootstrap replicates of the descriptive spread over draws; ``permutations``:
    permutations per test (0: chosen so that Holm over the family can reach alpha,
    `inference.resamples_for`); ``workers``: threads for the face-level inference;
    ``distances``: the distances of the effects table (`distances.DISTANCES`; FD always);
    ``claims_files``: claims files tested besides the built-in ones and the config's.
    ``maps``: the embedding method of the maps (`embedding.EMBEDDERS`; None: no maps), with
    the first ``max_map_faces`` faces of each set.
    """
    out = SweepTables()
    notes = out.notes
    dose = run.table("dose_response")
    if dose is not None:
        dose = _attempt(notes, "dose-response table", lambda: validate_dose_table(dose))
    if dose is not None:
        out.curves = _attempt(
            notes, "dose curves", lambda: dose_curves(dose, n_boot=n_boot, seed=seed)
        )
        out.fits = _attempt(notes, "dose-response fits", lambda: fit_dose_table(dose))
        out.shares = _attempt(
            notes, "term shares", lambda: term_shares(dose, n_boot=n_boot, seed=seed)
        )
        settings = Settings(n_perm=permutations or None, seed=seed)
        out.settings = settings.as_dict()
        if tuple(distances) != DEFAULT_DISTANCES:
            out.settings["distances"] = list(check_distances(distances))
        face = _attempt(
            notes,
            "face-level inference (needs the run's cached features)",
            lambda: face_tables(run, settings, workers, distances),
        )
        if face is not None:
            spread = draw_spread(dose, out.shares)
            out.effects = face.effects.merge(spread, on=["intervention", "space"], how="left")
            other = out.effects["distance"] != "fd"  # the draws are FD's
            if other.any():
                out.effects.loc[other, list(DRAW_COLUMNS)] = np.nan
            out.reference = face.reference
            out.reactions = face.cross_space
            out.strength = _attempt(
                notes, "strength dose-response", lambda: strength_response(out.effects)
            )
            notes += face.notes
    pairs = _attempt(
        notes, "twin neighbours (needs the run's cached features)", lambda: twin_pairs(run)
    )
    if pairs is not None:
        out.neighbours = _attempt(notes, "twin neighbours", lambda: twin_neighbours(pairs))
        if maps is not None:
            out.maps = _attempt(
                notes, MAPS_WHAT, lambda: pair_maps(pairs, maps, seed, max_map_faces)
            )
    out.face_neighbours = _attempt(notes, "nearest-face grids", lambda: face_neighbour_table(run))
    out.probes = _attempt(notes, "linear probes", lambda: probe_tables(run, seed))
    region = run.table("region")
    if region is not None and len(region):
        out.region = _attempt(notes, "region sensitivity", lambda: region_sensitivity(region))
        if out.region is not None:
            out.region_matrix = _attempt(notes, "region matrix", lambda: region_matrix(out.region))
    if out.effects is not None or out.region is not None:
        files = [*((run.manifest.get("config") or {}).get("claims") or ()), *claims_files]
        claims = load_claims(files)  # a bad claims file is the user's error: raise it
        out.claims = claim_table(
            claims, out.effects, out.reference, out.region, level=_level(out.effects)
        )
    return out


def _level(effects: pd.DataFrame | None) -> float:
    """The effects table's confidence level (0.95 without one)."""
    if effects is None or "ci_level" not in effects or not len(effects):
        return 0.95
    return float(effects["ci_level"].iloc[0])
