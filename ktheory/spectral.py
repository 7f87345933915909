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

(a) :func:`eigen_decomposition`, symmetric-definite. For lambda > 0, C kron I is positive definite;
    with its Cholesky factor L (L L^T = C kron I), S = L^T B L is symmetric positive semidefinite and
    has the same eigenvalues as Hbar. Right eigenvectors are L^{-T} xi and left ones L xi for the
    orthonormal eigenvectors xi of S, so left . right = 1 without any normalisation step. Rows of B
    that are exactly zero (a ReLU unit inactive on a sample, or a zero input) give exact zero poles
    and are removed before the eigensolve. For lambda = 0 the nonzero poles are the eigenvalues of
    H = sum_k c_k^2 H_k, and the other (m - 1) n poles are zero.
(b) :func:`secular_poles`, roots of det(I + T(-p)) = 0 isolated by bisection on the number of
    negative eigenvalues of I + T(-p) (T(-p) increases in the Loewner order between singular points,
    so that count only falls) and polished with Brent's method.
(c) :func:`nonsymmetric_poles`, numpy's general eigensolver on the dense Hbar, which also reports the
    largest imaginary part it returns (all poles are real, because Hbar is similar to S).

Known limitations
-----------------
- A pole is called zero when it lies below ``zero_tolerance``, about (m n) * eps * ||S||. Genuine
  poles that small cannot be told from zero in float64; the high-precision module decides those.
- Route (b) cannot see poles that lie exactly on the singular set (identical units produce them,
  violating Assumption 2). It reports how many poles it could not account for as ``missing``
  instead of guessing.
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
    "to_unit_major",
]

DENSE_LIMIT_BYTES = 2 * 1024**3
"""Largest dense (m n) x (m n) matrix the dense routes build before raising MemoryLimitError."""

_EPS = np.finfo(np.float64).eps

# A pole (eigenvalue of S) is zero when it is below ZERO_FACTOR * size * eps * ||S||_2: the backward
# error of a symmetric eigensolver is a small multiple of size * eps * ||S||, so exact zeros land
# there. The factor 10 is a safety margin, not derived.
ZERO_FACTOR = 10.0


def _setup(H, a, lam):
    H, a = check_blocks(H, a)
    lam = check_lambda(lam)
    m = H.shape[0]
    if m == 0 or H.shape[1] == 0:
        raise InvalidArgumentError(f"H must have at least one block of size >= 1; got shape {H.shape}")
    c = a / np.sqrt(m)
    return H, c, lam


def _check_dense_size(rows: int, max_bytes: float, what: str):
    need = float(rows) * rows * 8
    if need > max_bytes:
        raise MemoryLimitError(
            f"the dense {what} would need {need / 2**30:.2f} GiB ({rows} x {rows} float64), above "
            f"max_bytes = {max_bytes / 2**30:.2f} GiB; use block_operator() and extreme_poles() for "
            "matrices this large, or raise max_bytes"
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

    Raises when s I + lambda H_k is singular, that is when s = -lambda h for an eigenvalue h of
    some H_k (including s = 0 with a singular H_k).
    """
    H, c, lam = _setup(H, a, lam)
    s = complex(s) if np.iscomplexobj(s) else float(s)
    if not np.isfinite(s):
        raise InvalidArgumentError(f"s must be finite; got {s!r}")
    m, n, _ = H.shape
    dtype = np.complex128 if isinstance(s, complex) else np.float64
    T = np.zeros((n, n), dtype=dtype)
    eye = np.eye(n)
    for k in range(m):
        if c[k] == 0.0:
            continue
        try:
            lu = sla.lu_factor(s * eye + lam * H[k], check_finite=False)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise InvalidArgumentError(f"s = {s!r}: s I + lambda H_{k} is singular ({exc})") from None
        if np.any(np.abs(np.diag(lu[0])) <= n * _EPS * max(abs(s), lam * np.abs(H[k]).max(), 1e-300)):
            raise InvalidArgumentError(
                f"s = {s!r} makes s I + lambda H_{k} singular: s equals -lambda times an eigenvalue of H_{k}"
            )
        T += c[k] ** 2 * sla.lu_solve(lu, H[k].astype(dtype), check_finite=False)
    return T


def to_unit_major(vectors: np.ndarray, m: int, n: int) -> np.ndarray:
    """Reorder rows of sample-major vectors (index i m + k) to the unit-major order k n + i."""
    vectors = np.asarray(vectors)
    tail = vectors.shape[1:]
    return vectors.reshape((n, m) + tail).swapaxes(0, 1).reshape((m * n,) + tail)


@dataclass
class ModalBasis:
    """Eigenstructure of Hbar from the symmetric-definite route (a).

    ``poles`` holds all m n poles ascending, zeros included; ``nonzero`` the positive ones, with
    matching columns of ``right`` and ``left`` (unit-major, shape (m n, r)) normalised so that
    left^T right = I. The zero eigenspace enters the modal solution through the projector
    I - right left^T.
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


def _sample_major_cholesky(c, lam, active):
    """Return per-sample lower Cholesky factors L_i of C restricted to the units active on sample i.

    ``active`` is (n, m) boolean. Factors are embedded in (m, m) with zeros for inactive units, so
    that L L^T restricted to the active pairs equals (C kron I) restricted to them.
    """
    n, m = active.shape
    C = np.outer(c, c) + lam * np.eye(m)
    Ls = np.zeros((n, m, m))
    full = np.all(active, axis=1)
    if np.any(full):
        Ls[full] = np.linalg.cholesky(C)
    for i in np.flatnonzero(~full):
        idx = np.flatnonzero(active[i])
        if idx.size:
            Ls[i][np.ix_(idx, idx)] = np.linalg.cholesky(C[np.ix_(idx, idx)])
    return Ls


def eigen_decomposition(H, a, lam, vectors: bool = True, max_bytes: float = DENSE_LIMIT_BYTES) -> ModalBasis:
    """Compute all poles (and optionally the biorthonormal eigenvectors) of Hbar by route (a).

    See the module docstring for the method. Cost: one dense symmetric eigensolve of size equal to
    the number of active (unit, sample) pairs, plus m^3 n^2 flops to form S.
    """
    H, c, lam = _setup(H, a, lam)
    m, n, _ = H.shape
    if lam == 0.0:
        return _eigen_lambda_zero(H, c, vectors)

    diag = np.einsum("kii->ki", H)  # (m, n)
    active = (diag > 0).T  # (n, m), sample-major
    inactive_rows = int(active.size - np.count_nonzero(active))
    flat_active = np.flatnonzero(active.reshape(-1))
    size = flat_active.size
    _check_dense_size(size, max_bytes, "symmetric form S of Hbar")

    # S[(i, a), (j, b)] = sum_k L_i[k, a] H_k[i, j] L_j[k, b] in sample-major order.
    Ls = _sample_major_cholesky(c, lam, active)
    S4 = np.zeros((n, m, n, m))
    for k in range(m):
        Lk = Ls[:, k, :]  # (n, m): row i is L_i[k, :]
        S4 += H[k][:, None, :, None] * Lk[:, :, None, None] * Lk[None, None, :, :]
    S = S4.reshape(n * m, n * m)[np.ix_(flat_active, flat_active)]
    del S4

    if vectors:
        w, Xi = sla.eigh(S, check_finite=False)
    else:
        w = sla.eigh(S, eigvals_only=True, check_finite=False)
        Xi = None
    scale = max(abs(w[-1]), abs(w[0])) if w.size else 0.0
    tol = ZERO_FACTOR * max(size, 1) * _EPS * scale
    nonzero_mask = w > tol
    zero_count = int(m * n - np.count_nonzero(nonzero_mask))
    nonzero = w[nonzero_mask]
    all_poles = np.concatenate([np.zeros(zero_count), nonzero])

    right = left = None
    if vectors:
        Xi = Xi[:, nonzero_mask]
        full_xi = np.zeros((n * m, Xi.shape[1]))
        full_xi[flat_active] = Xi
        xi3 = full_xi.reshape(n, m, -1)
        # left = L xi and right = L^{-T} xi, one small triangular system per sample.
        left3 = np.einsum("iab,ibr->iar", Ls, xi3)
        right3 = np.zeros_like(xi3)
        for i in range(n):
            idx = np.flatnonzero(active[i])
            if idx.size:
                Li = Ls[i][np.ix_(idx, idx)]
                right3[i, idx] = sla.solve_triangular(Li, xi3[i, idx], lower=True, trans="T")
        right = to_unit_major(right3.reshape(n * m, -1), m, n)
        # Left eigenvectors of the full Hbar also have components on inactive rows:
        # Hbar^T l = (C kron I) B l, whose inactive rows are (C kron I)_{IA} B_A l_A / p.
        left_full = to_unit_major(left3.reshape(n * m, -1), m, n)
        if inactive_rows:
            left_full = _complete_left(H, c, lam, left_full, nonzero, active)
        left = left_full
    return ModalBasis(all_poles, nonzero, right, left, zero_count, tol, inactive_rows, m, n, lam,
                      info={"route": "symmetric-definite", "size": size})


def _complete_left(H, c, lam, left, p, active):
    """Fill the inactive rows of left eigenvectors: l = (C kron I) B l / p on the full space."""
    m = c.size
    n = H.shape[1]
    Bl = np.einsum("kij,kjr->kir", H, left.reshape(m, n, -1))  # zero on inactive rows
    Ml = c[:, None, None] * np.einsum("k,kir->ir", c, Bl)[None] + lam * Bl
    full = (Ml / p[None, None, :]).reshape(m * n, -1)
    inactive = ~active.T.reshape(-1)  # unit-major
    out = left.copy()
    out[inactive] = full[inactive]
    return out


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
    m, n, _ = H.shape
    h = np.empty((m, n))
    Q = np.empty((m, n, n))
    for k in range(m):
        h[k], Q[k] = np.linalg.eigh(H[k])
    scale = np.abs(h).max(initial=0.0)
    tol = tol_factor * n * _EPS * max(scale, 1e-300)
    h = np.where(h > tol, h, 0.0)
    return h, Q, tol


def secular_poles(H, a, lam, upper: float | None = None, xtol: float = 1e-13) -> SecularPoles:
    """Find the poles of Hbar as roots of the secular condition "-1 is an eigenvalue of T(-p)".

    Works from the eigendecompositions of the H_k only; never forms Hbar. Each evaluation costs
    m n^3 flops, so the route is meant for n up to a few hundred. ``xtol`` is the relative width
    below which two roots are reported as one root with multiplicity.
    """
    H, c, lam = _setup(H, a, lam)
    m, n, _ = H.shape
    h, Q, htol = _unit_eigen(H)
    weights = (c * c)[:, None]
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

    def eigs_at(p):
        nonlocal count
        count += 1
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(h > 0, h / (lam * h - p), 0.0)  # eigenvalues of (lambda H_k - p I)^{-1} H_k
        T = np.einsum("kab,kb,kcb->ac", Q, weights * g, Q)
        return np.linalg.eigvalsh(np.eye(n) + 0.5 * (T + T.T))

    def negatives(p):
        return int(np.count_nonzero(eigs_at(p) < 0.0))

    if lam > 0:
        sing = np.unique(lam * h[h > 0])
        sing = sing[sing < upper]
    else:
        sing = np.empty(0)
    edges = np.concatenate([[0.0], sing, [upper]])
    roots: list[float] = []
    mult: list[int] = []

    def isolate(lo, hi, n_lo, n_hi):
        if n_lo <= n_hi:
            return
        if n_lo - n_hi == 1:
            index = n_hi

            def g(p):
                return eigs_at(p)[index]

            root = optimize.brentq(g, lo, hi, xtol=1e-300, rtol=4 * _EPS, maxiter=200)
            roots.append(root)
            mult.append(1)
            return
        if hi - lo <= xtol * hi:
            roots.append(0.5 * (lo + hi))
            mult.append(n_lo - n_hi)
            return
        mid = 0.5 * (lo + hi)
        n_mid = negatives(mid)
        isolate(lo, mid, n_lo, n_mid)
        isolate(mid, hi, n_mid, n_hi)

    for left_edge, right_edge in zip(edges[:-1], edges[1:]):
        width = right_edge - left_edge
        if width <= 0:
            continue
        # Step inside the open interval, away from the singular points where T(-p) blows up.
        lo = left_edge + max(width * 1e-12, 4 * _EPS * left_edge)
        hi = right_edge - max(width * 1e-12, 4 * _EPS * right_edge)
        if right_edge == edges[-1]:
            hi = right_edge
        if lo >= hi:
            continue
        isolate(lo, hi, negatives(lo), negatives(hi))

    roots_arr = np.array(roots)
    mult_arr = np.array(mult, dtype=int)
    order = np.argsort(roots_arr)
    roots_arr, mult_arr = roots_arr[order], mult_arr[order]
    found = zero_count + int(mult_arr.sum())
    listed = np.concatenate([np.zeros(zero_count), np.repeat(roots_arr, mult_arr)])
    return SecularPoles(roots_arr, mult_arr, zero_count, m * n - found, lam * np.unique(h[h > 0]),
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
        if np.any(np.abs(denom) <= 1e3 * _EPS * max(p, 1.0)):
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
        raise InvalidArgumentError(f"times must be >= 0; got minimum {times.min()!r}")
    coef = basis.left.T @ eta0
    zero_part = eta0 - basis.right @ coef
    decay = np.exp(-np.outer(times, basis.nonzero))  # (T, r)
    return zero_part[None, :] + (decay * coef[None, :]) @ basis.right.T


def expm_solution(H, a, lam, eta0, times, max_bytes: float = DENSE_LIMIT_BYTES) -> np.ndarray:
    """Return eta(t) = exp(-Hbar t) eta0 by scipy.sparse.linalg.expm_multiply, shape (len(times), m n).

    Independent of the eigensolver; used to cross-check :func:`modal_solution`.
    """
    Hbar = block_matrix(H, a, lam, max_bytes=max_bytes)
    eta0 = as_finite_array("eta0", eta0, shape=(Hbar.shape[0],))
    times = as_finite_array("times", np.atleast_1d(times), ndim=1)
    if np.any(times < 0):
        raise InvalidArgumentError(f"times must be >= 0; got minimum {times.min()!r}")
    return np.stack([expm_multiply(-t * Hbar, eta0) if t > 0 else eta0.copy() for t in times])


def extreme_poles(H, a, lam, k: int = 10, which: str = "LA", tol: float = 0.0) -> np.ndarray:
    """Return the k largest ("LA") or smallest ("SA") poles without forming Hbar, ascending.

    Uses scipy's Lanczos solver (eigsh) on the symmetric form S = L^T B L as a LinearOperator, with
    the exactly-zero rows of B removed, so "SA" returns the smallest poles of the active part (exact
    zero poles from inactive rows are not among them). Needs lambda > 0.
    """
    from scipy.sparse.linalg import eigsh

    H, c, lam = _setup(H, a, lam)
    if lam == 0.0:
        raise InvalidArgumentError("extreme_poles needs lam > 0; for lam = 0 use the eigenvalues of H = sum_k c_k^2 H_k")
    if which not in ("LA", "SA"):
        raise InvalidArgumentError(f"which must be 'LA' or 'SA'; got {which!r}")
    m, n, _ = H.shape
    active = (np.einsum("kii->ki", H) > 0).T
    Ls = _sample_major_cholesky(c, lam, active)
    flat = np.flatnonzero(active.reshape(-1))

    def matvec(x):
        full = np.zeros(n * m)
        full[flat] = np.ravel(x)
        u = np.einsum("iab,ib->ia", Ls, full.reshape(n, m))  # L xi, sample-major
        Bu = np.einsum("kij,jk->ik", H, u)  # apply blockdiag(H_k)
        out = np.einsum("iba,ib->ia", Ls, Bu)  # L^T (.)
        return out.reshape(-1)[flat]

    op = LinearOperator((flat.size, flat.size), matvec=matvec, dtype=np.float64)
    values = eigsh(op, k=k, which=which, tol=tol, return_eigenvectors=False)
    return np.sort(values)
