"""What the theory predicts for one training run: final value, slowest pole, Theorem 3.3's bound.

Notation of Panahi et al. (2022): c_k = a_k / sqrt(m), H_k = D_k X X^T D_k with
D_k = diag(sigma'(X w_k)) at initialisation, sigma_0 the smallest nonzero eigenvalue over all H_k,
and the poles p_j the eigenvalues of the block matrix Hbar (lambda > 0) or of
H = sum_k c_k^2 H_k (lambda = 0). Predictions for a run from initial weights W0:

- final value f_inf (eq. 5 without its o_m(1) term), from :func:`ktheory.theory.final_value`;
- envelope ||f(t) - f_inf|| = O(exp(-p_min t)) with p_min the smallest nonzero pole;
- Theorem 3.3: every pole is >= lambda sigma_0.
- lambda -> infinity: each unit is fitted to its own target, df_k/dt = -H_k (f_k - phi_k), so the
  poles are the eigenvalues of the H_k and p_min = sigma_0.

Known limitations
-----------------
- p_min for 0 < lambda < inf comes from the dense symmetric eigensolve of
  :func:`ktheory.spectral.eigen_decomposition`, whose size is about m * min(n, d); above
  ``max_rows`` training rows it is computed on the first ``max_rows`` rows only (a seeded
  subsample when the rows were shuffled), and the key "p_min_rows" of the result records it.
- The exponential fit uses the last part of the recorded residual; it measures the slowest mode
  only when that mode already dominates there.
"""

from __future__ import annotations

import numpy as np

from .. import spectral, theory
from ..activations import get_activation
from ..errors import InvalidArgumentError, as_finite_array
from ..model import check_problem, output_weights
from ..ntk import gram_blocks

__all__ = [
    "network_kernel_from_weights",
    "unit_sigma0",
    "smallest_pole",
    "final_value",
    "fit_rate",
]

_EPS = np.finfo(np.float64).eps

ZERO_FACTOR = 10.0
"""An eigenvalue below ZERO_FACTOR * size * eps * largest counts as zero, as in ktheory.spectral."""


def network_kernel_from_weights(X, W, a, activation) -> np.ndarray:
    """Return H = sum_k c_k^2 H_k at weights W without forming the m blocks, shape (n, n).

    H[i, j] = (sum_k c_k^2 sigma'(w_k.x_i) sigma'(w_k.x_j)) x_i.x_j, i.e. (Dc Dc^T) * (X X^T)
    with Dc = D diag(|c|).
    """
    act = get_activation(activation)
    X, W, a = check_problem(X, W, a)
    Dc = act.dsigma(X @ W.T) * np.abs(output_weights(a))[None, :]
    return (Dc @ Dc.T) * (X @ X.T)


def unit_sigma0(X, W, activation) -> tuple[float, np.ndarray]:
    """Return (sigma_0, per-unit smallest nonzero eigenvalue (m,)) of the H_k at weights W.

    H_k = L_k L_k^T with L_k = D_k X (n, d) has the same nonzero eigenvalues as L_k^T L_k (d, d).
    Each unit costs one eigvalsh of size min(active rows, d): the rows of D_k G D_k (G = X X^T,
    formed once) for the active rows when they are at most d, else L_k^T L_k. A unit with
    H_k = 0 gets nan.
    """
    act = get_activation(activation)
    X, W = check_problem(X, W)
    D = act.dsigma(X @ W.T)
    n, d = X.shape
    G = X @ X.T if n <= d else None
    per_unit = np.full(W.shape[0], np.nan)
    seen = {}  # units with the same column of D have the same H_k (common for ReLU on positive inputs)
    for k in range(W.shape[0]):
        rows = np.flatnonzero(D[:, k] != 0)
        if rows.size == 0:
            continue
        pattern = D[:, k].tobytes()
        if pattern in seen:
            per_unit[k] = per_unit[seen[pattern]]
            continue
        seen[pattern] = k
        Dk = D[rows, k]
        if rows.size <= d and G is not None:
            Hk = Dk[:, None] * G[np.ix_(rows, rows)] * Dk[None, :]
        else:
            L = Dk[:, None] * X[rows]
            Hk = L.T @ L if rows.size > d else L @ L.T
        vals = np.linalg.eigvalsh(Hk)
        tol = ZERO_FACTOR * Hk.shape[0] * _EPS * vals[-1]
        per_unit[k] = vals[vals > tol].min()
    finite = per_unit[np.isfinite(per_unit)]
    return (float(finite.min()) if finite.size else float("nan")), per_unit


def smallest_pole(X, W, a, lam, activation, max_rows: int = 400, sigma0=None) -> dict:
    """Return p_min, Theorem 3.3's bound lambda sigma_0 and how they were computed for a run from W.

    Keys: "p_min" (nan when not computed), "sigma0" (all rows), "bound" (lambda sigma_0, all rows),
    "upper" (for 0 < lambda < inf: min_k sigma_k (c_k^2 + lambda), a Rayleigh-quotient upper bound on
    p_min from the symmetric form of Hbar, all rows), "rows" (rows behind p_min), "method".
    ``max_rows`` caps the rows of the dense eigensolve for 0 < lambda < inf (size about
    m * min(rows, d)); with fewer rows than n, "p_min" refers to that subsample and
    "p_min_rows" describes it. ``sigma0`` takes a precomputed ``unit_sigma0(X, W, activation)``.
    """
    act = get_activation(activation)
    X, W, a = check_problem(X, W, a)
    lam = float(lam)
    if np.isnan(lam) or lam < 0:
        raise InvalidArgumentError(f"lam must be >= 0 or inf; got {lam!r}")
    n = X.shape[0]
    s0, per_unit = unit_sigma0(X, W, act.name) if sigma0 is None else sigma0
    out = {"sigma0": s0, "bound": lam * s0 if np.isfinite(lam) else float("inf"), "rows": n}
    if lam == 0:
        vals = np.linalg.eigvalsh(network_kernel_from_weights(X, W, a, act.name))
        tol = ZERO_FACTOR * n * _EPS * vals[-1]
        out.update(p_min=float(vals[vals > tol].min()), method="smallest nonzero eigenvalue of H")
        return out
    if np.isinf(lam):
        out.update(p_min=s0, method="smallest nonzero eigenvalue over the H_k (units decouple)")
        return out
    c2 = output_weights(a) ** 2
    ok = np.isfinite(per_unit)
    out["upper"] = float(np.min(per_unit[ok] * (c2[ok] + lam))) if ok.any() else float("nan")
    rows = min(n, int(max_rows))
    if rows <= 0:
        out.update(p_min=float("nan"), method="not computed (max_rows = 0)")
        return out
    H = gram_blocks(X[:rows], W, act.name)
    basis = spectral.eigen_decomposition(H, a, lam, vectors=False)
    out.update(p_min=float(basis.nonzero.min()) if basis.nonzero.size else float("nan"), rows=rows,
               method="smallest nonzero eigenvalue of Hbar (symmetric-definite route)")
    if rows < n:
        s0_rows, per_rows = unit_sigma0(X[:rows], W, act.name)
        okr = np.isfinite(per_rows)
        out["p_min_rows"] = (f"p_min on the first {rows} of {n} rows; there lambda sigma_0 = {lam * s0_rows:.4g} and "
                             f"the upper bound is {float(np.min(per_rows[okr] * (c2[okr] + lam))):.4g}")
    return out


def final_value(y, Phi, a, lam) -> np.ndarray:
    """Return the predicted final training outputs: eq. (5) for finite lambda, b = Phi c for lambda = inf."""
    if np.isinf(lam):
        return theory.teacher_prediction(Phi, a)
    if lam == 0:
        return as_finite_array("y", y, ndim=1).copy()
    return theory.final_value(y, Phi, a, lam)


def fit_rate(times, residual, fraction: float = 0.5) -> float:
    """Return the decay rate r of residual ~ exp(-r t), fitted by least squares on log(residual).

    Only the last ``fraction`` of the samples enter the fit; returns nan with fewer than 3 usable
    (positive, finite) samples.
    """
    t = as_finite_array("times", times, ndim=1)
    r = np.asarray(residual, dtype=float)
    if r.shape != t.shape:
        raise InvalidArgumentError(f"residual must have the shape of times {t.shape}; got {r.shape}")
    if not 0 < fraction <= 1:
        raise InvalidArgumentError(f"fraction must be in (0, 1]; got {fraction!r}")
    start = int(np.floor((1 - fraction) * t.size))
    t, r = t[start:], r[start:]
    ok = np.isfinite(r) & (r > 0)
    if ok.sum() < 3:
        return float("nan")
    slope = np.polyfit(t[ok], np.log(r[ok]), 1)[0]
    return float(-slope)
