"""Metrics on feature sets: moments, Fréchet distance, KID, RBF-MMD (CMMD), k-NN manifold metrics, bootstrap.

The Fréchet distance: `frechet_distance` / `frechet_distance_features` (one pair, `fd`;
`fd_features` with row weights and `fd_factors` on low-rank covariance factors, `fd_factors`)
and one batched implementation, `fd_batch` (many pairs of weighted row sets of one pool:
`frechet_distance_batch`, `frechet_distance_matched`, `PooledFD`, `PairPool`; result `BatchFD`).
Every route computes tr sqrt(S1 S2) from symmetric factorisations (`trace_sqrt`; the batched
routes and the factor routes by its nuclear norm of a product of two factors), never a general
matrix square root. `span_coordinates` reduces two sets to the span of their rows, every FD
unchanged. All statistics are computed in float64; features may be any real dtype.
The package imports numpy and scipy only (no torch).
"""

from ._checks import as_features
from .bootstrap import BootstrapResult, bootstrap
from .errors import RankDeficientCovarianceWarning
from .fd import METHODS, FDResult, frechet_distance, frechet_distance_features
from .fd_batch import (
    BatchFD,
    PairPool,
    PooledFD,
    frechet_distance_batch,
    frechet_distance_matched,
)
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
from .span import span_coordinates
from .stats import FeatureStats

__all__ = [
    "as_features",
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
    "PairPool",
    "PooledFD",
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
    "span_coordinates",
    "FeatureStats",
]
