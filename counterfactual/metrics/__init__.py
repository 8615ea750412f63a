"""Metrics on feature sets: moments, Fréchet distance, KID, RBF-MMD (CMMD), k-NN manifold metrics, bootstrap.

The Fréchet distance has one core with four entry points: `frechet_distance` /
`frechet_distance_features` (one pair, `fd`), `frechet_distance_batch` (many row selections of
one pool at once, `fd_batch`), `fd_features` with row weights and `fd_factors` on low-rank
covariance factors (`fd_factors`). All share `trace_sqrt`. All statistics are computed in
float64; features may be any real dtype.
"""

from .bootstrap import BootstrapResult, bootstrap
from .errors import RankDeficientCovarianceWarning
from .fd import METHODS, FDResult, frechet_distance, frechet_distance_features
from .fd_batch import BatchFD, frechet_distance_batch, frechet_distance_matched
from .fd_factors import FDTerms, fd_factors, fd_features, fd_moments, row_factor
from .kid import KIDResult, kid, mmd2_unbiased
from .mmd import cmmd, mmd_median, rbf_mmd2
from .prdc import (
    DCResult,
    PRResult,
    density_coverage,
    knn_radii,
    manifold_metrics,
    precision_recall,
)
from .rows import Rows
from .stats import FeatureStats

__all__ = [
    "BootstrapResult",
    "bootstrap",
    "RankDeficientCovarianceWarning",
    "METHODS",
    "FDResult",
    "frechet_distance",
    "frechet_distance_features",
    "BatchFD",
    "frechet_distance_batch",
    "frechet_distance_matched",
    "FDTerms",
    "fd_factors",
    "fd_features",
    "fd_moments",
    "row_factor",
    "KIDResult",
    "kid",
    "mmd2_unbiased",
    "cmmd",
    "mmd_median",
    "rbf_mmd2",
    "DCResult",
    "PRResult",
    "density_coverage",
    "knn_radii",
    "manifold_metrics",
    "precision_recall",
    "Rows",
    "FeatureStats",
]
