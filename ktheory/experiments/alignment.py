"""Centered kernel alignment (alignf) over Gaussian kernels and the Nystrom embedding of the result.

The kernel-embedding experiment of Panahi et al. (2022) learns a kernel with the alignf method of
Cortes, Mohri and Rostamizadeh (2012), "Algorithms for Learning Kernels Based on Centered
Alignment", JMLR 13. Symbols:

- K_k (n x n): base kernel k, here Gaussian, K_k[i, j] = exp(-||x_i - x_j||^2 / (2 s_k^2)).
- K^c = P K P with P = I - 1 1^T / n: the centered kernel.
- M (P x P): M_kl = <K_k^c, K_l^c>_F; a (P,): a_k = <K_k^c, y y^T>_F.
- alignf: minimise v^T M v - 2 v^T a over v >= 0; the kernel weights are mu = v / ||v||_2, and the
  learned kernel is K_mu = sum_k mu_k K_k. Its centered alignment with y y^T,
  A(K, yy^T) = <K^c, yy^T>_F / (||K^c||_F ||yy^T||_F), is the largest over all non-negative
  combinations of the base kernels.

M and a are accumulated over row blocks without storing any n x n kernel, using
<P K_k P, K_l>_F = <K_k, K_l>_F - 2 r_k . r_l / n + s_k s_l / n^2 (r_k = K_k 1, s_k = 1^T K_k 1)
and y^T P K_k P y = y_c^T K_k y_c with y_c = y - mean(y).

The quadratic program is solved as a non-negative least-squares problem: with M = R^T R,
v^T M v - 2 v^T a = ||R v - b||^2 - ||b||^2 where R^T b = a. M may be singular (two nearly
identical kernels), so R and b come from the eigendecomposition of M restricted to its numerical
range, where a lies because a = G^T vec(y y^T) for the matrix G whose columns are vec(K_k^c).

Known limitations
-----------------
- The positive-semidefiniteness check of a base kernel is exact (full eigvalsh) only up to
  ``psd_rows`` samples; above that it checks a seeded principal submatrix, which can reveal a
  negative eigenvalue but cannot prove there is none.
- Bandwidths are set relative to the median pairwise distance of the training rows; the paper
  does not state its seven bandwidths.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.optimize import nnls

from ..errors import InvalidArgumentError, as_finite_array, check_positive

__all__ = [
    "center_kernel",
    "centered_alignment",
    "gaussian_kernel",
    "median_distance",
    "default_bandwidths",
    "alignment_moments",
    "alignf_solve",
    "alignf_bruteforce",
    "AlignfResult",
    "alignf",
    "psd_check",
    "NystromEmbedding",
    "nystrom_embedding",
]

_EPS = np.finfo(np.float64).eps

ROW_BLOCK = 1024
"""Rows of the distance matrix formed at once; a block of all seven kernels is 7 * 1024 * n doubles."""

RANGE_FACTOR = 100.0
"""An eigenvalue of M below RANGE_FACTOR * P * eps * max eigenvalue counts as zero (backward error
of eigh is a small multiple of P * eps * ||M||; 100 is a safety margin)."""

PSD_FACTOR = 100.0
"""A kernel passes the PSD check when its smallest eigenvalue is >= -PSD_FACTOR * n * eps * ||K||_2,
the size of the rounding error of a symmetric eigensolver on an n x n matrix."""


def center_kernel(K) -> np.ndarray:
    """Return the centered kernel P K P with P = I - 1 1^T / n, shape (n, n)."""
    K = as_finite_array("K", K, ndim=2)
    if K.shape[0] != K.shape[1]:
        raise InvalidArgumentError(f"K must be a square kernel matrix; got shape {K.shape}")
    Kc = K - K.mean(axis=0, keepdims=True)
    return Kc - Kc.mean(axis=1, keepdims=True)


def centered_alignment(K1, K2) -> float:
    """Return the centered alignment <K1^c, K2^c>_F / (||K1^c||_F ||K2^c||_F) of two kernels."""
    A = center_kernel(K1)
    B = center_kernel(K2)
    den = np.linalg.norm(A) * np.linalg.norm(B)
    if den == 0:
        raise InvalidArgumentError("a centered kernel is zero (constant kernel); its alignment is undefined")
    return float(np.sum(A * B) / den)


def _sq_distances(A, B) -> np.ndarray:
    d2 = (A * A).sum(axis=1)[:, None] + (B * B).sum(axis=1)[None, :] - 2.0 * (A @ B.T)
    return np.maximum(d2, 0.0)  # rounding can make ||x - x||^2 slightly negative


def gaussian_kernel(A, B, bandwidth: float) -> np.ndarray:
    """Return exp(-||a_i - b_j||^2 / (2 bandwidth^2)), shape (len(A), len(B))."""
    A = as_finite_array("A", A, ndim=2)
    B = as_finite_array("B", B, ndim=2)
    if A.shape[1] != B.shape[1]:
        raise InvalidArgumentError(f"A and B must have the same number of columns; got {A.shape} and {B.shape}")
    s = check_positive(bandwidth, "bandwidth")
    return np.exp(-_sq_distances(A, B) / (2.0 * s * s))


def median_distance(X, rng: np.random.Generator, pairs: int = 20000) -> float:
    """Return the median Euclidean distance between distinct rows of X, from ``pairs`` random pairs."""
    X = as_finite_array("X", X, ndim=2)
    n = X.shape[0]
    if n < 2:
        raise InvalidArgumentError(f"X must have at least 2 rows for a pairwise distance; got {n}")
    i = rng.integers(0, n, size=pairs)
    j = rng.integers(0, n - 1, size=pairs)
    j = j + (j >= i)  # a uniform index different from i
    return float(np.median(np.linalg.norm(X[i] - X[j], axis=1)))


def default_bandwidths(median: float, count: int = 7) -> np.ndarray:
    """Return ``count`` bandwidths median * 2^k for k = -(count-1)/2 ... (count-1)/2 (seven: 1/8 ... 8)."""
    median = check_positive(median, "median")
    count = check_positive(count, "count", integer=True)
    return median * 2.0 ** (np.arange(count) - (count - 1) / 2.0)


def alignment_moments(X, y, bandwidths, block: int = ROW_BLOCK):
    """Return (M, a, diag) of alignf for Gaussian base kernels on X, without storing any n x n kernel.

    M (P, P) is M_kl = <K_k^c, K_l^c>_F, a (P,) is a_k = <K_k^c, y y^T>_F, and diag (P,) holds
    <K_k^c, K_k^c>_F (equal to diag(M)), all accumulated over row blocks of ``block`` rows.
    """
    X = as_finite_array("X", X, ndim=2)
    y = as_finite_array("y", y, shape=(X.shape[0],))
    bw = as_finite_array("bandwidths", np.atleast_1d(bandwidths), ndim=1)
    if np.any(bw <= 0):
        raise InvalidArgumentError(f"bandwidths must all be > 0; got {bw}")
    n, P = X.shape[0], bw.size
    yc = y - y.mean()
    gram = np.zeros((P, P))
    row_sums = np.zeros((P, n))
    a = np.zeros(P)
    for start in range(0, n, block):
        stop = min(start + block, n)
        d2 = _sq_distances(X[start:stop], X)
        Kb = np.exp(-d2[None, :, :] / (2.0 * bw[:, None, None] ** 2))  # (P, b, n)
        flat = Kb.reshape(P, -1)
        gram += flat @ flat.T
        row_sums[:, start:stop] = Kb.sum(axis=2)
        a += (Kb @ yc) @ yc[start:stop]
    totals = row_sums.sum(axis=1)
    M = gram - 2.0 * (row_sums @ row_sums.T) / n + np.outer(totals, totals) / n**2
    M = 0.5 * (M + M.T)
    return M, a, np.diag(M).copy()


def _range_factor(M, a):
    """Return (R, b) with R^T R = M and R^T b = a on the numerical range of M."""
    M = as_finite_array("M", M, ndim=2)
    a = as_finite_array("a", a, shape=(M.shape[0],))
    vals, vecs = np.linalg.eigh(0.5 * (M + M.T))
    tol = RANGE_FACTOR * M.shape[0] * _EPS * max(vals.max(initial=0.0), 0.0)
    keep = vals > tol
    if not np.any(keep):
        raise InvalidArgumentError("M has no positive eigenvalue: every centered base kernel is zero")
    R = np.sqrt(vals[keep])[:, None] * vecs[:, keep].T
    b = (vecs[:, keep].T @ a) / np.sqrt(vals[keep])
    return R, b


def alignf_solve(M, a) -> np.ndarray:
    """Return v >= 0 minimising v^T M v - 2 v^T a (M symmetric positive semidefinite) by NNLS."""
    R, b = _range_factor(M, a)
    v, _ = nnls(R, b, maxiter=50 * R.shape[1])
    return v


def alignf_bruteforce(M, a) -> np.ndarray:
    """Return the minimiser of v^T M v - 2 v^T a over v >= 0 by enumerating all 2^P active sets.

    For each support S the unconstrained minimiser on S solves M_SS v_S = a_S (least squares when
    M_SS is singular); it is kept when feasible (v_S >= 0), and the feasible point with the lowest
    objective wins. Exponential in P: for tests only.
    """
    M = as_finite_array("M", M, ndim=2)
    a = as_finite_array("a", a, shape=(M.shape[0],))
    P = M.shape[0]
    if P > 16:
        raise InvalidArgumentError(f"alignf_bruteforce enumerates 2^P supports; P = {P} > 16 is too many")
    best_v, best_obj = np.zeros(P), 0.0
    for size in range(1, P + 1):
        for support in itertools.combinations(range(P), size):
            S = list(support)
            vS = np.linalg.lstsq(M[np.ix_(S, S)], a[S], rcond=None)[0]
            if np.any(vS < 0):
                continue
            v = np.zeros(P)
            v[S] = vS
            obj = float(v @ M @ v - 2.0 * v @ a)
            if obj < best_obj:
                best_v, best_obj = v, obj
    return best_v


@dataclass(frozen=True)
class AlignfResult:
    """Kernel weights learned by alignf and the alignments behind them.

    ``mu`` = v / ||v||_2 (P,), ``v`` the QP solution, ``M`` and ``a`` the QP data, ``base_alignment``
    the centered alignment of each base kernel with y y^T, ``alignment`` that of K_mu.
    """

    bandwidths: np.ndarray
    v: np.ndarray
    mu: np.ndarray
    M: np.ndarray
    a: np.ndarray
    base_alignment: np.ndarray
    alignment: float
    objective: float


def alignf(X, y, bandwidths, block: int = ROW_BLOCK) -> AlignfResult:
    """Learn non-negative weights of Gaussian base kernels on (X, y) by alignf (see module docstring)."""
    M, a, diag = alignment_moments(X, y, bandwidths, block=block)
    y = np.asarray(y, dtype=float)
    yc = y - y.mean()
    yy_norm = float(yc @ yc)  # ||P y y^T P||_F = ||y_c||^2, and <K^c, yy^T> = <K^c, y_c y_c^T>
    v = alignf_solve(M, a)
    norm = float(np.linalg.norm(v))
    if norm == 0:
        raise InvalidArgumentError(
            "alignf returned v = 0: no base kernel has positive centered alignment with the labels"
        )
    mu = v / norm
    base = a / (np.sqrt(np.maximum(diag, 0.0)) * yy_norm)
    alignment = float(mu @ a / (np.sqrt(mu @ M @ mu) * yy_norm))
    return AlignfResult(np.asarray(bandwidths, float), v, mu, M, a, base, alignment,
                        float(v @ M @ v - 2 * v @ a))


def psd_check(X, bandwidth: float, rng: np.random.Generator, psd_rows: int = 2000) -> dict:
    """Check that the Gaussian kernel on X is positive semidefinite to rounding.

    Uses all rows when n <= psd_rows, else a seeded principal submatrix of psd_rows rows (a
    principal submatrix of a PSD matrix is PSD). Returns the smallest and largest eigenvalue, the
    tolerance -PSD_FACTOR * rows * eps * largest, the rows used and ``psd`` (bool).
    """
    X = as_finite_array("X", X, ndim=2)
    n = X.shape[0]
    rows = np.arange(n) if n <= psd_rows else np.sort(rng.choice(n, size=psd_rows, replace=False))
    vals = np.linalg.eigvalsh(gaussian_kernel(X[rows], X[rows], bandwidth))
    tol = PSD_FACTOR * rows.size * _EPS * float(vals[-1])
    return {"min_eigenvalue": float(vals[0]), "max_eigenvalue": float(vals[-1]),
            "tolerance": tol, "rows": int(rows.size), "psd": bool(vals[0] >= -tol)}


@dataclass(frozen=True)
class NystromEmbedding:
    """Nystrom features of the kernel K_mu = sum_k mu_k K_k: Z Z^T approximates K on the inputs.

    ``landmarks`` (r,) indices into the training rows, ``rank`` the number of eigenpairs kept,
    ``map`` (r, rank) = U Lambda^{-1/2} so that Z = K(X, landmarks) @ map.
    """

    landmarks: np.ndarray
    landmark_points: np.ndarray
    bandwidths: np.ndarray
    mu: np.ndarray
    map: np.ndarray
    eigenvalues: np.ndarray
    rank: int

    def kernel(self, A) -> np.ndarray:
        """Return K_mu(A, landmarks), shape (len(A), r)."""
        A = as_finite_array("A", A, ndim=2)
        out = np.zeros((A.shape[0], self.landmark_points.shape[0]))
        d2 = _sq_distances(A, self.landmark_points)
        for weight, s in zip(self.mu, self.bandwidths):
            if weight != 0:
                out += weight * np.exp(-d2 / (2.0 * s * s))
        return out

    def transform(self, A, normalize: bool = True) -> np.ndarray:
        """Return the embedding of the rows of A, shape (len(A), rank); rows unit norm if ``normalize``."""
        Z = self.kernel(A) @ self.map
        if normalize:
            norms = np.linalg.norm(Z, axis=1, keepdims=True)
            if np.any(norms == 0):
                raise InvalidArgumentError(
                    "a Nystrom feature row is zero (input far from every landmark); use more landmarks or wider kernels"
                )
            Z = Z / norms
        return Z


def nystrom_embedding(X, mu, bandwidths, landmarks: int, rng: np.random.Generator,
                      rcond: float | None = None) -> NystromEmbedding:
    """Build the Nystrom embedding of K_mu from ``landmarks`` rows of X drawn without replacement.

    With W = K_mu(L, L) = U diag(lambda) U^T, eigenpairs with lambda > rcond * lambda_max are kept
    (default rcond = r * eps), so Z Z^T = C W^+ C^T with C = K_mu(X, L); at r = n landmarks this
    equals K_mu up to rounding.
    """
    X = as_finite_array("X", X, ndim=2)
    mu = as_finite_array("mu", mu, ndim=1)
    bw = as_finite_array("bandwidths", bandwidths, shape=(mu.size,))
    n = X.shape[0]
    r = check_positive(landmarks, "landmarks", integer=True)
    if r > n:
        raise InvalidArgumentError(f"landmarks must be <= n = {n} (training rows); got {r}")
    idx = np.sort(rng.choice(n, size=r, replace=False))
    emb = NystromEmbedding(idx, X[idx].copy(), bw, mu, np.zeros((r, 0)), np.zeros(0), 0)
    Wl = emb.kernel(X[idx])
    vals, vecs = sla.eigh(0.5 * (Wl + Wl.T))
    cut = (r * _EPS if rcond is None else float(rcond)) * vals[-1]
    keep = vals > cut
    mapping = vecs[:, keep] / np.sqrt(vals[keep])[None, :]
    return NystromEmbedding(idx, X[idx].copy(), bw, mu, mapping, vals[keep][::-1].copy(), int(keep.sum()))
