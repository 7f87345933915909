"""Overlap between hidden-unit output columns and the top eigenvectors of the expected kernel.

The spectral-analysis experiment of Panahi et al. (2022) takes, for one network, the columns
phi_k of its hidden-output matrix Phi (n, m) on the training inputs, normalises each to unit
Euclidean norm, takes its dot product with each of the top K eigenvectors u_1 ... u_K of the
expected kernel H^infinity (n, n), and averages over the K eigenvectors. Eigenvector signs are
arbitrary, so this module averages absolute values:

    overlap_k = (1/K) sum_{j=1..K} |<phi_k / ||phi_k||, u_j>|,

which is the mean of K direction cosines and lies in [0, 1/sqrt(K)] (Cauchy-Schwarz on K
orthonormal directions: sum_j |<phi, u_j>| <= sqrt(K)). The paper describes the quantity in words
and reads it as a simplified version of its overlap coefficients alpha_j.

Known limitations
-----------------
- A column that is zero on every training input (a ReLU unit inactive everywhere) has no
  direction. It is left out and counted in ``dead_columns``.
- The top eigenvectors are computed by a dense eigensolver when n <= DENSE_EIGEN_ROWS and by
  scipy's Lanczos solver (eigsh) above; eigenvectors of repeated eigenvalues are defined only up
  to a rotation, which changes individual products but not their sum of squares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..errors import InvalidArgumentError, as_finite_array, check_positive

__all__ = ["top_eigenvectors", "OverlapResult", "column_overlaps"]

DENSE_EIGEN_ROWS = 3000
"""Largest n for which the top eigenvectors come from a dense eigh (a few seconds on 2 cores)."""


def top_eigenvectors(K, count: int):
    """Return (values, vectors) of the ``count`` largest eigenpairs of the symmetric K, descending.

    ``vectors`` has shape (n, count) with orthonormal columns.
    """
    K = as_finite_array("K", K, ndim=2)
    n = K.shape[0]
    if K.shape[1] != n:
        raise InvalidArgumentError(f"K must be square; got shape {K.shape}")
    count = check_positive(count, "count", integer=True)
    if count > n:
        raise InvalidArgumentError(f"count must be <= n = {n}; got {count}")
    S = 0.5 * (K + K.T)
    if n <= DENSE_EIGEN_ROWS or count >= n - 1:
        vals, vecs = sla.eigh(S, subset_by_index=[n - count, n - 1])
    else:
        from scipy.sparse.linalg import eigsh

        vals, vecs = eigsh(S, k=count, which="LA")
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


@dataclass(frozen=True)
class OverlapResult:
    """Per-column overlaps with the top K eigenvectors.

    ``overlap`` (m_alive,) is the mean |cosine| per live column, ``products`` (m_alive, K) the
    signed products <phi_k / ||phi_k||, u_j>, ``columns`` the indices of the live columns,
    ``dead_columns`` how many columns were zero.
    """

    overlap: np.ndarray
    products: np.ndarray
    columns: np.ndarray
    dead_columns: int
    top_k: int


def column_overlaps(Phi, vectors) -> OverlapResult:
    """Return the overlap of each normalised column of Phi (n, m) with orthonormal ``vectors`` (n, K)."""
    Phi = as_finite_array("Phi", Phi, ndim=2)
    U = as_finite_array("vectors", vectors, ndim=2)
    if U.shape[0] != Phi.shape[0]:
        raise InvalidArgumentError(
            f"vectors must have n = {Phi.shape[0]} rows (one per sample, as Phi); got shape {U.shape}"
        )
    norms = np.linalg.norm(Phi, axis=0)
    alive = np.flatnonzero(norms > 0)
    unit = Phi[:, alive] / norms[alive]
    products = unit.T @ U
    return OverlapResult(np.abs(products).mean(axis=1), products, alive,
                         int(Phi.shape[1] - alive.size), int(U.shape[1]))


@dataclass(frozen=True)
class Figure4Overlaps:
    """Overlaps per network kind and seed, with the eigenvalues of H^infinity they refer to.

    ``overlaps`` maps "teacher_perfect", "teacher_imperfect", "student_perfect" and
    "student_imperfect" to one array of per-column overlaps per seed.
    """

    overlaps: dict
    eigenvalues: np.ndarray
    top_k: int
    rows: int
    dead_columns: int


def figure4_overlaps(problem, settings: dict, cores) -> Figure4Overlaps:
    """Compute the overlaps of teachers (final, checkpoint) and of the students trained from them.

    ``cores`` is a list of :class:`ktheory.experiments.scenarios.CoreRuns`; their "perfect" and
    "imperfect" runs are the students. Uses the first ``overlap_rows`` training rows (all if None).
    """
    from ..model import hidden_features
    from ..ntk import expected_kernel

    act = settings["activation"]
    n = problem.X.shape[0]
    rows = n if settings["overlap_rows"] is None else min(int(settings["overlap_rows"]), n)
    X = problem.X[:rows]
    K = expected_kernel(X, act, kappa=settings["kappa"]).kernel
    vals, U = top_eigenvectors(K, int(settings["overlap_top_k"]))
    del K
    out = {"teacher_perfect": [], "teacher_imperfect": [], "student_perfect": [], "student_imperfect": []}
    dead = 0
    for core in cores:
        weights = {"teacher_perfect": core.teacher_W, "teacher_imperfect": core.teacher_W_mid,
                   "student_perfect": core.runs["perfect"].W, "student_imperfect": core.runs["imperfect"].W}
        for key, W in weights.items():
            res = column_overlaps(hidden_features(X, W, act), U)
            out[key].append(res.overlap)
            dead += res.dead_columns
    return Figure4Overlaps(out, vals, int(U.shape[1]), rows, dead)
