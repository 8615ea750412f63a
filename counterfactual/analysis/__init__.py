"""Attribution analysis: dose-response curves and fits, multiple-testing corrections,
cross-space normalisation, over/under-reaction summaries, region sensitivity,
explained FD, twin neighbours and linear probes. Every result is a pandas DataFrame (float64 statistics) whose columns are listed
in the producing module's ``*_COLUMNS`` constant; per-space rows keep ``space_label`` (with
"(untrained)" for random-weight spaces) and ``trained``. `sweep_tables` runs the whole sweep
pipeline on a run directory (what the report renders and RUN_DIR/report_tables holds).
"""

from counterfactual.mixing import mix_pairs, random_swap

from .dose import dose_curves
from .explained import attribute_prevalence, explained_fd, importance_weights
from .fit import DoseFit, fit_dose_response, fit_dose_table
from .multiple import add_adjusted, adjust_pvalues
from .neighbours import twin_neighbours
from .normalise import reference_normalised, term_shares
from .pairs import PairFeatures
from .probes import linear_probes
from .rank_agreement import tau_matrix
from .region import reference_fd, region_matrix, region_sensitivity
from .sweep_analysis import SweepTables, sweep_tables
from .tables import load_dose_table, validate_dose_table

__all__ = [
    "DoseFit",
    "PairFeatures",
    "add_adjusted",
    "adjust_pvalues",
    "attribute_prevalence",
    "dose_curves",
    "explained_fd",
    "fit_dose_response",
    "fit_dose_table",
    "importance_weights",
    "linear_probes",
    "load_dose_table",
    "mix_pairs",
    "random_swap",
    "reference_fd",
    "reference_normalised",
    "region_matrix",
    "region_sensitivity",
    "SweepTables",
    "sweep_tables",
    "tau_matrix",
    "term_shares",
    "twin_neighbours",
    "validate_dose_table",
]
