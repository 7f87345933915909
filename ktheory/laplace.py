"""Laplace-domain solution of the kernel-regime dynamics, its inverse by residues and by mpmath.

Notation of Panahi et al. (2022), "Analysis of Knowledge Transfer in Kernel Regime":

- H (m, n, n) stacks the Gram matrices H_k, c_k = a_k / sqrt(m), lambda >= 0 the teacher weight.
- delta_k(t) = f_k(t) - f_k,inf (unit residuals; ``delta0`` (m, n) contains delta_k(0)) and
  delta(t) = sum_k c_k delta_k(t). With H_k frozen at initialisation (kernel regime) they obey
  the residual ODE  d delta_k / dt = -H_k (c_k delta + lambda delta_k).
- Delta_k(s), Delta(s): Laplace transforms of delta_k(t) and delta(t).
- T(s) = sum_k c_k^2 (s I + lambda H_k)^{-1} H_k (:func:`ktheory.spectral.transfer_matrix`).
- Poles p_j >= 0: eigenvalues of Hbar (:func:`ktheory.spectral.poles`). Since
  d eta / dt = -Hbar eta, the transform has its poles at s = -p_j.

Transform of the residual ODE
-----------------------------
Transforming term by term gives s Delta_k - delta_k(0) = -H_k (c_k Delta + lambda Delta_k), so

    (s I + lambda H_k) Delta_k = delta_k(0) - c_k H_k Delta.

Multiplying by c_k (s I + lambda H_k)^{-1} and summing over k (Delta = sum_k c_k Delta_k):

    (I + T(s)) Delta = sum_k c_k (s I + lambda H_k)^{-1} delta_k(0).

The paper prints the right-hand side without the factor c_k (its eq. (14));
:func:`delta_transform_printed` evaluates that printed form and :func:`delta_transform` the derived
one. They agree only when every c_k = 1. A third route, :func:`resolvent_transform`, solves the
(m n) system (s I + Hbar) eta_hat = eta(0) and serves as an independent check.

Inversion
---------
- :func:`residue_expansion`: delta(t) = sum_j exp(-p_j t) w_j with w_j the residue of Delta at
  s = -p_j, each computed by the trapezoidal rule on a circle around the pole. The circle's radius
  is half the distance to the nearest other singularity, so the rule converges like 2^-N in the
  number of nodes N. Only the pole locations come from :mod:`ktheory.spectral`.
- :func:`invert_numerically`: mpmath's fixed Talbot, de Hoog and Cohen methods. Delta(s) is
  evaluated once per abscissa in mpmath arithmetic and every component is combined from those
  values. The precision is set inside ``mpmath.workdps``, which restores the global precision on
  exit, also when the transform raises.
- :func:`final_value_limit`: lim_{s -> 0} s F(s) with F(s) = F_p / s + Delta(s) for a particular
  equilibrium F_p, by Richardson extrapolation, in float64 or mpmath.

Known limitations
-----------------
- Every evaluation of the transform costs m dense n x n solves, and the residue route evaluates it
  at ``nodes`` points per distinct pole; it is meant for n m up to a few hundred.
- Poles closer than ``cluster_rtol`` (relative) are merged into one with the summed residue; the
  error this makes in delta(t) is about cluster_rtol * p * t times the residue.
- Near a removable singularity (s = -lambda h with h an eigenvalue of some H_k that is not a pole)
  the formulas lose digits in proportion to 1 / distance; the contour keeps half the distance to
  those points.
- mpmath's methods assume a real-valued time function and a transform analytic right of
  Re s = 0 (de Hoog) or of the chosen contour (Talbot); both hold here since all poles are <= 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np

from .errors import InvalidArgumentError, as_finite_array, check_lambda, check_positive
from .ntk import check_blocks
from .spectral import ZERO_FACTOR
from .spectral import poles as spectral_poles

__all__ = [
    "delta_transform",
    "delta_transform_printed",
    "resolvent_transform",
    "compare_transforms",
    "ResidueExpansion",
    "residue_expansion",
    "INVERSION_METHODS",
    "invert_numerically",
    "compare_inversions",
    "final_value_limit",
]

_EPS = np.finfo(np.float64).eps

CONTOUR_NODES = 64
"""Trapezoidal nodes per residue circle: the error falls like 2^-N (radius half the distance to the
nearest other singularity), so 64 nodes are below float64 rounding."""

RADIUS_FRACTION = 0.5
"""Residue circle radius as a fraction of the distance to the nearest other singularity."""

CLUSTER_RTOL = 1e-9
"""Poles with relative spread below this are merged: float64 eigensolvers do not separate them
reliably (backward error about (m n) eps ||Hbar||) and merging changes delta(t) by about
CLUSTER_RTOL * p * t relative."""


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------

def _check_problem(H, a, lam, delta0):
    H, a = check_blocks(H, a)
    lam = check_lambda(lam)
    m, n, _ = H.shape
    if m == 0 or n == 0:
        raise InvalidArgumentError(f"H must have at least one block of size >= 1; got shape {H.shape}")
    delta0 = as_finite_array("delta0", delta0, shape=(m, n))
    return H, a / np.sqrt(m), lam, delta0


def _check_s(s):
    s_arr = np.asarray(s)
    if s_arr.ndim != 0:
        raise InvalidArgumentError(f"s must be a scalar (real or complex); got shape {s_arr.shape}")
    value = complex(s_arr)
    if not (np.isfinite(value.real) and np.isfinite(value.imag)):
        raise InvalidArgumentError(f"s must be finite; got {s!r}")
    return value


# --------------------------------------------------------------------------------------------
# Transforms in float64
# --------------------------------------------------------------------------------------------

def _transform_batch(H, c, lam, delta0, s_values, printed):
    """Return Delta (S, n) and Delta_k (S, m, n) at the points ``s_values`` (S,), complex128."""
    m, n, _ = H.shape
    s_values = np.asarray(s_values, dtype=np.complex128).reshape(-1)
    eye = np.eye(n)
    # A[s, k] = s I + lambda H_k, right-hand sides [H_k | delta_k(0)].
    A = s_values[:, None, None, None] * eye + lam * H[None]
    rhs = np.concatenate([H, delta0[:, :, None]], axis=2)  # (m, n, n + 1)
    try:
        X = np.linalg.solve(A, np.broadcast_to(rhs, A.shape[:2] + rhs.shape[1:]).astype(np.complex128))
    except np.linalg.LinAlgError:
        raise InvalidArgumentError(
            "s I + lambda H_k is singular at one of the requested s: s equals -lambda times an "
            "eigenvalue of some H_k (s = 0 with a singular H_k or with lambda = 0); evaluate the "
            "transform at a nearby point instead"
        ) from None
    resolved_H = X[..., :n]  # (S, m, n, n): (s I + lambda H_k)^{-1} H_k
    resolved_d = X[..., n]  # (S, m, n):    (s I + lambda H_k)^{-1} delta_k(0)
    T = np.einsum("k,skij->sij", c * c, resolved_H)
    weights = np.ones_like(c) if printed else c
    rhs_total = np.einsum("k,ski->si", weights, resolved_d)
    Delta = np.linalg.solve(np.eye(n) + T, rhs_total[..., None])[..., 0]
    # First line of the transformed system (printed correctly):
    # Delta_k = (s I + lambda H_k)^{-1} [delta_k(0) - c_k H_k Delta].
    Delta_units = resolved_d - c[None, :, None] * np.einsum("skij,sj->ski", resolved_H, Delta)
    return Delta, Delta_units


def delta_transform(H, a, lam, delta0, s):
    """Evaluate the Laplace transforms Delta(s) and Delta_k(s) derived from the residual ODE.

    Solves (I + T(s)) Delta = sum_k c_k (s I + lambda H_k)^{-1} delta_k(0), then
    Delta_k = (s I + lambda H_k)^{-1} [delta_k(0) - c_k H_k Delta].

    Parameters
    ----------
    H : array (m, n, n)
        Gram matrices H_k (symmetric positive semidefinite).
    a : array (m,)
        Output weights; c_k = a_k / sqrt(m).
    lam : float
        Teacher weight lambda >= 0.
    delta0 : array (m, n)
        Initial unit residuals delta_k(0) = f_k(0) - f_k,inf.
    s : complex
        Point of evaluation; must not equal -lambda times an eigenvalue of some H_k.

    Returns
    -------
    Delta : complex array (n,)
    Delta_units : complex array (m, n)
        Row k is Delta_k(s).
    """
    H, c, lam, delta0 = _check_problem(H, a, lam, delta0)
    Delta, units = _transform_batch(H, c, lam, delta0, [_check_s(s)], printed=False)
    return Delta[0], units[0]


def delta_transform_printed(H, a, lam, delta0, s):
    """Evaluate Delta(s) as the paper prints it, without the factor c_k, and Delta_k(s) from it.

    Delta = (I + T(s))^{-1} sum_k (s I + lambda H_k)^{-1} delta_k(0) and
    Delta_k = (s I + lambda H_k)^{-1} [delta_k(0) - c_k H_k Delta]. Arguments and return values as
    in :func:`delta_transform`; the two agree when every c_k = 1.
    """
    H, c, lam, delta0 = _check_problem(H, a, lam, delta0)
    Delta, units = _transform_batch(H, c, lam, delta0, [_check_s(s)], printed=True)
    return Delta[0], units[0]


def resolvent_transform(H, a, lam, delta0, s):
    """Evaluate Delta(s) and Delta_k(s) from the full system (s I + Hbar) eta_hat = eta(0).

    Independent of T(s): one dense (m n) solve with Hbar from :func:`ktheory.spectral.block_matrix`.
    Arguments and return values as in :func:`delta_transform`.
    """
    from .spectral import block_matrix

    H, c, lam, delta0 = _check_problem(H, a, lam, delta0)
    s = _check_s(s)
    m, n, _ = H.shape
    Hbar = block_matrix(H, c * np.sqrt(m), lam)
    try:
        eta_hat = np.linalg.solve(s * np.eye(m * n) + Hbar, delta0.reshape(-1).astype(np.complex128))
    except np.linalg.LinAlgError:
        raise InvalidArgumentError(f"s = {s!r} is a pole (s I + Hbar is singular); choose another s") from None
    units = eta_hat.reshape(m, n)
    return c @ units, units


def compare_transforms(H, a, lam, delta0, s_values) -> dict:
    """Compare the derived and the printed Delta(s) with the full-system route at each s.

    Returns ``{"s": (S,), "derived_error": (S,), "printed_error": (S,), "condition": (S,)}`` where
    the errors are ||Delta - Delta_resolvent|| / ||Delta_resolvent|| and ``condition`` is the
    2-norm condition number of s I + Hbar. The derived form agrees up to about eps * condition;
    the printed form differs by O(1) unless every c_k = 1.
    """
    from .spectral import block_matrix

    H, c, lam, delta0 = _check_problem(H, a, lam, delta0)
    m, n, _ = H.shape
    s_values = np.atleast_1d(np.asarray(s_values, dtype=np.complex128))
    if s_values.ndim != 1 or not np.all(np.isfinite(s_values)):
        raise InvalidArgumentError("s_values must be a finite 1-D array of real or complex points")
    Hbar = block_matrix(H, c * np.sqrt(m), lam)
    derived, _ = _transform_batch(H, c, lam, delta0, s_values, printed=False)
    printed, _ = _transform_batch(H, c, lam, delta0, s_values, printed=True)
    out = {"s": s_values, "derived_error": np.zeros(s_values.size), "printed_error": np.zeros(s_values.size),
           "condition": np.zeros(s_values.size)}
    for i, s in enumerate(s_values):
        reference, _ = resolvent_transform(H, c * np.sqrt(m), lam, delta0, s)
        norm = max(np.linalg.norm(reference), 1e-300)
        out["derived_error"][i] = np.linalg.norm(derived[i] - reference) / norm
        out["printed_error"][i] = np.linalg.norm(printed[i] - reference) / norm
        out["condition"][i] = np.linalg.cond(s * np.eye(m * n) + Hbar)
    return out


# --------------------------------------------------------------------------------------------
# Inverse by residues
# --------------------------------------------------------------------------------------------

@dataclass
class ResidueExpansion:
    """delta(t) = sum_j exp(-p_j t) w_j from the residues of Delta(s) at s = -p_j.

    ``poles`` (J,) are the distinct poles p_j >= 0 (ascending) with their ``multiplicity`` among the
    m n eigenvalues of Hbar; ``weights`` (J, n) and ``unit_weights`` (J, m, n) are the residues of
    Delta and Delta_k; ``radii`` (J,) the contour radii; ``quadrature_error`` (J,) the largest
    change of a residue between N/2 and N nodes relative to max_j ||w_j||, an estimate of the
    quadrature error of the N/2-node rule (the N-node rule is far more accurate).
    """

    poles: np.ndarray
    multiplicity: np.ndarray
    weights: np.ndarray
    unit_weights: np.ndarray
    radii: np.ndarray
    quadrature_error: np.ndarray
    nodes: int
    printed: bool
    info: dict = field(default_factory=dict)

    def delta(self, times) -> np.ndarray:
        """Return delta(t) at ``times`` (T,), shape (T, n)."""
        times = _check_times(times, allow_zero=True)
        return np.exp(-np.outer(times, self.poles)) @ self.weights

    def units(self, times) -> np.ndarray:
        """Return delta_k(t) at ``times`` (T,), shape (T, m, n)."""
        times = _check_times(times, allow_zero=True)
        return np.einsum("tj,jkn->tkn", np.exp(-np.outer(times, self.poles)), self.unit_weights)


def _check_times(times, allow_zero):
    times = as_finite_array("times", np.atleast_1d(times), ndim=1)
    if allow_zero and np.any(times < 0):
        raise InvalidArgumentError(f"times must be >= 0; got minimum {times.min()!r}")
    if not allow_zero and np.any(times <= 0):
        raise InvalidArgumentError(
            f"times must be > 0 for numerical inversion (the methods divide by t); got minimum {times.min()!r}"
        )
    return times


def _merge_poles(values, rtol):
    values = np.sort(np.asarray(values, dtype=float))
    centres, counts = [], []
    for v in values:
        if centres and abs(v - centres[-1]) <= rtol * max(abs(v), abs(centres[-1])):
            counts[-1] += 1
            continue
        if centres and v == 0.0 and centres[-1] == 0.0:
            counts[-1] += 1
            continue
        centres.append(v)
        counts.append(1)
    return np.array(centres), np.array(counts, dtype=int)


def _singular_points(H, lam):
    """Points p >= 0 where s = -p makes some s I + lambda H_k singular (s = -lambda h)."""
    h = np.linalg.eigvalsh(H)  # (m, n)
    scale = max(np.abs(h).max(initial=0.0), 1e-300)
    h = np.where(h > 10 * H.shape[1] * _EPS * scale, h, 0.0)
    return np.unique(lam * h)


def residue_expansion(H, a, lam, delta0, poles=None, nodes: int = CONTOUR_NODES,
                      cluster_rtol: float = CLUSTER_RTOL, printed: bool = False) -> ResidueExpansion:
    """Compute the residues of Delta(s) at its poles by trapezoidal contour integrals.

    Parameters
    ----------
    H, a, lam, delta0
        As in :func:`delta_transform`.
    poles : array, optional
        The m n poles of Hbar (zeros included). Default: :func:`ktheory.spectral.poles`.
    nodes : int
        Trapezoidal nodes per circle, even (the error estimate halves it).
    cluster_rtol : float
        Relative spread below which poles are merged into one residue.
    printed : bool
        Invert the printed transform (:func:`delta_transform_printed`) instead of the derived one.

    Returns
    -------
    ResidueExpansion
        Its ``delta(times)`` evaluates the inverse transform.
    """
    H, c, lam, delta0 = _check_problem(H, a, lam, delta0)
    m, n, _ = H.shape
    nodes = check_positive(nodes, "nodes", integer=True)
    if nodes % 2 or nodes < 8:
        raise InvalidArgumentError(f"nodes must be an even integer >= 8; got {nodes}")
    cluster_rtol = float(cluster_rtol)
    if poles is None:
        poles = spectral_poles(H, c * np.sqrt(m), lam)
    poles = as_finite_array("poles", poles, ndim=1)
    if np.any(poles < 0):
        raise InvalidArgumentError(f"poles must be >= 0 (eigenvalues of Hbar); got minimum {poles.min()!r}")
    centres, mult = _merge_poles(poles, cluster_rtol)
    singular = _singular_points(H, lam)

    theta = 2.0 * np.pi * np.arange(nodes) / nodes
    unit_circle = np.exp(1j * theta)
    J = centres.size
    weights = np.zeros((J, n))
    unit_weights = np.zeros((J, m, n))
    radii = np.zeros(J)
    coarse = np.zeros((J, n))
    max_imag = 0.0
    for j, p in enumerate(centres):
        others = np.concatenate([np.delete(centres, j), singular])
        tol = cluster_rtol * max(abs(p), 1e-300)
        others = others[np.abs(others - p) > tol]
        distance = np.abs(others - p).min() if others.size else max(abs(p), 1.0)
        r = RADIUS_FRACTION * distance
        s_nodes = -p + r * unit_circle
        D, Du = _transform_batch(H, c, lam, delta0, s_nodes, printed)
        # (1 / 2 pi i) \oint F ds with s = -p + r e^{i theta}: ds = i r e^{i theta} d theta.
        factor = r * unit_circle / nodes
        w = factor @ D
        wu = np.einsum("s,skn->kn", factor, Du)
        w_half = (2 * factor[::2]) @ D[::2]
        max_imag = max(max_imag, float(np.abs(w.imag).max()), float(np.abs(wu.imag).max()))
        weights[j], unit_weights[j], coarse[j], radii[j] = w.real, wu.real, w_half.real, r
    scale = max(np.abs(weights).max(initial=0.0), 1e-300)
    quad = np.abs(weights - coarse).max(axis=1) / scale if J else np.zeros(0)
    return ResidueExpansion(centres, mult, weights, unit_weights, radii, quad, nodes, printed,
                            info={"max_imaginary_part": max_imag, "singular_points": singular})


# --------------------------------------------------------------------------------------------
# Transforms in mpmath arithmetic and numerical inversion
# --------------------------------------------------------------------------------------------

INVERSION_METHODS = {
    "talbot": mpmath.calculus.inverselaplace.FixedTalbot,
    "dehoog": mpmath.calculus.inverselaplace.deHoog,
    "cohen": mpmath.calculus.inverselaplace.Cohen,
}
"""mpmath (1.3) method classes by name; each has calc_laplace_parameter(t) setting abscissas
``p`` and calc_time_domain_solution(values, t, manual_prec) combining transform values."""


TRANSFORM_DPS_FACTOR = 1.8
"""Precision of the transform's set-up relative to the requested dps: mpmath 1.3 raises the working
precision to 1.36 dps (de Hoog), 1.72 dps (Talbot) or 1.74 dps (Cohen) during an inversion."""


class _MpTransform:
    """Delta(s) and Delta_k(s) in mpmath arithmetic at the context's current precision.

    Each H_k is diagonalised once (mpmath eigsy, H_k = Q_k diag(h_k) Q_k^T) so that an evaluation
    costs m n^3 scalar operations and one n x n LU solve instead of m matrix inversions; the
    resolvents are (s I + lambda H_k)^{-1} = Q_k diag(1 / (s + lambda h_k)) Q_k^T.
    """

    def __init__(self, ctx, H, c, lam, delta0, printed):
        self.ctx = ctx
        self.m, self.n, _ = H.shape
        self.lam = ctx.mpf(float(lam))
        self.c = [ctx.mpf(float(x)) for x in c]
        self.weights = [ctx.one for _ in c] if printed else self.c
        self.h, self.Q, self.z = [], [], []
        for k in range(self.m):
            h, Q = ctx.eigsy(ctx.matrix(H[k].tolist()))
            # Eigenvalues at rounding level are set to exact zeros, as ktheory.spectral does: a
            # Gram matrix of rank d < n computed in float64 is singular only up to rounding, and
            # its tiny eigenvalues would otherwise act as genuine, tiny poles here.
            cutoff = ZERO_FACTOR * self.n * _EPS * max(abs(h[j]) for j in range(self.n))
            h = [h[j] if abs(h[j]) > cutoff else ctx.zero for j in range(self.n)]
            Qrows = [[Q[i, j] for j in range(self.n)] for i in range(self.n)]
            d0 = [ctx.mpf(float(x)) for x in delta0[k]]
            self.h.append(h)
            self.Q.append(Qrows)
            # z_k = Q_k^T delta_k(0)
            self.z.append([ctx.fdot([Qrows[i][j] for i in range(self.n)], d0) for j in range(self.n)])

    def __call__(self, s):
        ctx, m, n = self.ctx, self.m, self.n
        s = ctx.convert(s)
        T = [[ctx.zero] * n for _ in range(n)]
        rhs = [ctx.zero] * n
        inv_all = []
        for k in range(m):
            Q, h, z = self.Q[k], self.h[k], self.z[k]
            inv = [1 / (s + self.lam * hj) for hj in h]
            inv_all.append(inv)
            scaled = [self.c[k] ** 2 * h[j] * inv[j] for j in range(n)]
            for i in range(n):
                row = [Q[i][j] * scaled[j] for j in range(n)]
                for l in range(n):
                    T[i][l] += ctx.fdot(row, Q[l])
            zi = [z[j] * inv[j] for j in range(n)]
            for i in range(n):
                rhs[i] += self.weights[k] * ctx.fdot(Q[i], zi)
        A = ctx.matrix(n, n)
        for i in range(n):
            for l in range(n):
                A[i, l] = T[i][l] + (ctx.one if i == l else ctx.zero)
        Delta_mat = ctx.lu_solve(A, ctx.matrix(rhs))
        Delta = [Delta_mat[i] for i in range(n)]
        units = []
        for k in range(m):
            Q, h, z, inv = self.Q[k], self.h[k], self.z[k], inv_all[k]
            # Delta_k = Q diag(1 / (s + lambda h)) [z - c_k diag(h) Q^T Delta]
            QtD = [ctx.fdot([Q[i][j] for i in range(n)], Delta) for j in range(n)]
            inner = [(z[j] - self.c[k] * h[j] * QtD[j]) * inv[j] for j in range(n)]
            units.append([ctx.fdot(Q[i], inner) for i in range(n)])
        return Delta, units


def invert_numerically(H, a, lam, delta0, times, method: str = "talbot", dps: int = 30,
                       printed: bool = False, units: bool = False):
    """Invert Delta(s) numerically with one of mpmath's methods, at each of ``times``.

    Delta(s) and all Delta_k(s) are evaluated once per abscissa in mpmath arithmetic (m inverses
    of n x n matrices), and every component is combined from those values. mpmath's global
    precision is unchanged on return, also when an evaluation raises.

    Parameters
    ----------
    H, a, lam, delta0
        As in :func:`delta_transform`.
    times : array (T,)
        Times > 0.
    method : {"talbot", "dehoog", "cohen"}
    dps : int
        Decimal digits the method aims at; mpmath raises its working precision above this
        (1.36 to 1.74 times) while it evaluates the transform.
    printed : bool
        Invert the printed transform instead of the derived one.
    units : bool
        Also return delta_k(t).

    Returns
    -------
    delta : array (T, n), and with ``units=True`` also an array (T, m, n).
    """
    H, c, lam, delta0 = _check_problem(H, a, lam, delta0)
    times = _check_times(times, allow_zero=False)
    if method not in INVERSION_METHODS:
        raise InvalidArgumentError(f"method must be one of {sorted(INVERSION_METHODS)}; got {method!r}")
    dps = check_positive(dps, "dps", integer=True)
    m, n, _ = H.shape
    ctx = mpmath.mp
    out = np.zeros((times.size, n))
    out_units = np.zeros((times.size, m, n))
    with ctx.workdps(dps):
        # The methods raise the working precision to at most 1.74 dps (mpmath 1.3); diagonalise
        # the H_k once, at least that precise.
        with ctx.workdps(int(TRANSFORM_DPS_FACTOR * dps) + 5):
            transform = _MpTransform(ctx, H, c, lam, delta0, printed)
        for i, t in enumerate(times):
            rule = INVERSION_METHODS[method](ctx)
            # calc_laplace_parameter raises the context precision; workdps restores it on exit.
            rule.calc_laplace_parameter(ctx.mpf(float(t)))
            values = [transform(p) for p in rule.p]
            for j in range(n):
                out[i, j] = float(rule.calc_time_domain_solution(
                    [v[0][j] for v in values], ctx.mpf(float(t)), manual_prec=True))
            if units:
                for k in range(m):
                    for j in range(n):
                        out_units[i, k, j] = float(rule.calc_time_domain_solution(
                            [v[1][k][j] for v in values], ctx.mpf(float(t)), manual_prec=True))
    return (out, out_units) if units else out


def compare_inversions(H, a, lam, delta0, times, methods=("talbot", "dehoog", "cohen"),
                       dps: int = 30, expansion: ResidueExpansion | None = None) -> dict:
    """Compare each mpmath method with the residue form at every time.

    Returns ``{"times": (T,), "residue": (T, n), "scale": float, method: {"values": (T, n),
    "max_abs_error": (T,), "relative_error": (T,)}}`` where relative_error divides by
    ``scale`` = max_t ||delta(t)||_inf over the requested times (at least 1e-300).
    """
    H, c, lam, delta0 = _check_problem(H, a, lam, delta0)
    times = _check_times(times, allow_zero=False)
    if expansion is None:
        expansion = residue_expansion(H, c * np.sqrt(H.shape[0]), lam, delta0)
    reference = expansion.delta(times)
    scale = max(float(np.abs(reference).max()), 1e-300)
    report = {"times": times, "residue": reference, "scale": scale, "dps": dps}
    for method in methods:
        values = invert_numerically(H, c * np.sqrt(H.shape[0]), lam, delta0, times, method=method,
                                    dps=dps, printed=expansion.printed)
        err = np.abs(values - reference).max(axis=1)
        report[method] = {"values": values, "max_abs_error": err, "relative_error": err / scale}
    return report


# --------------------------------------------------------------------------------------------
# Final-value theorem
# --------------------------------------------------------------------------------------------

def final_value_limit(H, a, lam, delta0, F_particular, dps: int | None = None, s_start=None):
    """Evaluate lim_{s -> 0} s F_k(s) and lim s F(s) by the final-value theorem.

    The features are F_k(t) = F_p,k + delta_k(t) for a particular equilibrium F_p, so
    s F_k(s) = F_p,k + s Delta_k(s). The limit is F_p plus the residue at s = 0, which is zero when
    all poles are positive (then it equals Theorem 3.1's value for lambda > 0) and the part of
    delta(0) kept by the zero eigenspace otherwise (then it equals
    :func:`ktheory.theory.kernel_regime_limit`).

    G(s) = s Delta(s) is analytic at 0 with G(s) = G(0) + O(s), so two evaluations at s and s/2
    combined as 2 G(s/2) - G(s) remove the O(s) term. In float64 rounding grows like eps / s
    (s I + lambda H_k has condition number lambda ||H_k|| / s when H_k is singular), so the start
    is s = p_min * eps^(1/3), balancing (s / p_min)^2 against eps / s. With ``dps`` the same is
    done in mpmath with s = p_min * 10^(-dps / 3).

    Parameters
    ----------
    H, a, lam, delta0
        As in :func:`delta_transform`.
    F_particular : array (m, n)
        F_p, e.g. :func:`ktheory.theory.particular_equilibrium`.
    dps : int, optional
        Decimal digits for an mpmath evaluation; None uses float64.
    s_start : float, optional
        Override the first evaluation point.

    Returns
    -------
    f_limit : array (n,)
        lim s F(s) with F = sum_k c_k F_k.
    F_limit : array (m, n)
        lim s F_k(s).
    error_estimate : float
        |Richardson value - value at s / 2|, infinity norm, an estimate of the truncation error
        of the cruder one-point value.
    """
    H, c, lam, delta0 = _check_problem(H, a, lam, delta0)
    m, n, _ = H.shape
    Fp = as_finite_array("F_particular", F_particular, shape=(m, n))
    p = spectral_poles(H, c * np.sqrt(m), lam)
    positive = p[p > 0]
    p_min = float(positive.min()) if positive.size else 1.0
    if dps is None:
        s0 = p_min * _EPS ** (1.0 / 3.0) if s_start is None else check_positive(s_start, "s_start")
        _, G1 = _transform_batch(H, c, lam, delta0, [s0], printed=False)
        _, G2 = _transform_batch(H, c, lam, delta0, [s0 / 2], printed=False)
        G1, G2 = (s0 * G1[0]).real, (s0 / 2 * G2[0]).real
        limit_units = 2 * G2 - G1
        error = float(np.abs(limit_units - G2).max())
        F_limit = Fp + limit_units
        return c @ F_limit, F_limit, error
    dps = check_positive(dps, "dps", integer=True)
    ctx = mpmath.mp
    with ctx.workdps(dps):
        transform = _MpTransform(ctx, H, c, lam, delta0, printed=False)
        s0 = ctx.mpf(p_min) * ctx.mpf(10) ** (-ctx.mpf(dps) / 3) if s_start is None else ctx.mpf(s_start)
        _, U1 = transform(s0)
        _, U2 = transform(s0 / 2)
        limit_mp = [[2 * (s0 / 2) * U2[k][j] - s0 * U1[k][j] for j in range(n)] for k in range(m)]
        error = float(max(abs(ctx.re(limit_mp[k][j] - (s0 / 2) * U2[k][j]))
                          for k in range(m) for j in range(n)))
        # Add F_p and sum over units in mpmath before rounding, so the result carries all digits
        # that the float64 conversion keeps.
        F_mp = [[ctx.mpf(float(Fp[k, j])) + ctx.re(limit_mp[k][j]) for j in range(n)] for k in range(m)]
        f_mp = [ctx.fsum(ctx.mpf(float(c[k])) * F_mp[k][j] for k in range(m)) for j in range(n)]
        F_limit = np.array([[float(v) for v in row] for row in F_mp])
        f_limit = np.array([float(v) for v in f_mp])
    return f_limit, F_limit, error
