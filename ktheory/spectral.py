"""Block matrix Hbar, transfer matrix T(s), its poles and the modal solution of the kernel regime.

Notation of Panahi et al. (2022), "Analysis of Knowledge Transfer in Kernel Regime":

- H_k (n x n): Gram matrix of hidden unit k at initialisation, stacked as ``H`` with shape (m, n, n).
- c_k = a_k / sqrt(m); a_bar = sum_k c_k^2 (the paper's scalar ``a``).
- Hbar (m n x m n): block (k, l) is H_k (c_k c_l + lambda [k == l]). With B = blockdiag(H_k) and
  C = c c^T + lambda I_m, Hbar = B (C kron I_n). It drives eta, the stacked per-unit residuals
  delta_k = f_k - f_k,inf, through d eta / dt = -Hbar eta.
- T(s) = sum_k c_k^2 (s I + lambda H_k)^{-1} H_k (n x n, symmetric for real s).
- Poles p_j: the eigenvalues of Hbar. A positive p is a pole exactly when -1 is an eigenvalue of
  T(-p) (the secular condition), apart from the singular set {lambda h : h a nonzero eigenvalue of
  some H_k} where T itself blows up.
- Lemma 6.5 vectors: with v an eigenvector of T(-p_j) for the eigenvalue -1, the right eigenvector
  has blocks c_k (p_j I - lambda H_k)^{-1} H_k v and the left one c_k (p_j I - lambda H_k)^{-1} v.

Three independent routes give all m n poles:

(a) :func:`eigen_decomposition`, a symmetric eigensolve. Factor each H_k = F_k^T F_k with
    F_k = diag(sqrt h) Q^T from its nonzero eigenpairs (h, Q), so that B = F^T F with
    F = blockdiag(F_k). Then Hbar = F^T F (C kron I) has the same nonzero eigenvalues as the
    symmetric matrix S = F (C kron I) F^T = Fc Fc^T + lambda diag(h) of size R = sum_k rank(H_k),
    where Fc stacks c_k F_k. For lambda > 0, S is positive definite (every eigenvalue is at least
    lambda times the smallest kept h), so R is exactly the number of nonzero poles and the
    m n - R zero poles (inactive ReLU rows, n > d, other null vectors of the H_k) never enter the
    eigensolve. For orthonormal eigenvectors xi of S, the right eigenvector is F^T xi / sqrt(p) and
    the left one (C kron I) F^T xi / sqrt(p), so left . right = 1 without a normalisation step.
    For lambda = 0 the nonzero poles are the eigenvalues of H = sum_k c_k^2 H_k, and the other
    poles are zero.
(b) :func:`secular_poles`, roots of det(I + T(-p)) = 0 isolated by bisection on the number of
    negative eigenvalues of I + T(-p) (T(-p) increases in the Loewner order between singular points,
    so that count only falls) and polished with Brent's method.
(c) :func:`nonsymmetric_poles`, numpy's general eigensolver on the dense Hbar, which also reports the
    largest imaginary part it returns (all poles are real, because for lambda > 0 Hbar is similar
    to the symmetric (C kron I)^{1/2} B (C kron I)^{1/2}).

Known limitations
-----------------
- An eigenvalue of H_k below 10 n eps max_k ||H_k|| counts as zero (for lambda = 0, an eigenvalue
  of H below 10 n eps ||H||). Genuine poles that small cannot be distinguished from zero in float64; the
  high-precision module decides those. Poles just above the threshold are kept but carry
  absolute errors of order R eps ||S||.
- Route (b) cannot see poles that lie exactly on the singular set (identical units produce them,
  violating Assumption 2). It reports how many poles it could not account for as ``missing``
  instead of guessing.
- Left eigenvectors from route (a) are (C kron I) times the right ones, so their relative
  eigen-residual can exceed that of the right vectors by up to cond(C) = (a_bar + lambda) / lambda
  (about 100 for lambda = 0.01, a_bar = 1).
- Clusters of nearly equal poles make individual Lemma 6.5 vectors ill-conditioned: vectors are
  built per cluster and biorthonormalised within it, and ``rebuild_error`` tells how well they
  reproduce Hbar.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
from scipy import optimize
from scipy.sparse.linalg import LinearOperator, expm_multiply

from .errors import InvalidArgumentError, MemoryLimitError, as_finite_array, check_lambda
from .ntk import check_blocks

__all__ = [
    "DENSE_LIMIT_BYTES",
    "block_matrix",
    "block_operator",
    "transfer_matrix",
    "poles",
    "eigen_decomposition",
    "ModalBasis",
    "secular_poles",
    "SecularPoles",
    "nonsymmetric_poles",
    "lemma65_vectors",
    "Lemma65Vectors",
    "pole_bounds",
    "assumption_gaps",
    "modal_solution",
    "expm_solution",
    "extreme_poles",
    "ExtremePoles",
    "unit_factors",
    "UnitFactors",
    "to_unit_major",
]

DENSE_LIMIT_BYTES = 2 * 1024**3
"""Largest dense (m n) x (m n) matrix the dense routes build before raising MemoryLimitError."""

_EPS = np.finfo(np.float64).eps

# A pole (eigenvalue of S) is zero when it is below ZERO_FACTOR * size * eps * ||S||_2: the backward
# error of a symmetric eigensolver is a small multiple of size * eps * ||S||, so exact zeros land
# there. The factor 10 is a safety margin, not derived.
ZERO_FACTOR = 10.0

# transfer_matrix treats s I + lambda H_k as singular when an eigenvalue is within
# SINGULAR_FACTOR * n * eps of its scale: the eigenvalues of H_k carry that much backward error.
SINGULAR_FACTOR = 10.0

# secular_poles merges singular points lambda h closer than this relative distance, because their
# rounding error is about n eps. It treats singular values of the blow-up directions below
# BLOWUP_RANK_RTOL times the largest as zero when it counts the eigenvalues that blow up.
SINGULAR_CLUSTER_RTOL = 1e-10
BLOWUP_RANK_RTOL = 1e-10

# Seed of the Lanczos start vector in extreme_poles (any fixed value; it only fixes the run).
LANCZOS_START_SEED = 0

# Smallest Lanczos basis in extreme_poles. With identical-looking units (kappa = 1e-2), the poles
# come in clusters of about m nearly equal values; ARPACK's default basis of 2 k + 1 vectors
# cannot hold such a cluster and restarted 6000 times on a CIFAR-10 case (n = 600, m = 20)
# where a basis of 80 needed about 240 products.
LANCZOS_MIN_NCV = 80

# LAPACK drivers of scipy.linalg.eigh for route (a), chosen by the spectral benchmark: the
# divide-and-conquer driver is the fastest with eigenvectors at sizes 1000..4000.
EIGH_DRIVER_VECTORS = "evd"
EIGH_DRIVER_VALUES = "evd"


def _setup(H, a, lam):
    H, a = check_blocks(H, a)
    lam = check_lambda(lam)
    m = H.shape[0]
    if m == 0 or H.shape[1] == 0:
        raise InvalidArgumentError(f"H must have at least one block of size >= 1; got shape {H.shape}")
    c = a / np.sqrt(m)
    return H, c, lam


def _check_dense_size(rows: int, max_bytes: float, what: str):
    try:
        limit = float(max_bytes)
    except (TypeError, ValueError):
        limit = float("nan")
    if not limit > 0:
        raise InvalidArgumentError(f"max_bytes must be a number of bytes > 0; got {max_bytes!r}")
    need = float(rows) * rows * 8
    if need > max_bytes:
        raise MemoryLimitError(
            f"the dense {what} would need an estimated {need:.4g} bytes ({need / 2**30:.2f} GiB, "
            f"{rows} x {rows} float64), above max_bytes = {max_bytes:.4g} bytes; use block_operator() "
            "and extreme_poles() for matrices this large, or raise max_bytes"
        )


def block_matrix(H, a, lam, max_bytes: float = DENSE_LIMIT_BYTES) -> np.ndarray:
    """Return the dense Hbar, shape (m n, m n), block (k, l) = H_k (c_k c_l + lambda [k == l]).

    Raises MemoryLimitError before allocating when (m n)^2 float64 entries exceed ``max_bytes``.
    """
    H, c, lam = _setup(H, a, lam)
    m, n, _ = H.shape
    _check_dense_size(m * n, max_bytes, "block matrix Hbar")
    C = np.outer(c, c) + lam * np.eye(m)
    out = H[:, None, :, :] * C[:, :, None, None]  # (k, l, i, j) = H_k[i, j] C[k, l]
    return out.transpose(0, 2, 1, 3).reshape(m * n, m * n)


def block_operator(H, a, lam) -> LinearOperator:
    """Return Hbar as a scipy LinearOperator acting on unit-major vectors of length m n.

    A product costs m n^2 flops and allocates nothing of size (m n)^2.
    """
    H, c, lam = _setup(H, a, lam)
    m, n, _ = H.shape

    def matvec(x):
        eta = np.asarray(x, dtype=np.result_type(x, np.float64)).reshape(m, n)
        delta = c @ eta
        inner = c[:, None] * delta[None, :] + lam * eta
        return np.einsum("kij,kj->ki", H, inner).reshape(-1)

    def rmatvec(x):
        eta = np.asarray(x, dtype=np.result_type(x, np.float64)).reshape(m, n)
        z = np.einsum("kij,kj->ki", H, eta)  # H_k symmetric, so Hbar^T = (C kron I) B
        return (c[:, None] * (c @ z)[None, :] + lam * z).reshape(-1)

    return LinearOperator((m * n, m * n), matvec=matvec, rmatvec=rmatvec, dtype=np.float64)


def transfer_matrix(s, H, a, lam) -> np.ndarray:
    """Return T(s) = sum_k c_k^2 (s I + lambda H_k)^{-1} H_k, shape (n, n), for real or complex s.

    Computed as sum_k c_k^2 Q_k diag(h / (s + lambda h)) Q_k^T from the eigenpairs of each H_k, so
    T(s) is exactly symmetric. Raises when s I + lambda H_k is singular for a unit with c_k != 0,
    that is when |s + lambda h| <= SINGULAR_FACTOR * n * eps * (|s| + lambda ||H_k||) for an
    eigenvalue h of H_k (this includes s = 0 with a singular H_k, and s = 0 with lambda = 0).
    """
    H, c, lam = _setup(H, a, lam)
    if np.iscomplexobj(s):
        s = complex(s)
    else:
        try:
            s = float(s)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"s must be a real or complex number; got {s!r}") from None
    if not np.isfinite(s):
        raise InvalidArgumentError(f"s must be finite; got {s!r}")
    m, n, _ = H.shape
    h, Q = np.linalg.eigh(H)
    denom = s + lam * h  # eigenvalues of s I + lambda H_k, shape (m, n)
    scale = abs(s) + lam * np.abs(h).max(axis=1, keepdims=True)
    singular = (np.abs(denom) <= SINGULAR_FACTOR * n * _EPS * scale) & (c != 0)[:, None]
    if np.any(singular):
        k, j = (int(v[0]) for v in np.nonzero(singular))
        raise InvalidArgumentError(
            f"s = {s!r} makes s I + lambda H_{k} singular: s is -lambda times the eigenvalue "
            f"{h[k, j]!r} of H_{k} (lambda = {lam!r}); T(s) has a pole there, so choose another s"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(singular | (c == 0)[:, None], 0.0, (c * c)[:, None] * h / denom)
    T = np.einsum("kab,kb,kcb->ac", Q, g, Q)
    return 0.5 * (T + T.T)


def to_unit_major(vectors: np.ndarray, m: int, n: int) -> np.ndarray:
    """Reorder rows of sample-major vectors (index i m + k) to the unit-major order k n + i."""
    vectors = np.asarray(vectors)
    tail = vectors.shape[1:]
    return vectors.reshape((n, m) + tail).swapaxes(0, 1).reshape((m * n,) + tail)


@dataclass
class ModalBasis:
    """Eigenstructure of Hbar from the symmetric route (a).

    ``poles`` contains all m n poles ascending, zeros included; ``nonzero`` the positive ones, with
    matching columns of ``right`` and ``left`` (unit-major, shape (m n, r)) normalised so that
    left^T right = I. The zero eigenspace enters the modal solution through the projector
    I - right left^T. ``zero_tolerance`` is on the scale of the poles: for lambda = 0 the threshold
    below which an eigenvalue of H = sum_k c_k^2 H_k counts as zero, for lambda > 0 the largest
    pole that a dropped eigenvalue of an H_k (below ``info["unit_tolerance"]``) could give, that
    is (a_bar + lambda) times that threshold; ``inactive_rows`` counts the (unit, sample) pairs with
    H_k[i, i] = 0 (for ReLU, units inactive on a sample), which are among the zero poles.
    """

    poles: np.ndarray
    nonzero: np.ndarray
    right: np.ndarray | None
    left: np.ndarray | None
    zero_count: int
    zero_tolerance: float
    inactive_rows: int
    m: int
    n: int
    lam: float
    info: dict = field(default_factory=dict)


def _unit_factors(H):
    """Return the eigen-factors of the H_k: F (R, n), unit index (R,), h (R,), and the tolerance.

    Row j of F is sqrt(h_j) q_j^T for a nonzero eigenpair (h_j, q_j) of H_{unit[j]}, so that
    F_k^T F_k = H_k and F_k F_k^T = diag(h) for the rows F_k of unit k. Eigenvalues below the
    tolerance of :func:`_unit_eigen` count as zero and get no row.
    """
    h, Q, tol = _unit_eigen(H)
    keep = h > 0
    unit = np.repeat(np.arange(H.shape[0]), keep.sum(axis=1))
    h_kept = h[keep]
    F = Q.transpose(0, 2, 1)[keep] * np.sqrt(h_kept)[:, None]
    return F, unit, h_kept, tol


def eigen_decomposition(H, a, lam, vectors: bool = True, max_bytes: float = DENSE_LIMIT_BYTES) -> ModalBasis:
    """Compute all poles (and optionally the biorthonormal eigenvectors) of Hbar by route (a).

    See the module docstring for the method. Cost: m eigendecompositions of n x n, one product
    R x n by n x R, and one dense symmetric eigensolve of size R = sum_k rank(H_k), the number of
    nonzero poles (for lambda > 0).
    """
    H, c, lam = _setup(H, a, lam)
    m, n, _ = H.shape
    if lam == 0.0:
        return _eigen_lambda_zero(H, c, vectors)

    inactive_rows = int(np.count_nonzero(np.einsum("kii->ki", H) == 0))
    F, unit, h_kept, unit_tol = _unit_factors(H)
    size = F.shape[0]
    _check_dense_size(size, max_bytes, "symmetric form S of Hbar")

    # S = F (C kron I) F^T = Fc Fc^T + lambda diag(h), with Fc = diag(c_unit) F, because
    # F_k F_k^T = diag(h_k). numpy evaluates Fc @ Fc.T with a symmetric rank-n update.
    Fc = F * c[unit][:, None]
    S = Fc @ Fc.T
    S[np.diag_indices(size)] += lam * h_kept
    del Fc

    if vectors:
        w, Xi = sla.eigh(S, overwrite_a=True, check_finite=False, driver=EIGH_DRIVER_VECTORS)
    else:
        w = sla.eigh(S, eigvals_only=True, overwrite_a=True, check_finite=False, driver=EIGH_DRIVER_VALUES)
        Xi = None
    del S
    # Every eigenvalue of S is at least lambda * min(h) > 0, so all R of them are nonzero poles.
    # Only when lambda * min(h) is below the rounding error of S can one come out <= 0; such
    # values are counted as zero poles.
    nonzero_mask = w > 0
    zero_count = int(m * n - np.count_nonzero(nonzero_mask))
    nonzero = w[nonzero_mask]
    all_poles = np.concatenate([np.zeros(zero_count), nonzero])

    right = left = None
    if vectors:
        Xi = Xi[:, nonzero_mask]
        # right = F^T xi / sqrt(p) and left = (C kron I) right, so that left . right
        # = xi^T F (C kron I) F^T xi / p = xi^T S xi / p = 1.
        right = np.zeros((m, n, Xi.shape[1]))
        bounds = np.searchsorted(unit, np.arange(m + 1))
        for k in range(m):
            rows = slice(bounds[k], bounds[k + 1])
            if bounds[k + 1] > bounds[k]:
                right[k] = F[rows].T @ Xi[rows]
        right /= np.sqrt(nonzero)[None, None, :]
        left = c[:, None, None] * np.einsum("k,kir->ir", c, right)[None] + lam * right
        right = right.reshape(m * n, -1)
        left = left.reshape(m * n, -1)
    # A dropped eigenvalue h <= unit_tol of some H_k would give poles of at most (a_bar + lambda) h.
    pole_tol = float(c @ c + lam) * unit_tol
    return ModalBasis(all_poles, nonzero, right, left, zero_count, pole_tol, inactive_rows, m, n, lam,
                      info={"route": "symmetric-factor", "size": size, "unit_tolerance": unit_tol,
                            "unit_rank": np.bincount(unit, minlength=m)})


def _eigen_lambda_zero(H, c, vectors):
    m, n, _ = H.shape
    Hnet = np.einsum("k,kij->ij", c * c, H)
    if vectors:
        w, V = sla.eigh(Hnet, check_finite=False)
    else:
        w, V = sla.eigh(Hnet, eigvals_only=True, check_finite=False), None
    scale = max(abs(w[-1]), abs(w[0]))
    tol = ZERO_FACTOR * n * _EPS * scale
    mask = w > tol
    nonzero = w[mask]
    zero_count = int(m * n - nonzero.size)
    right = left = None
    if vectors:
        V = V[:, mask]
        # Hbar = B U U^T with U = c kron I_n and H = U^T B U. For H v = p v, the right
        # eigenvector is B U v / p and the left one U v; left . right = v^T H v / p = 1.
        left = (c[:, None, None] * V[None]).reshape(m * n, -1)
        right = (np.einsum("kij,jr->kir", H, V) * c[:, None, None] / nonzero).reshape(m * n, -1)
    return ModalBasis(np.concatenate([np.zeros(zero_count), nonzero]), nonzero, right, left,
                      zero_count, tol, 0, m, n, 0.0, info={"route": "lambda-zero", "size": n})


def poles(H, a, lam) -> np.ndarray:
    """Return all m n poles of Hbar, real and ascending, zeros included (route (a))."""
    return eigen_decomposition(H, a, lam, vectors=False).poles


@dataclass
class SecularPoles:
    """Poles found as roots of det(I + T(-p)) = 0 (route (b)).

    ``roots`` are the distinct positive roots with their ``multiplicity``; ``poles`` lists all
    m n poles with zeros and repeats, and with ``missing`` poles not found (those on the singular
    set) left out; ``singular_points`` are the values lambda h where T(-p) blows up.
    """

    roots: np.ndarray
    multiplicity: np.ndarray
    zero_count: int
    missing: int
    singular_points: np.ndarray
    poles: np.ndarray
    evaluations: int


def _unit_eigen(H, tol_factor=ZERO_FACTOR):
    """Return eigenvalues h (m, n) and eigenvectors Q (m, n, n) of the H_k, and the zero tolerance.

    Eigenvalues at or below tol_factor * n * eps * max_k ||H_k|| (the backward error of the
    symmetric eigensolver, with a margin) are set to exactly zero.
    """
    n = H.shape[1]
    h, Q = np.linalg.eigh(H)
    scale = np.abs(h).max(initial=0.0)
    tol = tol_factor * n * _EPS * max(scale, 1e-300)
    h = np.where(h > tol, h, 0.0)
    return h, Q, tol


def secular_poles(H, a, lam, upper: float | None = None, xtol: float = 1e-13) -> SecularPoles:
    """Find the poles of Hbar as roots of the secular condition "-1 is an eigenvalue of T(-p)".

    Works from the eigendecompositions of the H_k only and never forms Hbar. Each evaluation costs
    m n^3 flops, so the route is meant for n up to a few hundred. ``xtol`` is the relative width
    below which an isolating interval is reported as one root with multiplicity.

    The number of negative eigenvalues of I + T(-p) falls monotonically between singular points,
    so bisection on that count isolates every root. Near a singular point sigma = lambda h, T(-p)
    has an eigenvalue that runs to +-infinity and swamps the others with rounding error, so the
    count is never evaluated there. Instead the one-sided limits at sigma are computed exactly:
    with V the blow-up directions (eigenvectors of the H_k for that h) and P an orthonormal basis
    of their complement, the count just below sigma is the number of negative eigenvalues of
    P^T (I + T_rest(-sigma)) P, and just above it that number plus rank(V).
    """
    H, c, lam = _setup(H, a, lam)
    m, n, _ = H.shape
    h, Q, htol = _unit_eigen(H)
    weights = (c * c)[:, None]
    live = (h > 0) & (weights > 0)  # eigenpairs that enter T(s)
    if lam > 0:
        zero_count = int(np.count_nonzero(h == 0.0))
    else:
        Hnet = np.einsum("k,kij->ij", c * c, H)
        hnet = np.linalg.eigvalsh(Hnet)
        zero_count = int(m * n - np.count_nonzero(hnet > ZERO_FACTOR * n * _EPS * max(hnet[-1], 1e-300)))
    if upper is None:
        upper = pole_bounds(H, np.sqrt(m) * c, lam)["upper"]
    upper = float(upper) * (1 + 1e-9) + 1e-300

    count = 0

    def matrix_at(p, exclude=None):
        mask = live if exclude is None else live & ~exclude
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(mask, h / (lam * h - p), 0.0)  # eigenvalues of (lambda H_k - p I)^{-1} H_k
        T = np.einsum("kab,kb,kcb->ac", Q, weights * g, Q)
        return np.eye(n) + 0.5 * (T + T.T)

    def eigs_at(p):
        nonlocal count
        count += 1
        return np.linalg.eigvalsh(matrix_at(p))

    def negatives(p):
        return int(np.count_nonzero(eigs_at(p) < 0.0))

    def one_sided_counts(low, high):
        """Counts just below and just above a cluster of singular points in [low, high]."""
        nonlocal count
        count += 1
        sel = live & (lam * h >= low) & (lam * h <= high)
        V = Q.transpose(0, 2, 1)[sel].T  # (n, r) blow-up directions
        U, sv, _ = np.linalg.svd(V, full_matrices=True)
        rank = int(np.count_nonzero(sv > BLOWUP_RANK_RTOL * sv[0]))
        P = U[:, rank:]
        if P.shape[1] == 0:
            return 0, rank
        M = matrix_at(0.5 * (low + high), exclude=sel)
        below = int(np.count_nonzero(np.linalg.eigvalsh(P.T @ M @ P) < 0.0))
        return below, below + rank

    # Singular points lambda h closer than SINGULAR_CLUSTER_RTOL form one cluster. Roots strictly
    # inside a cluster are not searched, so they end up in ``missing``.
    clusters = []
    if lam > 0:
        values = np.unique(lam * h[live])
        values = values[values < upper]
        start = 0
        for i in range(1, values.size + 1):
            if i == values.size or values[i] - values[i - 1] > SINGULAR_CLUSTER_RTOL * values[i]:
                clusters.append((values[start], values[i - 1]))
                start = i

    roots: list[float] = []
    mult: list[int] = []

    def isolate(lo, hi, n_lo, n_hi, lo_regular, hi_regular):
        if n_lo <= n_hi:
            return
        if n_lo - n_hi == 1 and lo_regular and hi_regular:
            index = n_hi

            def g(p):
                return eigs_at(p)[index]

            roots.append(optimize.brentq(g, lo, hi, xtol=1e-300, rtol=4 * _EPS, maxiter=200))
            mult.append(1)
            return
        if hi - lo <= xtol * hi:
            roots.append(0.5 * (lo + hi))
            mult.append(n_lo - n_hi)
            return
        mid = 0.5 * (lo + hi)
        n_mid = negatives(mid)
        isolate(lo, mid, n_lo, n_mid, lo_regular, True)
        isolate(mid, hi, n_mid, n_hi, True, hi_regular)

    # Walk the intervals (0, first cluster), (cluster, next cluster), ..., (last cluster, upper).
    if lam > 0:
        lo, n_lo, lo_regular = 0.0, negatives(0.0), True
    else:
        # T(-p) = -H / p: every nonzero eigenvalue of H gives a negative eigenvalue as p -> 0+.
        lo, n_lo, lo_regular = 0.0, m * n - zero_count, False
    for low, high in clusters:
        below, above = one_sided_counts(low, high)
        isolate(lo, low, n_lo, below, lo_regular, False)
        lo, n_lo, lo_regular = high, above, False
    isolate(lo, upper, n_lo, negatives(upper), lo_regular, True)

    roots_arr = np.array(roots)
    mult_arr = np.array(mult, dtype=int)
    order = np.argsort(roots_arr)
    roots_arr, mult_arr = roots_arr[order], mult_arr[order]
    found = zero_count + int(mult_arr.sum())
    listed = np.concatenate([np.zeros(zero_count), np.repeat(roots_arr, mult_arr)])
    return SecularPoles(roots_arr, mult_arr, zero_count, m * n - found, lam * np.unique(h[live]),
                        np.sort(listed), count)


def nonsymmetric_poles(H, a, lam, max_bytes: float = DENSE_LIMIT_BYTES):
    """Return (poles sorted by real part, largest |imaginary part|) from numpy.linalg.eigvals on Hbar."""
    values = np.linalg.eigvals(block_matrix(H, a, lam, max_bytes=max_bytes))
    order = np.argsort(values.real, kind="stable")
    values = values[order]
    return values.real.copy(), float(np.abs(values.imag).max(initial=0.0))


@dataclass
class Lemma65Vectors:
    """Right and left eigenvectors of Hbar built from eigenvectors of T(-p_j), as Lemma 6.5 states.

    Columns match ``poles`` (the nonzero poles used); left^T right = I within each cluster of
    equal poles. ``rebuild_error`` is ||Hbar - sum_j p_j r_j l_j^T||_F / ||Hbar||_F;
    ``right_residual`` and ``left_residual`` are the largest relative eigen-residuals;
    ``biorthogonality_error`` is max |left^T right - I| over all pairs.
    """

    poles: np.ndarray
    right: np.ndarray
    left: np.ndarray
    t_vectors: np.ndarray
    rebuild_error: float
    right_residual: float
    left_residual: float
    biorthogonality_error: float


def _clusters(values, rtol):
    groups = []
    start = 0
    for i in range(1, values.size + 1):
        if i == values.size or values[i] - values[i - 1] > rtol * max(abs(values[i]), 1e-300):
            groups.append(np.arange(start, i))
            start = i
    return groups


def lemma65_vectors(H, a, lam, nonzero_poles, cluster_rtol: float = 1e-8,
                    max_bytes: float = DENSE_LIMIT_BYTES) -> Lemma65Vectors:
    """Build Lemma 6.5's eigenvectors of Hbar from eigenvectors of T(-p) at the given nonzero poles.

    For each cluster of r equal poles (relative spread below ``cluster_rtol``) the r eigenvectors
    of T(-p) whose eigenvalues are closest to -1 are used, and the left vectors are rescaled
    within the cluster so that left^T right = I. Poles on the singular set (p = lambda h) make
    p I - lambda H_k singular; they raise, since the lemma's formula does not apply there.
    """
    H, c, lam = _setup(H, a, lam)
    m, n, _ = H.shape
    p_all = np.sort(as_finite_array("nonzero_poles", nonzero_poles, ndim=1))
    if np.any(p_all <= 0):
        raise InvalidArgumentError("nonzero_poles must all be > 0; drop the zero poles first")
    h, Q, _ = _unit_eigen(H)
    right_cols, left_cols, tvec_cols = [], [], []
    for group in _clusters(p_all, cluster_rtol):
        p = float(np.mean(p_all[group]))
        r = group.size
        denom = p - lam * h  # eigenvalues of p I - lambda H_k
        if np.any(np.abs(denom) <= SINGULAR_FACTOR * n * _EPS * p):
            raise InvalidArgumentError(
                f"pole p = {p!r} lies on the singular set lambda * eig(H_k), where Lemma 6.5's "
                "vectors are undefined (Assumption 2 is violated)"
            )
        T = np.einsum("kab,kb,kcb->ac", Q, (c * c)[:, None] * (-h / denom), Q)
        tw, tv = np.linalg.eigh(0.5 * (T + T.T))
        pick = np.argsort(np.abs(tw + 1.0))[:r]
        V = tv[:, pick]  # (n, r)
        QtV = np.einsum("kab,ar->kbr", Q, V)
        right = c[:, None, None] * np.einsum("kab,kb,kbr->kar", Q, h / denom, QtV)
        left = c[:, None, None] * np.einsum("kab,kb,kbr->kar", Q, 1.0 / denom, QtV)
        right = right.reshape(m * n, r)
        left = left.reshape(m * n, r)
        G = left.T @ right
        left = left @ np.linalg.inv(G).T
        right_cols.append(right)
        left_cols.append(left)
        tvec_cols.append(V)
    right = np.concatenate(right_cols, axis=1)
    left = np.concatenate(left_cols, axis=1)
    Hbar = block_matrix(H, np.sqrt(m) * c, lam, max_bytes=max_bytes)
    norm = np.linalg.norm(Hbar)
    rebuilt = (right * p_all[None, :]) @ left.T
    rebuild = float(np.linalg.norm(Hbar - rebuilt) / norm) if norm > 0 else 0.0
    rnorm = np.linalg.norm(right, axis=0)
    lnorm = np.linalg.norm(left, axis=0)
    res_r = np.linalg.norm(Hbar @ right - right * p_all, axis=0) / (norm * rnorm)
    res_l = np.linalg.norm(Hbar.T @ left - left * p_all, axis=0) / (norm * lnorm)
    bio = np.abs(left.T @ right - np.eye(p_all.size)).max(initial=0.0)
    return Lemma65Vectors(p_all, right, left, np.concatenate(tvec_cols, axis=1), rebuild,
                          float(res_r.max(initial=0.0)), float(res_l.max(initial=0.0)), float(bio))


def pole_bounds(H, a, lam) -> dict:
    """Evaluate Theorem 3.3's lower bound lambda sigma_0 and an upper bound on the largest pole.

    sigma_0 is the smallest nonzero eigenvalue over all H_k. The upper bound is
    ||Hbar||_2 <= ||B||_2 ||C||_2 = max_k ||H_k||_2 (a_bar + lambda), since the largest
    eigenvalue of C = c c^T + lambda I is a_bar + lambda.
    """
    H, c, lam = _setup(H, a, lam)
    h, _, tol = _unit_eigen(H)
    positive = h[h > 0]
    sigma0 = float(positive.min()) if positive.size else float("nan")
    abar = float(c @ c)
    hmax = float(h.max(initial=0.0))
    return {
        "sigma0": sigma0,
        "lower": lam * sigma0,
        "upper": hmax * (abar + lam),
        "a_bar": abar,
        "max_unit_eigenvalue": hmax,
        "eigenvalue_tolerance": tol,
    }


def assumption_gaps(H, a, lam, all_poles) -> dict:
    """Diagnostics for Assumptions 1 and 2: smallest relative gaps, and the sizes they are taken over.

    - ``unit_gap``: smallest relative gap between nonzero eigenvalues pooled over all H_k
      (Assumption 1 asks for distinct values).
    - ``pole_gap``: smallest relative gap between distinct nonzero poles (Assumption 2).
    - ``pole_to_unit``: smallest relative distance from a nonzero pole to an eigenvalue of some H_k,
      as the assumption is printed; ``pole_to_scaled_unit`` uses lambda times those eigenvalues,
      the singular set of T(-p).
    """
    H, c, lam = _setup(H, a, lam)
    h, _, _ = _unit_eigen(H)
    unit = np.sort(h[h > 0])
    p = np.sort(np.asarray(all_poles, dtype=float))
    p = p[p > 0]

    def rel_gap(values):
        if values.size < 2:
            return float("inf")
        return float((np.diff(values) / np.maximum(np.abs(values[1:]), 1e-300)).min())

    def rel_dist(points, targets):
        if points.size == 0 or targets.size == 0:
            return float("inf")
        d = np.abs(points[:, None] - targets[None, :]) / np.maximum(points[:, None], 1e-300)
        return float(d.min())

    return {
        "unit_gap": rel_gap(unit),
        "pole_gap": rel_gap(p),
        "pole_to_unit": rel_dist(p, unit),
        "pole_to_scaled_unit": rel_dist(p, lam * unit) if lam > 0 else float("inf"),
        "nonzero_unit_eigenvalues": int(unit.size),
        "nonzero_poles": int(p.size),
    }


def modal_solution(basis: ModalBasis, eta0, times) -> np.ndarray:
    """Return eta(t) = exp(-Hbar t) eta0 from the modal sum, shape (len(times), m n).

    exp(-Hbar t) = P_0 + sum_j exp(-p_j t) r_j l_j^T, where P_0 = I - sum_j r_j l_j^T projects onto
    the zero eigenspace (Hbar is diagonalizable because it is similar to a symmetric matrix).
    """
    if basis.right is None:
        raise InvalidArgumentError("basis has no eigenvectors; call eigen_decomposition(..., vectors=True)")
    eta0 = as_finite_array("eta0", eta0, shape=(basis.m * basis.n,))
    times = as_finite_array("times", np.atleast_1d(times), ndim=1)
    if np.any(times < 0):
        raise InvalidArgumentError(f"times must be >= 0; got minimum {float(times.min())!r}")
    coef = basis.left.T @ eta0
    zero_part = eta0 - basis.right @ coef
    decay = np.exp(-np.outer(times, basis.nonzero))  # (T, r)
    return zero_part[None, :] + (decay * coef[None, :]) @ basis.right.T


def expm_solution(H, a, lam, eta0, times, max_bytes: float = DENSE_LIMIT_BYTES) -> np.ndarray:
    """Return eta(t) = exp(-Hbar t) eta0 by scipy.sparse.linalg.expm_multiply, shape (len(times), m n).

    Independent of the eigensolver; used to cross-check :func:`modal_solution`. The cost grows
    with t ||Hbar||_1 (about that many matrix-vector products).
    """
    Hbar = block_matrix(H, a, lam, max_bytes=max_bytes)
    eta0 = as_finite_array("eta0", eta0, shape=(Hbar.shape[0],))
    times = as_finite_array("times", np.atleast_1d(times), ndim=1)
    if np.any(times < 0):
        raise InvalidArgumentError(f"times must be >= 0; got minimum {float(times.min())!r}")
    # traceA=0 turns off expm_multiply's shift by mu = trace / N: that shift multiplies by
    # exp(t mu) and back, which for t mu of a few hundred swamps slowly decaying components
    # (including the zero eigenspace) with rounding error of size eps exp(t mu).
    return np.stack([expm_multiply(-t * Hbar, eta0, traceA=0.0) if t > 0 else eta0.copy() for t in times])


@dataclass
class ExtremePoles:
    """The k smallest or largest nonzero poles from a Lanczos solver, with their accuracy.

    ``poles`` ascending; ``residuals`` are ||S x - p x|| / (||S||_est ||x||) for the returned
    eigenvectors x of the symmetric form S (``norm_estimate`` is the largest pole found or known);
    ``size`` is R, the order of S; ``matvecs`` counts operator applications.
    """

    poles: np.ndarray
    residuals: np.ndarray
    which: str
    size: int
    zero_count: int
    matvecs: int
    norm_estimate: float


@dataclass
class UnitFactors:
    """Eigen-factors of the H_k shared by route (a) and :func:`extreme_poles`.

    ``F`` (R, n) stacks rows sqrt(h_j) q_j^T over the nonzero eigenpairs of every H_k, ``unit``
    (R,) gives the unit of each row, ``h`` (R,) the eigenvalues, ``tolerance`` the threshold
    below which eigenvalues were dropped, and ``shape`` the (m, n, n) shape of H.
    """

    F: np.ndarray
    unit: np.ndarray
    h: np.ndarray
    tolerance: float
    shape: tuple


def unit_factors(H) -> UnitFactors:
    """Eigendecompose every H_k once (m n^3 flops) for reuse across :func:`extreme_poles` calls."""
    H = check_blocks(H)
    F, unit, h, tol = _unit_factors(H)
    return UnitFactors(F, unit, h, tol, H.shape)


def extreme_poles(H, a, lam, k: int = 10, which: str = "LA", tol: float = 0.0,
                  return_details: bool = False, factors: UnitFactors | None = None,
                  ncv: int | None = None):
    """Return the k largest ("LA") or smallest nonzero ("SA") poles without forming Hbar, ascending.

    Works on the symmetric form S = Fc Fc^T + lambda diag(h) of route (a) (see the module
    docstring) as a LinearOperator: a product costs 2 R n flops, and S never exists as a dense
    matrix. "LA" runs Lanczos (scipy's eigsh) on S. "SA" runs it in shift-invert mode at 0, with
    S^{-1} applied through the Woodbury identity
    S^{-1} = D^{-1} - D^{-1} Fc K^{-1} Fc^T D^{-1}, D = lambda diag(h), K = I_n + Fc^T D^{-1} Fc,
    so the smallest poles converge as fast as the largest. Setup: one eigendecomposition of each
    H_k (m n^3 flops) and, for "SA", a Cholesky factorisation of the n x n matrix K.

    Zero poles are excluded, so "SA" returns the smallest nonzero poles. For lambda = 0 the poles
    are the eigenvalues of H = sum_k c_k^2 H_k, computed densely (n x n). With ``return_details``
    the result is an :class:`ExtremePoles` with residuals; otherwise an array of the k poles.
    ``factors`` from :func:`unit_factors` (of the same H) skips the eigendecompositions. ``ncv``
    is the Lanczos basis size, by default max(2 k + 1, LANCZOS_MIN_NCV), capped at R - 1.
    """
    from scipy.sparse.linalg import eigsh

    H, c, lam = _setup(H, a, lam)
    if which not in ("LA", "SA"):
        raise InvalidArgumentError(f"which must be 'LA' (largest) or 'SA' (smallest nonzero); got {which!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidArgumentError(f"k must be a positive integer; got {k!r}")
    m, n, _ = H.shape

    if lam == 0.0:
        basis = _eigen_lambda_zero(H, c, vectors=False)
        values = basis.nonzero
        if k > values.size:
            raise InvalidArgumentError(f"k = {k} exceeds the {values.size} nonzero poles (lam = 0)")
        picked = values[:k] if which == "SA" else values[-k:]
        result = ExtremePoles(picked, np.zeros(k), which, n, basis.zero_count, 0, float(values[-1]))
        return result if return_details else result.poles

    if factors is None:
        F, unit, h_kept, _ = _unit_factors(H)
    elif factors.shape != H.shape:
        raise InvalidArgumentError(f"factors were computed for H of shape {factors.shape}; got H of shape {H.shape}")
    else:
        F, unit, h_kept = factors.F, factors.unit, factors.h
    size = F.shape[0]
    # eigsh needs k < R; the dense route handles problems that small.
    if k >= size:
        raise InvalidArgumentError(
            f"k = {k} must be below the number of nonzero poles, {size}; use eigen_decomposition() instead"
        )
    Fc = F * c[unit][:, None]
    d_diag = lam * h_kept
    count = 0

    def s_matvec(x):
        nonlocal count
        count += 1
        x = np.asarray(x).reshape(size, -1)
        return Fc @ (Fc.T @ x) + d_diag[:, None] * x

    s_op = LinearOperator((size, size), matvec=s_matvec, matmat=s_matvec, dtype=np.float64)
    # A fixed random start vector makes repeated calls return identical values.
    v0 = np.random.default_rng(LANCZOS_START_SEED).standard_normal(size)
    if ncv is None:
        ncv = max(2 * k + 1, LANCZOS_MIN_NCV)
    ncv = min(int(ncv), size - 1)
    if which == "LA":
        values, vectors = eigsh(s_op, k=k, which="LA", tol=tol, v0=v0, ncv=ncv)
    else:
        scaled = Fc / d_diag[:, None]  # D^{-1} Fc
        K = np.eye(n) + Fc.T @ scaled
        chol = sla.cho_factor(K, lower=True, check_finite=False)

        def inverse_matvec(x):
            x = np.asarray(x).reshape(size, -1)
            y = x / d_diag[:, None]
            return y - scaled @ sla.cho_solve(chol, Fc.T @ y, check_finite=False)

        inv_op = LinearOperator((size, size), matvec=inverse_matvec, matmat=inverse_matvec, dtype=np.float64)
        values, vectors = eigsh(s_op, k=k, sigma=0.0, which="LM", OPinv=inv_op, tol=tol, v0=v0, ncv=ncv)
    order = np.argsort(values)
    values, vectors = values[order], vectors[:, order]
    norm = float(max(values.max(), 0.0)) if which == "LA" else float(
        eigsh(s_op, k=1, which="LA", tol=1e-6, v0=v0, ncv=ncv, return_eigenvectors=False)[0])
    resid = np.linalg.norm(s_matvec(vectors) - vectors * values, axis=0) / (
        norm * np.linalg.norm(vectors, axis=0))
    result = ExtremePoles(values, resid, which, size, m * n - size, count, norm)
    return result if return_details else result.poles
