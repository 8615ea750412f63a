"""Every table the engines write under RUN_DIR/tables/: name and columns, spelled once.

Sweep runs: ``dose_response`` (`DOSE_COLUMNS`), ``region`` (`REGION_COLUMNS`),
``verification.json``; ``counterfactual attention`` adds RUN_DIR/report_tables/attention
(`ATTENTION_COLUMNS`) with the maps in RUN_DIR/attention/. Rank runs: ``rank_metrics`` (`METRIC_COLUMNS`), ``rankings``
(`RANKING_COLUMNS`), ``kendall_tau`` (`TAU_COLUMNS`), ``paired_differences``
(`PAIRED_COLUMNS`), ``reference_floor`` (`FLOOR_COLUMNS`) and, with attribute scorers,
``explained_fd`` (`RANK_EXPLAINED_COLUMNS`) and ``prevalence`` (`SET_PREVALENCE_COLUMNS`).
The analysis tables in RUN_DIR/report_tables/ are listed in `counterfactual.analysis`
(each producing module's ``*_COLUMNS``).
"""

from __future__ import annotations

# Bump when the statistics code changes in a way that changes results (part of every
# statistics task key of the sweep and rank engines).
STATS_VERSION = 1

# ---- sweep ------------------------------------------------------------------------------
BASE_SET = "base"  # the sweep's original faces; every other set is an intervention's twins
REFERENCE_ID = "reference"  # a rank run's reference set; every other set is a generator's
SWEEP_TABLES: tuple[str, ...] = ("dose_response", "region")
VERIFICATION_FILE = "verification.json"
# One row per intervention x space x delta x draw.
DOSE_COLUMNS: tuple[str, ...] = (
    "intervention",
    "space",
    "space_label",
    "trained",
    "delta",
    "draw",
    "n_pairs",
    "fd",
    "mean_term",
    "trace_term",
    "n_counterfactual_a",
    "n_counterfactual_b",
)
# What the analysis needs of a dose table (the counterfactual counts are informational).
DOSE_ANALYSIS_COLUMNS: tuple[str, ...] = DOSE_COLUMNS[:10]
DOSE_FLOAT_COLUMNS: tuple[str, ...] = ("delta", "fd", "mean_term", "trace_term")
DOSE_INT_COLUMNS: tuple[str, ...] = ("draw", "n_pairs", "n_counterfactual_a", "n_counterfactual_b")
# One row per region intervention x space: FD(base, region) / FD(base, reference).
REGION_COLUMNS: tuple[str, ...] = (
    "intervention",
    "region",
    "space",
    "space_label",
    "trained",
    "n_pairs",
    "fd",
    "mean_term",
    "trace_term",
    "fd_reference",
    "normalised",
    "draws",
    "draw_pairs",
    "normalised_draw_mean",
    "normalised_draw_sd",
)

# One row per intervention x space x set (twin / control) x region of the FD attention maps
# (`counterfactual.attention`): mean share of each image's heat inside the region, the
# region's mean area, and the images with heat.
ATTENTION_TABLE = "attention"
ATTENTION_COLUMNS: tuple[str, ...] = (
    "intervention",
    "space",
    "space_label",
    "trained",
    "set",
    "region",
    "share",
    "area",
    "n",
)
ATTENTION_SETS: tuple[str, ...] = ("twin", "control")

# ---- rank -------------------------------------------------------------------------------
RANK_TABLES: tuple[str, ...] = (
    "rank_metrics",
    "rankings",
    "kendall_tau",
    "paired_differences",
    "reference_floor",
)
EXPLAINED_TABLES: tuple[str, ...] = ("explained_fd", "prevalence")
# The metrics of a generator against the reference (`counterfactual.rank.compare`).
METRICS: tuple[str, ...] = ("fd", "kid", "precision", "recall", "density", "coverage")
_PER_METRIC = ("", "_ci_low", "_ci_high", "_se", "_bias", "_pct_low", "_pct_high")
METRIC_COLUMNS: tuple[str, ...] = (
    "generator",
    "spec",
    "truncation_psi",
    "truncation_cutoff",
    "space",
    "space_label",
    "trained",
    "dim",
    "n_generator",
    "n_reference",
    "rank_deficient",
    *(f"{m}{suffix}" for m in METRICS for suffix in _PER_METRIC),
    "fd_mean_term",
    "fd_trace_term",
    "kid_subset_std",
    "kid_subsets",
    "pr_k",
    "dc_k",
    "kid_subset_size",
    "kid_subset_size_used",
    "n_boot",
    "ci_level",
    "seed",
)
RANKING_COLUMNS: tuple[str, ...] = (
    "metric",
    "space",
    "space_label",
    "trained",
    "generator",
    "value",
    "ci_low",
    "ci_high",
    "rank",
    "lower_is_better",
    "stability",
    "rank_mean",
    "rank_ci_low",
    "rank_ci_high",
    "n_boot",
)
TAU_COLUMNS: tuple[str, ...] = (
    "metric",
    "space_a",
    "space_label_a",
    "trained_a",
    "space_b",
    "space_label_b",
    "trained_b",
    "tau",
    "p_value",
    "n_generators",
)
# Paired difference generator_a - generator_b per space x metric (`counterfactual.rank.paired`):
# diff is bias-corrected, [lo, hi] its interval; diff_plain the plain difference of the estimates.
PAIRED_COLUMNS: tuple[str, ...] = (
    "generator_a",
    "generator_b",
    "space",
    "space_label",
    "trained",
    "metric",
    "lower_is_better",
    "diff",
    "lo",
    "hi",
    "diff_plain",
    "bias",
    "se",
    "method",
    "n_boot",
    "ci_level",
)
# The reference's own floor per space (`counterfactual.rank.floor`): FD between disjoint halves
# of the reference (set "reference"), and each generator's FD at the same n against a half.
FLOOR_COLUMNS: tuple[str, ...] = (
    "space",
    "space_label",
    "trained",
    "set",
    "role",
    "n_a",
    "n_b",
    "fd",
    "fd_sd",
    "splits",
    "seed",
)
# Explained FD of one generator in one space (`counterfactual.analysis.explained_fd`).
EXPLAINED_COLUMNS: tuple[str, ...] = (
    "attribute",
    "space",
    "space_label",
    "trained",
    "threshold",
    "n_gen",
    "n_ref",
    "prevalence_gen",
    "prevalence_ref",
    "prevalence_gap",
    "fd",
    "fd_matched",
    "fd_drop",
    "fd_drop_ci_low",
    "fd_drop_ci_high",
    "explained_fraction",
    "explained_ci_low",
    "explained_ci_high",
    "method",
    "n_boot",
    "ci_level",
    "seed",
    "status",
)
RANK_EXPLAINED_COLUMNS: tuple[str, ...] = ("generator", *EXPLAINED_COLUMNS)
# Attribute prevalence of every set of a rank run.
SET_PREVALENCE_COLUMNS: tuple[str, ...] = (
    "set",
    "role",
    "attribute",
    "threshold",
    "n",
    "prevalence",
    "score_mean",
    "score_sd",
)

ALL_TABLES: tuple[str, ...] = (*SWEEP_TABLES, *RANK_TABLES, *EXPLAINED_TABLES)
