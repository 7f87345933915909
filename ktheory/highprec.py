"""Poles, Lemma 6.5 vectors and modal coefficients of the kernel regime in mpmath arithmetic.

Notation of Panahi et al. (2022), "Analysis of Knowledge Transfer in Kernel Regime", as in
:mod:`ktheory.spectral`: H (m, n, n) stacks the Gram matrices H_k, c_k = a_k / sqrt(m),
C = c c^T + lambda I_m, B = blockdiag(H_k), Hbar = B (C kron I_n), poles p_j = eigenvalues of Hbar,
T(s) = sum_k c_k^2 (s I + lambda H_k)^{-1} H_k. Vectors are unit-major (index k n + i).

Method (the symmetric-definite route of :mod:`ktheory.spectral`, at ``dps`` decimal digits):
with L_C the Cholesky factor of C (lambda > 0), S = (L_C^T kron I) B (L_C kron I) is symmetric,
has the poles as eigenvalues (mpmath ``eigsy``), and for S xi = p xi the right and left
eigenvectors of Hbar are (L_C^{-T} kron I) xi and (L_C kron I) xi, with left . right = 1. For
lambda = 0 the nonzero poles are the eigenvalues of H = sum_k c_k^2 H_k. Lemma 6.5's vectors are
built separately from eigenvectors of T(-p) for the eigenvalue -1.

:func:`decide_with_high_precision` is the fallback for checks whose float64 margin is within the
float64 error bound. Its result records whether high precision was used, for the report to state.

Inputs may be float arrays (converted exactly) or arrays of ``fractions.Fraction``, sympy
``Rational``, ints or decimal strings, which are converted exactly or to ``dps`` digits.

Known limitations
-----------------
- Dense mpmath eigensolves cost about (m n)^3 multiprecision operations; sizes above
  ``MAX_SIZE`` raise. Measured at 50 digits (mpmath 1.3, one core of the 2-core CI machine):
  m n = 16 in 0.3 s, 32 in 3 s, 64 in 19 s.
- For float inputs, eigenvalues of each H_k below ZERO_FACTOR * n * eps * max|h| are set to exact
  zeros (``snap_zeros``). A Gram matrix of rank d < n computed in float64 is singular only up to
  rounding; without snapping, high precision would resolve that rounding into genuine tiny poles.
  High precision decides questions about the inputs as given (after snapping), not about the
  ideal matrices they round.
- A pole is called zero below ``10^(ZERO_GUARD_DIGITS - dps)`` times ||S||.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from .errors import InvalidArgumentError, check_positive
from .spectral import ZERO_FACTOR

__all__ = [
    "DEFAULT_DPS",
    "MAX_SIZE",
    "to_mpf",
    "HighPrecisionModes",
    "high_precision_modes",
    "Lemma65HighPrecision",
    "high_precision_lemma65",
    "modal_coefficients",
    "compare_with_float64",
    "PrecisionDecision",
    "decide_with_high_precision",
    "decide_pole_bound",
    "decide_pole_gap",
    "ZERO_BAND",
    "decide_zero_pole_count",
]

DEFAULT_DPS = 50
"""Default decimal digits: 34 more than float64, ample for condition numbers up to 1e30."""

MAX_SIZE = 64
"""Largest m n for the dense mpmath eigensolve (19 s at 50 digits measured for m n = 64)."""

ZERO_GUARD_DIGITS = 10
"""Digits given up when calling a pole zero: eigsy's backward error is a modest multiple of
size * 10^-dps * ||S||, far above which 10^(10 - dps) ||S|| lies for m n <= MAX_SIZE."""

ZERO_BAND = 1e3
"""A float64 pole below ZERO_BAND times the zero tolerance of ktheory.spectral may be a zero blurred
by rounding (or a genuine tiny pole): the zero count is then decided in high precision."""

_EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------------------------
# Conversion and set-up
# --------------------------------------------------------------------------------------------

def to_mpf(value, ctx=mpmath.mp):
    """Convert a float, int, Fraction, sympy Rational or decimal string to an mpmath mpf.

    Floats and rationals convert exactly apart from the final rounding of p / q to the working
    precision; strings are read at the working precision.
    """
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"matrix entries must be numbers; got the boolean {value!r}")
    if isinstance(value, (int, np.integer)):
        return ctx.mpf(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise InvalidArgumentError(f"matrix entries must be finite; got {value!r}")
        return ctx.mpf(float(value))
    if isinstance(value, Fraction):
        return ctx.mpf(value.numerator) / value.denominator
    if isinstance(value, str):
        return ctx.mpf(value)
    if isinstance(value, mpmath.mpf):
        return value
    # sympy numbers without importing sympy: Rational has p and q, Float converts through str.
    if hasattr(value, "p") and hasattr(value, "q"):
        return ctx.mpf(int(value.p)) / int(value.q)
    try:
        return ctx.mpf(str(value))
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"cannot convert {value!r} of type {type(value).__name__} to a multiprecision number; "
            "pass floats, ints, fractions.Fraction, sympy Rational or decimal strings"
        ) from None


def _is_float_input(H):
    arr = np.asarray(H)
    return arr.dtype.kind == "f"


def _check_inputs(H, a, lam):
    arr = np.asarray(H, dtype=object)
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise InvalidArgumentError(f"H must have shape (m, n, n); got {arr.shape}")
    m, n, _ = arr.shape
    if m == 0 or n == 0:
        raise InvalidArgumentError(f"H must have at least one block of size >= 1; got shape {arr.shape}")
    a_arr = np.asarray(a, dtype=object).reshape(-1)
    if a_arr.size != m:
        raise InvalidArgumentError(f"a must have length m = {m}; got length {a_arr.size}")
    if m * n > MAX_SIZE:
        raise InvalidArgumentError(
            f"m n = {m * n} exceeds MAX_SIZE = {MAX_SIZE} for dense multiprecision eigensolves; "
            "use ktheory.spectral for larger problems"
        )
    return arr, a_arr, m, n


@dataclass
class _Problem:
    H: list           # m mpmath matrices (n, n), after snapping
    h: list           # m lists of n eigenvalues of H_k
    Q: list           # m mpmath matrices of eigenvectors of H_k
    c: list           # m mpf
    lam: object       # mpf
    m: int
    n: int


def _setup(ctx, H, a, lam, snap_zeros):
    arr, a_arr, m, n = _check_inputs(H, a, lam)
    if snap_zeros is None:
        snap_zeros = _is_float_input(H)
    lam_mp = to_mpf(lam, ctx)
    if lam_mp < 0:
        raise InvalidArgumentError(f"lam must be >= 0; got {lam!r}")
    # c_k = a_k / sqrt(m); with a_k given as c_k sqrt(m) this is exact only to the working precision.
    c = [to_mpf(x, ctx) / ctx.sqrt(m) for x in a_arr]
    Hs, hs, Qs = [], [], []
    for k in range(m):
        Hk = ctx.matrix([[to_mpf(arr[k, i, j], ctx) for j in range(n)] for i in range(n)])
        if any(Hk[i, j] != Hk[j, i] for i in range(n) for j in range(i)):
            Hk = (Hk + Hk.T) / 2
        h, Q = ctx.eigsy(Hk)
        h = [h[j] for j in range(n)]
        if snap_zeros:
            cutoff = ZERO_FACTOR * n * _EPS * max(abs(x) for x in h)
            if any(0 < abs(x) <= cutoff for x in h):
                h = [x if abs(x) > cutoff else ctx.zero for x in h]
                Hk = Q * ctx.diag(h) * Q.T
        Hs.append(Hk)
        hs.append(h)
        Qs.append(Q)
    return _Problem(Hs, hs, Qs, c, lam_mp, m, n)


def _block_matrix(ctx, prob):
    m, n = prob.m, prob.n
    Hbar = ctx.zeros(m * n, m * n)
    for k in range(m):
        for l in range(m):
            w = prob.c[k] * prob.c[l] + (prob.lam if k == l else 0)
            for i in range(n):
                for j in range(n):
                    Hbar[k * n + i, l * n + j] = w * prob.H[k][i, j]
    return Hbar


# --------------------------------------------------------------------------------------------
# Poles and eigenvectors
# --------------------------------------------------------------------------------------------

@dataclass
class HighPrecisionModes:
    """Eigenstructure of Hbar at ``dps`` digits.

    ``poles``: all m n poles ascending (mpf), zeros included; ``nonzero``: the positive ones with
    matching columns of ``right`` and ``left`` (mpmath matrices (m n, r), left^T right = I);
    ``zero_tolerance``: the cutoff below which a pole counts as zero; ``snapped``: whether
    rounding-level eigenvalues of the H_k were set to zero. ``poles_float`` and
    ``nonzero_float`` are float64 copies.
    """

    dps: int
    poles: list
    nonzero: list
    right: object
    left: object
    zero_count: int
    zero_tolerance: object
    m: int
    n: int
    snapped: bool

    @property
    def poles_float(self) -> np.ndarray:
        return np.array([float(p) for p in self.poles])

    @property
    def nonzero_float(self) -> np.ndarray:
        return np.array([float(p) for p in self.nonzero])


def high_precision_modes(H, a, lam, dps: int = DEFAULT_DPS, snap_zeros: bool | None = None) -> HighPrecisionModes:
    """Compute all poles and the biorthonormal eigenvectors of Hbar at ``dps`` decimal digits.

    Parameters
    ----------
    H : array (m, n, n)
        Gram matrices H_k; floats or exact numbers (see :func:`to_mpf`).
    a : array (m,)
        Output weights, c_k = a_k / sqrt(m).
    lam : number >= 0
    dps : int
        Decimal digits of the computation.
    snap_zeros : bool, optional
        Set eigenvalues of H_k at float64 rounding level to zero; default True for float input.

    Returns
    -------
    HighPrecisionModes
    """
    dps = check_positive(dps, "dps", integer=True)
    ctx = mpmath.mp
    with ctx.workdps(dps):
        prob = _setup(ctx, H, a, lam, snap_zeros)
        m, n = prob.m, prob.n
        if prob.lam == 0:
            snapped = _is_float_input(H) if snap_zeros is None else bool(snap_zeros)
            return _modes_lambda_zero(ctx, prob, dps, snapped)
        C = ctx.matrix(m, m)
        for k in range(m):
            for l in range(m):
                C[k, l] = prob.c[k] * prob.c[l] + (prob.lam if k == l else 0)
        L = ctx.cholesky(C)
        # S block (a, b) = sum_k L[k, a] L[k, b] H_k
        S = ctx.zeros(m * n, m * n)
        for a_ in range(m):
            for b_ in range(a_, m):
                block = ctx.zeros(n, n)
                for k in range(m):
                    w = L[k, a_] * L[k, b_]
                    if w != 0:
                        block += w * prob.H[k]
                for i in range(n):
                    for j in range(n):
                        S[a_ * n + i, b_ * n + j] = block[i, j]
                        S[b_ * n + j, a_ * n + i] = block[i, j]
        E, Xi = ctx.eigsy(S)
        values = [E[j] for j in range(m * n)]
        order = sorted(range(m * n), key=lambda j: values[j])
        scale = max(abs(v) for v in values)
        cutoff = ctx.mpf(10) ** (ZERO_GUARD_DIGITS - dps) * scale
        keep = [j for j in order if values[j] > cutoff]
        zero_count = m * n - len(keep)
        nonzero = [values[j] for j in keep]
        Linv_T = ctx.inverse(L).T
        right = ctx.zeros(m * n, len(keep))
        left = ctx.zeros(m * n, len(keep))
        for col, j in enumerate(keep):
            for a_ in range(m):
                for i in range(n):
                    r_val = ctx.zero
                    l_val = ctx.zero
                    for b_ in range(m):
                        x = Xi[b_ * n + i, j]
                        r_val += Linv_T[a_, b_] * x
                        l_val += L[a_, b_] * x
                    right[a_ * n + i, col] = r_val
                    left[a_ * n + i, col] = l_val
        snapped = _is_float_input(H) if snap_zeros is None else bool(snap_zeros)
        return HighPrecisionModes(dps, [ctx.zero] * zero_count + nonzero, nonzero, right, left,
                                  zero_count, cutoff, m, n, snapped)


def _modes_lambda_zero(ctx, prob, dps, snapped):
    m, n = prob.m, prob.n
    Hnet = ctx.zeros(n, n)
    for k in range(m):
        Hnet += prob.c[k] ** 2 * prob.H[k]
    E, V = ctx.eigsy(Hnet)
    values = [E[j] for j in range(n)]
    scale = max(abs(v) for v in values)
    cutoff = ctx.mpf(10) ** (ZERO_GUARD_DIGITS - dps) * scale
    keep = sorted([j for j in range(n) if values[j] > cutoff], key=lambda j: values[j])
    nonzero = [values[j] for j in keep]
    zero_count = m * n - len(keep)
    # Right eigenvector B U v / p, left U v, with U = c kron I_n (as in ktheory.spectral).
    right = ctx.zeros(m * n, len(keep))
    left = ctx.zeros(m * n, len(keep))
    for col, j in enumerate(keep):
        v = V[:, j]
        for k in range(m):
            Hv = prob.H[k] * v
            for i in range(n):
                right[k * n + i, col] = prob.c[k] * Hv[i] / values[j]
                left[k * n + i, col] = prob.c[k] * v[i]
    return HighPrecisionModes(dps, [ctx.zero] * zero_count + nonzero, nonzero, right, left,
                              zero_count, cutoff, m, n, snapped)


def modal_coefficients(modes: HighPrecisionModes, eta0) -> list:
    """Return the modal coefficients <l_j, eta0> (mpf, one per nonzero pole) at the modes' precision.

    With left^T right = I, eta(t) = P_0 eta0 + sum_j exp(-p_j t) <l_j, eta0> r_j.
    """
    ctx = mpmath.mp
    flat = np.asarray(eta0, dtype=object).reshape(-1)
    if flat.size != modes.m * modes.n:
        raise InvalidArgumentError(f"eta0 must have m n = {modes.m * modes.n} entries; got {flat.size}")
    with ctx.workdps(modes.dps):
        x = [to_mpf(v, ctx) for v in flat]
        return [ctx.fdot([modes.left[i, j] for i in range(len(x))], x) for j in range(len(modes.nonzero))]


@dataclass
class Lemma65HighPrecision:
    """Lemma 6.5's vectors at ``dps`` digits, one column per nonzero pole (ascending).

    ``right`` and ``left`` are mpmath matrices (m n, r) normalised so that left^T right = I within
    each cluster of equal poles; ``residual`` is max_j ||Hbar r_j - p_j r_j|| / (||Hbar|| ||r_j||)
    and ``left_residual`` the same for Hbar^T; both as floats.
    """

    dps: int
    poles: list
    right: object
    left: object
    residual: float
    left_residual: float


def high_precision_lemma65(H, a, lam, nonzero_poles, dps: int = DEFAULT_DPS,
                           snap_zeros: bool | None = None, cluster_digits: int | None = None) -> Lemma65HighPrecision:
    """Build Lemma 6.5's right and left eigenvectors from eigenvectors of T(-p) at ``dps`` digits.

    For each pole p (clusters of equal poles handled together), v runs over the eigenvectors of
    the symmetric T(-p) whose eigenvalues are nearest -1; right blocks are
    c_k (p I - lambda H_k)^{-1} H_k v and left blocks c_k (p I - lambda H_k)^{-1} v.

    Parameters
    ----------
    H, a, lam, dps, snap_zeros
        As in :func:`high_precision_modes`.
    nonzero_poles : sequence
        Positive poles (mpf or float), e.g. ``high_precision_modes(...).nonzero``.
    cluster_digits : int, optional
        Poles agreeing to this many significant digits form a cluster; default dps - 10.
    """
    dps = check_positive(dps, "dps", integer=True)
    ctx = mpmath.mp
    with ctx.workdps(dps):
        prob = _setup(ctx, H, a, lam, snap_zeros)
        m, n = prob.m, prob.n
        ps = sorted(ctx.convert(p) for p in nonzero_poles)
        if any(p <= 0 for p in ps):
            raise InvalidArgumentError("nonzero_poles must all be > 0; drop the zero poles first")
        digits = dps - ZERO_GUARD_DIGITS if cluster_digits is None else int(cluster_digits)
        rtol = ctx.mpf(10) ** (-digits)
        groups = []
        for p in ps:
            if groups and abs(p - groups[-1][-1]) <= rtol * p:
                groups[-1].append(p)
            else:
                groups.append([p])
        right_cols, left_cols = [], []
        for group in groups:
            p = ctx.fsum(group) / len(group)
            r = len(group)
            denom = [[p - prob.lam * h for h in prob.h[k]] for k in range(m)]
            if any(abs(d) <= rtol * p for row in denom for d in row):
                raise InvalidArgumentError(
                    f"pole p = {ctx.nstr(p, 15)} lies on the singular set lambda * eig(H_k), where "
                    "Lemma 6.5's vectors are undefined"
                )
            T = ctx.zeros(n, n)
            for k in range(m):
                D = ctx.diag([-prob.c[k] ** 2 * h / d for h, d in zip(prob.h[k], denom[k])])
                T += prob.Q[k] * D * prob.Q[k].T
            T = (T + T.T) / 2
            tw, tv = ctx.eigsy(T)
            pick = sorted(range(n), key=lambda j: abs(tw[j] + 1))[:r]
            V = ctx.matrix(n, r)
            for col, j in enumerate(pick):
                for i in range(n):
                    V[i, col] = tv[i, j]
            R = ctx.zeros(m * n, r)
            Lf = ctx.zeros(m * n, r)
            for k in range(m):
                QtV = prob.Q[k].T * V
                Rk = prob.Q[k] * ctx.diag([h / d for h, d in zip(prob.h[k], denom[k])]) * QtV
                Lk = prob.Q[k] * ctx.diag([1 / d for d in denom[k]]) * QtV
                for i in range(n):
                    for col in range(r):
                        R[k * n + i, col] = prob.c[k] * Rk[i, col]
                        Lf[k * n + i, col] = prob.c[k] * Lk[i, col]
            G = Lf.T * R
            Lf = Lf * ctx.inverse(G).T
            right_cols.append(R)
            left_cols.append(Lf)
        total = len(ps)
        right = ctx.zeros(m * n, total)
        left = ctx.zeros(m * n, total)
        col = 0
        for R, Lf in zip(right_cols, left_cols):
            for j in range(R.cols):
                for i in range(m * n):
                    right[i, col] = R[i, j]
                    left[i, col] = Lf[i, j]
                col += 1
        Hbar = _block_matrix(ctx, prob)
        norm = ctx.mnorm(Hbar, "F")
        res_r, res_l = ctx.zero, ctx.zero
        for j in range(total):
            rj, lj = right[:, j], left[:, j]
            res_r = max(res_r, ctx.norm(Hbar * rj - ps[j] * rj) / (norm * ctx.norm(rj)))
            res_l = max(res_l, ctx.norm(Hbar.T * lj - ps[j] * lj) / (norm * ctx.norm(lj)))
        return Lemma65HighPrecision(dps, ps, right, left, float(res_r), float(res_l))


# --------------------------------------------------------------------------------------------
# Agreement with float64
# --------------------------------------------------------------------------------------------

def _rank_one_terms(right, left, eta0):
    """Return the (r, m n) modal terms r_j <l_j, eta0>, invariant under rescaling of each pair."""
    coef = left.T @ eta0
    return right.T * coef[:, None]


def compare_with_float64(H, a, lam, eta0, dps: int = DEFAULT_DPS) -> dict:
    """Compare float64 poles, Lemma 6.5 vectors and modal terms with their high-precision values.

    Float inputs only. The comparison uses quantities independent of eigenvector scaling: the poles,
    the modal terms r_j <l_j, eta0> (from :func:`ktheory.spectral.eigen_decomposition`) and the
    spectral projectors r_j l_j^T of Lemma 6.5 (from :func:`ktheory.spectral.lemma65_vectors`).

    Returns a dict with ``dps``, ``zero_count`` (float64, high precision), ``pole_error``
    (max |p64 - p| / max p), ``modal_term_error`` (max_j ||term64_j - term_j|| / max_j ||term_j||),
    ``lemma65_projector_error`` (max_j ||P64_j - P_j||_F / ||P_j||_F, NaN when Lemma 6.5 does not
    apply), ``lemma65_residual`` (high precision) and ``high_precision_poles`` (float64 array).
    """
    from .spectral import eigen_decomposition, lemma65_vectors

    H = np.asarray(H, dtype=float)
    a = np.asarray(a, dtype=float)
    m, n, _ = H.shape
    eta0 = np.asarray(eta0, dtype=float).reshape(-1)
    basis = eigen_decomposition(H, a, lam)
    modes = high_precision_modes(H, a, lam, dps=dps)
    hp_poles = modes.poles_float
    scale = max(float(np.abs(hp_poles).max()), 1e-300)
    out = {
        "dps": dps,
        "zero_count": (basis.zero_count, modes.zero_count),
        "pole_error": float(np.abs(basis.poles - hp_poles).max() / scale),
        "high_precision_poles": hp_poles,
    }
    with mpmath.mp.workdps(dps):
        right_hp = np.array(modes.right.tolist(), dtype=float) if modes.nonzero else np.zeros((m * n, 0))
        left_hp = np.array(modes.left.tolist(), dtype=float) if modes.nonzero else np.zeros((m * n, 0))
    if basis.zero_count == modes.zero_count and modes.nonzero:
        t64 = _rank_one_terms(basis.right, basis.left, eta0)
        thp = _rank_one_terms(right_hp, left_hp, eta0)
        norm = max(float(np.linalg.norm(thp, axis=1).max()), 1e-300)
        out["modal_term_error"] = float(np.linalg.norm(t64 - thp, axis=1).max() / norm)
    else:
        out["modal_term_error"] = float("nan")
    out["lemma65_projector_error"] = float("nan")
    out["lemma65_residual"] = float("nan")
    if modes.nonzero and lam > 0:
        try:
            l64 = lemma65_vectors(H, a, lam, basis.nonzero)
            lhp = high_precision_lemma65(H, a, lam, modes.nonzero, dps=dps)
        except InvalidArgumentError:
            return out
        with mpmath.mp.workdps(dps):
            R = np.array(lhp.right.tolist(), dtype=float)
            Lm = np.array(lhp.left.tolist(), dtype=float)
        errors = []
        for j in range(R.shape[1]):
            P = np.outer(R[:, j], Lm[:, j])
            P64 = np.outer(l64.right[:, j], l64.left[:, j])
            errors.append(np.linalg.norm(P64 - P) / max(np.linalg.norm(P), 1e-300))
        out["lemma65_projector_error"] = float(max(errors))
        out["lemma65_residual"] = lhp.residual
    return out


# --------------------------------------------------------------------------------------------
# Deciding close calls
# --------------------------------------------------------------------------------------------

@dataclass
class PrecisionDecision:
    """Outcome of comparing a quantity with a threshold, with the precision that decided it.

    ``outcome`` is "above", "below" or "tie" (|value - threshold| within the error bound of the
    deciding computation, at ``dps`` digits when high precision was used). ``value`` and
    ``error`` come from the deciding computation; ``note`` is a sentence for a report.
    """

    outcome: str
    used_high_precision: bool
    value: float
    error: float
    float64_value: float
    float64_error: float
    threshold: float
    dps: int | None
    note: str


def decide_with_high_precision(float64_value, float64_error, high_precision, threshold=0.0,
                               dps: int = DEFAULT_DPS) -> PrecisionDecision:
    """Decide whether a quantity lies above or below ``threshold``, in high precision if needed.

    If |float64_value - threshold| > float64_error, float64 decides. Otherwise
    ``high_precision(dps)`` is called inside ``mpmath.workdps(dps)`` and must return
    (value, error_bound) as mpf or float; it decides unless its own margin is within its bound, in
    which case the outcome is "tie".

    Parameters
    ----------
    float64_value, float64_error : float
        The quantity and a bound on its float64 error (e.g. a few eps times a condition number
        times the scale).
    high_precision : callable (int) -> (value, error)
    threshold : float
    dps : int
    """
    v64 = float(float64_value)
    e64 = float(float64_error)
    thr = float(threshold)
    if not np.isfinite(v64) or not np.isfinite(e64) or e64 < 0:
        raise InvalidArgumentError(
            f"float64_value and float64_error must be finite with error >= 0; got {v64!r}, {e64!r}"
        )
    if abs(v64 - thr) > e64:
        outcome = "above" if v64 > thr else "below"
        return PrecisionDecision(outcome, False, v64, e64, v64, e64, thr, None,
                                 f"decided in float64: margin {v64 - thr:.3e} exceeds the error bound {e64:.3e}")
    dps = check_positive(dps, "dps", integer=True)
    ctx = mpmath.mp
    with ctx.workdps(dps):
        value, error = high_precision(dps)
        margin = ctx.convert(value) - ctx.convert(thr)
        err = abs(ctx.convert(error))
        if margin > err:
            outcome = "above"
        elif margin < -err:
            outcome = "below"
        else:
            outcome = "tie"
        value_f, err_f, margin_f = float(value), float(err), float(margin)
    if outcome == "tie":
        note = (f"float64 could not decide (margin {v64 - thr:.3e} within {e64:.3e}); at {dps} digits the "
                f"margin {margin_f:.3e} is still within the error bound {err_f:.3e}")
    else:
        note = (f"float64 could not decide (margin {v64 - thr:.3e} within {e64:.3e}); decided at {dps} "
                f"digits: margin {margin_f:.3e}, error bound {err_f:.3e}")
    return PrecisionDecision(outcome, True, value_f, err_f, v64, e64, thr, dps, note)


def _float64_pole_error(H, a, lam):
    """Bound on the float64 error of the poles from the symmetric route: ZERO_FACTOR size eps ||S||."""
    from .spectral import eigen_decomposition

    basis = eigen_decomposition(H, a, lam, vectors=False)
    scale = float(np.abs(basis.poles).max(initial=0.0))
    return basis, ZERO_FACTOR * basis.m * basis.n * _EPS * scale


def decide_pole_bound(H, a, lam, dps: int = DEFAULT_DPS) -> PrecisionDecision:
    """Decide the sign of min_j p_j - lambda sigma_0 over the nonzero poles (Theorem 3.3's margin).

    sigma_0 is the smallest nonzero eigenvalue over all H_k. Float inputs. The float64 error bound
    adds the pole bound ZERO_FACTOR (m n) eps max|p| and lambda times the eigenvalue bound
    ZERO_FACTOR n eps max|h|. The outcome "above" or "tie" means the bound holds (tie: equal to
    the precision used).
    """
    from .spectral import pole_bounds

    H = np.asarray(H, dtype=float)
    basis, pole_err = _float64_pole_error(H, a, lam)
    bounds = pole_bounds(H, a, lam)
    if basis.nonzero.size == 0 or not np.isfinite(bounds["sigma0"]):
        raise InvalidArgumentError("no nonzero pole or no nonzero eigenvalue of any H_k: the bound is vacuous")
    v64 = float(basis.nonzero.min() - bounds["lower"])
    e64 = pole_err + lam * ZERO_FACTOR * H.shape[1] * _EPS * bounds["max_unit_eigenvalue"]

    def high(d):
        ctx = mpmath.mp
        modes = high_precision_modes(H, a, lam, dps=d)
        prob = _setup(ctx, H, a, lam, None)
        scale = max(abs(x) for row in prob.h for x in row)
        cut = ctx.mpf(10) ** (ZERO_GUARD_DIGITS - d) * scale
        sigma0 = min(x for row in prob.h for x in row if x > cut)
        value = min(modes.nonzero) - prob.lam * sigma0
        error = ctx.mpf(10) ** (ZERO_GUARD_DIGITS - d) * max(max(modes.nonzero), scale)
        return value, error

    return decide_with_high_precision(v64, e64, high, threshold=0.0, dps=dps)


def decide_pole_gap(H, a, lam, dps: int = DEFAULT_DPS) -> PrecisionDecision:
    """Decide whether the nonzero poles are distinct: the sign of the smallest gap between them.

    Float inputs. "above" means all nonzero poles are distinct (Assumption 2's distinctness),
    "tie" that two agree to the precision used, which for exact-arithmetic inputs indicates a
    repeated pole. The float64 error bound is twice the pole error bound.
    """
    H = np.asarray(H, dtype=float)
    basis, pole_err = _float64_pole_error(H, a, lam)
    p = np.sort(basis.nonzero)
    if p.size < 2:
        raise InvalidArgumentError(f"need at least two nonzero poles for a gap; got {p.size}")
    v64 = float(np.diff(p).min())

    def high(d):
        ctx = mpmath.mp
        modes = high_precision_modes(H, a, lam, dps=d)
        ps = modes.nonzero
        if len(ps) < 2:
            return ctx.zero, ctx.zero
        gap = min(ps[i + 1] - ps[i] for i in range(len(ps) - 1))
        return gap, ctx.mpf(10) ** (ZERO_GUARD_DIGITS - d) * max(ps)

    return decide_with_high_precision(v64, 2 * pole_err, high, threshold=0.0, dps=dps)


def decide_zero_pole_count(H, a, lam, dps: int = DEFAULT_DPS):
    """Decide the number of zero poles, in high precision when float64 is ambiguous.

    Float inputs. Float64 (:func:`ktheory.spectral.eigen_decomposition`) counts the poles below its
    zero tolerance tol. The count is ambiguous when the smallest pole above tol lies below
    ZERO_BAND * tol; then :func:`high_precision_modes` (with rounding-level eigenvalues of the H_k
    set to zero) decides.

    Returns
    -------
    count : int
        The decided number of zero poles.
    decision : PrecisionDecision
        About the smallest pole float64 calls nonzero: "above" means it is positive (the float64
        count stands), "tie" that it is zero at ``dps`` digits. Its ``note`` gives both counts
        when high precision was used.
    """
    from .spectral import eigen_decomposition

    H = np.asarray(H, dtype=float)
    basis = eigen_decomposition(H, a, lam, vectors=False)
    if basis.nonzero.size == 0:
        decision = PrecisionDecision("tie", False, 0.0, basis.zero_tolerance, 0.0, basis.zero_tolerance,
                                     0.0, None, "every pole is zero in float64")
        return basis.zero_count, decision
    smallest = float(basis.nonzero.min())
    state = {}

    def high(d):
        modes = high_precision_modes(H, a, lam, dps=d)
        state["modes"] = modes
        index = basis.zero_count  # position of the smallest float64-nonzero pole
        value = modes.poles[index] if index < len(modes.poles) else mpmath.mp.zero
        return value, modes.zero_tolerance

    decision = decide_with_high_precision(smallest, ZERO_BAND * basis.zero_tolerance, high, dps=dps)
    if not decision.used_high_precision:
        return basis.zero_count, decision
    count = state["modes"].zero_count
    decision.note += f"; zero poles: {basis.zero_count} in float64, {count} at {dps} digits"
    return count, decision
