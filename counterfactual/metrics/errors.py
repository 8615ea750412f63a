"""Warning categories raised by the metrics."""

from __future__ import annotations


class RankDeficientCovarianceWarning(UserWarning):
    """A covariance has numerical rank below its dimension (n <= d samples, or singular data).

    The Fréchet distance is still computed exactly for the given covariances, but it is
    then dominated by the sample size and not comparable across sample sizes.
    """
