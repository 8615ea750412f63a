"""The gradient of FD(reference, B) with respect to each row (one image's pooled feature) of B.

FD = ||mu_A - mu_B||^2 + tr S_A + tr S_B - 2 tr sqrt(S_A S_B), S the unbiased covariances.
With the centred factors F_A = (A - mu_A)^T / sqrt(n_A - 1) and F_B likewise,
tr sqrt(S_A S_B) = ||K||_* (the nuclear norm of K = F_A^T F_B, `metrics.trace_sqrt`), whose
derivative is U V^T (K = U diag(s) V^T, singular values above rounding only). For row i of B
(n = n_B rows, c_i = b_i - mu_B):

    dFD/db_i = 2/n (mu_B - mu_A) + 2/(n-1) c_i - 2/sqrt(n-1) [F_A U V^T]_{:, i}

(the centring of B adds nothing: V is orthogonal to the all-ones vector, which K annihilates).
With full-rank covariances the last term is 2/(n-1) T c_i, T = S_A^(1/2) (S_A^(1/2) S_B
S_A^(1/2))^(-1/2) S_A^(1/2) the optimal-transport map from N(mu_B, S_B) to N(mu_A, S_A); with
rank-deficient ones (n <= d) it is the derivative of FD within the span of the data (the
singular values that are zero are left out: FD is not differentiable across that span).
Everything in float64; O(d n^2), no d x d matrix is formed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from counterfactual.metrics._checks import as_features, same_dim

#: Singular values of K below RANK_RTOL * (largest) are rounding (left out of U V^T).
RANK_RTOL = 1e-10


def fd_gradient(reference: Any, features: Any) -> np.ndarray:
    """dFD(reference, features) / d features: float64 [n_B, d], row i the gradient with
    respect to row i of `features` (see the module docstring). Needs 2+ rows on each side."""
    a = as_features(reference, "reference", min_rows=2)
    b = as_features(features, "features", min_rows=2)
    same_dim(a, b, "reference", "features")
    n = len(b)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    fa = (a - mu_a).T / np.sqrt(len(a) - 1)  # [d, n_A]
    cb = b - mu_b  # [n_B, d]
    k = fa.T @ (cb.T / np.sqrt(n - 1))  # [n_A, n_B]
    u, s, vt = np.linalg.svd(k, full_matrices=False)
    keep = s > RANK_RTOL * (s[0] if s.size and s[0] > 0 else 1.0)
    polar = u[:, keep] @ vt[keep]  # d||K||_* / dK
    cross = (fa @ polar).T / np.sqrt(n - 1)  # d tr sqrt(S_A S_B) / d b_i, [n_B, d]
    return 2.0 / n * (mu_b - mu_a) + 2.0 / (n - 1) * cb - 2.0 * cross


__all__ = ["fd_gradient", "RANK_RTOL"]
