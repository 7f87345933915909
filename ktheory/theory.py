"""Formulas of Panahi et al. (2022), "Analysis of Knowledge Transfer in Kernel Regime", as printed.

Each function evaluates one printed formula with its inputs written out, so that the claims
ledger can compare it with an independent computation. Symbols: c_k = a_k / sqrt(m),
a_bar = sum_k c_k^2 (the paper's ``a``), b = sum_k c_k phi_k = Phi c (the teacher's prediction
through the student's output weights), Phi is (n, m) with Phi[:, k] = phi_k.

The exact kernel-regime limit (:func:`kernel_regime_limit`) is derived here, not printed in the
paper: with all H_k fixed, the stacked features F = (f_1, ..., f_m) obey
dF/dt = -Hbar F + B g with g_k = c_k y + lambda phi_k, so F(t) = F_p + exp(-Hbar t) (F(0) - F_p)
for any particular equilibrium F_p, and F(inf) = F_p + P_0 (F(0) - F_p) with P_0 the projector on
the zero eigenspace of Hbar. For lambda > 0, F_p = (C^{-1} kron I) g, which equals the per-unit
final values f_k,inf = phi_k + c_k (y - f_inf) / lambda that Theorem 3.2 defines.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidArgumentError, as_finite_array, check_lambda

__all__ = [
    "final_value",
    "unit_final_values",
    "teacher_prediction",
    "final_error",
    "final_error_printed",
    "particular_equilibrium",
    "kernel_regime_limit",
]


def _check_targets(y, Phi, a):
    y = as_finite_array("y", y, ndim=1)
    Phi = as_finite_array("Phi", Phi, ndim=2)
    a = as_finite_array("a", a, ndim=1)
    if Phi.shape[0] != y.shape[0]:
        raise InvalidArgumentError(
            f"Phi must have shape (n, m) = ({y.shape[0]}, {a.shape[0]}) to match y and a; got {Phi.shape}"
        )
    if Phi.shape[1] != a.shape[0]:
        raise InvalidArgumentError(
            f"Phi must have one column per hidden unit, m = {a.shape[0]} (length of a); got {Phi.shape[1]} columns"
        )
    return y, Phi, a


def teacher_prediction(Phi, a) -> np.ndarray:
    """Return b = sum_k a_k phi_k / sqrt(m) = Phi c."""
    Phi = as_finite_array("Phi", Phi, ndim=2)
    a = as_finite_array("a", a, shape=(Phi.shape[1],))
    return Phi @ (a / np.sqrt(a.size))


def final_value(y, Phi, a, lam) -> np.ndarray:
    """Return the final value of Theorem 3.1 without its o_m(1) term: (a_bar y + lambda b) / (a_bar + lambda)."""
    y, Phi, a = _check_targets(y, Phi, a)
    lam = check_lambda(lam)
    c = a / np.sqrt(a.size)
    abar = float(c @ c)
    if abar + lam == 0:
        raise InvalidArgumentError("a_bar + lam is zero (all a_k = 0 and lam = 0); the final value is undefined")
    return (abar * y + lam * (Phi @ c)) / (abar + lam)


def unit_final_values(y, Phi, a, lam) -> np.ndarray:
    """Return the per-unit final values of Theorem 3.2, f_k,inf = c_k (y - f_inf) / lambda + phi_k, shape (m, n)."""
    y, Phi, a = _check_targets(y, Phi, a)
    lam = check_lambda(lam)
    if lam == 0:
        raise InvalidArgumentError("lam must be > 0 for the per-unit final values, which divide by lambda")
    c = a / np.sqrt(a.size)
    finf = final_value(y, Phi, a, lam)
    return c[:, None] * (y - finf)[None, :] / lam + Phi.T


def final_error(y, Phi, a, lam) -> float:
    """Return e = ||f_inf - y|| computed from the final value of Theorem 3.1."""
    y = as_finite_array("y", y, ndim=1)
    return float(np.linalg.norm(final_value(y, Phi, a, lam) - y))


def final_error_printed(y, Phi, a, lam) -> float:
    """Return the speed-accuracy trade-off formula as printed: lambda/(a_bar+lambda) ||sum_k a_k phi_k / m - y||."""
    y, Phi, a = _check_targets(y, Phi, a)
    lam = check_lambda(lam)
    m = a.size
    abar = float(a @ a) / m
    return lam / (abar + lam) * float(np.linalg.norm(Phi @ a / m - y))


def particular_equilibrium(y, Phi, a, lam) -> np.ndarray:
    """Return an equilibrium F_p of the kernel-regime feature dynamics, shape (m, n).

    For lambda > 0 it is (C^{-1} kron I) g with g_k = c_k y + lambda phi_k (equal to
    :func:`unit_final_values`); for lambda = 0 it is c_k y / a_bar, which satisfies sum_k c_k F_k = y.
    """
    y, Phi, a = _check_targets(y, Phi, a)
    lam = check_lambda(lam)
    c = a / np.sqrt(a.size)
    if lam > 0:
        return unit_final_values(y, Phi, a, lam)
    abar = float(c @ c)
    if abar == 0:
        raise InvalidArgumentError("all a_k are zero and lam = 0: the network output cannot move")
    return c[:, None] * y[None, :] / abar


def kernel_regime_limit(basis, F0, y, Phi, a, lam):
    """Return (F_inf, f_inf): the exact t -> inf limit of the kernel-regime dynamics from F0 (m, n).

    ``basis`` is the :class:`ktheory.spectral.ModalBasis` of the same (H, a, lam). Differs from
    Theorem 3.1 when some H_k is singular, because then the zero eigenspace keeps part of F0.
    """
    F0 = as_finite_array("F0", F0, ndim=2)
    Fp = particular_equilibrium(y, Phi, a, lam)
    if F0.shape != Fp.shape:
        raise InvalidArgumentError(f"F0 must have shape (m, n) = {Fp.shape}; got {F0.shape}")
    d0 = (F0 - Fp).reshape(-1)
    kept = d0 - basis.right @ (basis.left.T @ d0)
    Finf = Fp + kept.reshape(Fp.shape)
    c = np.asarray(a, dtype=float) / np.sqrt(len(a))
    return Finf, c @ Finf
