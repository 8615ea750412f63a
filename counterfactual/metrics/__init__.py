"""Metrics on feature sets: moments, Fréchet distance, KID, k-NN manifold metrics, bootstrap.

All statistics are computed in float64; features may be any real dtype.
"""
from .bootstrap import BootstrapResult, bootstrap
from .errors import RankDeficientCovarianceWarning
from .fd import METHODS, FDResult, frechet_distance, frechet_distance_features
from .kid import KIDResult, kid, mmd2_unbiased
from .prdc import (DCResult, PRResult, density_coverage, knn_radii, manifold_metrics,
                   precision_recall)
from .rows import Rows
from .stats import FeatureStats

__all__ = [
    "BootstrapResult", "bootstrap",
    "RankDeficientCovarianceWarning",
    "METHODS", "FDResult", "frechet_distance", "frechet_distance_features",
    "KIDResult", "kid", "mmd2_unbiased",
    "DCResult", "PRResult", "density_coverage", "knn_radii", "manifold_metrics", "precision_recall",
    "Rows",
    "FeatureStats",
]
