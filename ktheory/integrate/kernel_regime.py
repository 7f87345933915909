"""Kernel-regime predictions along a run, and the drift of the per-unit Gram matrices.

Notation of Panahi et al. (2022): H_k = D_k X X^T D_k with D_k = diag(sigma'(X w_k)) is the Gram
matrix of unit k; c_k = a_k / sqrt(m); Hbar is the (m n, m n) matrix with block (k, l) equal to
H_k (c_k c_l + lambda [k == l]). Under gradient flow the hidden features obey

    d f_k / dt = H_k(t) [c_k (y - f) + lambda (phi_k - f_k)],

because dW/dt = E^T X gives dZ/dt = X X^T E and df_k/dt = D_k dZ_k/dt. In the kernel regime H_k is
frozen at initialisation, so the stacked features F = (f_1, ..., f_m) solve the linear system
dF/dt = -Hbar F + B g (g_k = c_k y + lambda phi_k, B = blockdiag(H_k)) with the exact solution

    F(t) = F_p + exp(-Hbar t) (F(0) - F_p),    f_lin(t) = c^T F(t),

F_p any equilibrium (:func:`ktheory.theory.particular_equilibrium`). Gradient descent on the
model linearised in W at W0 gives exactly F_r = F_p + (I - step Hbar)^r (F(0) - F_p); that is the
discrete prediction to compare with GD at iteration r, while the continuous one is matched at
t = step * r. For lambda = inf the data term is absent and each unit decouples:
f_k(t) = phi_k + exp(-H_k t) (f_k(0) - phi_k).

Known limitations
-----------------
- The predictions diagonalise Hbar densely (m n unknowns), so they are meant for n m up to a few
  thousand; :func:`kernel_change` has an operator path for large n.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.sparse.linalg import LinearOperator, eigsh

from ..activations import get_activation
from ..errors import InvalidArgumentError, as_finite_array, check_lambda
from ..ntk import gram_blocks
from ..spectral import eigen_decomposition, modal_solution
from ..theory import particular_equilibrium

__all__ = ["kernel_change", "linearised_prediction", "kernel_regime_comparison", "KERNEL_DENSE_MAX_N"]

KERNEL_DENSE_MAX_N = 3000
"""Largest n for which :func:`kernel_change` forms K = X X^T (72 MB at n = 3000) instead of
applying X twice per Lanczos iteration."""

_EIGH_MAX_N = 200
"""Below this n a dense symmetric eigensolve is cheaper than Lanczos for the spectral norm."""

_LANCZOS_TOL = 1e-10
"""Relative accuracy asked of eigsh for ||H_k(t) - H_k(0)||_2."""


def _spectral_norm(matvec, n, dense=None) -> float:
    if dense is not None and n <= _EIGH_MAX_N:
        w = sla.eigvalsh(dense)
        return float(max(abs(w[0]), abs(w[-1])))
    if dense is not None:
        op = dense
    else:
        op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    value = eigsh(op, k=1, which="LM", tol=_LANCZOS_TOL, return_eigenvectors=False)
    return float(abs(value[0]))


def kernel_change(X, W, W0, activation, K=None) -> np.ndarray:
    """Return ||H_k(W) - H_k(W0)||_2 for every unit k, shape (m,).

    Uses the dense K = X X^T when given or when n <= ``KERNEL_DENSE_MAX_N``, else the operator
    v -> D_k X (X^T (D_k v)) - D0_k X (X^T (D0_k v)). Units whose sigma' pattern did not change
    (common for ReLU) give exactly 0 without an eigensolve.
    """
    act = get_activation(activation)
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    D = act.dsigma(X @ np.asarray(W).T)
    D0 = act.dsigma(X @ np.asarray(W0).T)
    if K is None and n <= KERNEL_DENSE_MAX_N:
        K = X @ X.T
    out = np.zeros(D.shape[1])
    for k in range(D.shape[1]):
        dk, d0 = D[:, k], D0[:, k]
        if np.array_equal(dk, d0):
            continue
        if K is not None:
            delta = (np.outer(dk, dk) - np.outer(d0, d0)) * K
            out[k] = _spectral_norm(None, n, dense=delta)
        else:
            def matvec(v, dk=dk, d0=d0):
                v = np.ravel(v)
                return dk * (X @ (X.T @ (dk * v))) - d0 * (X @ (X.T @ (d0 * v)))

            out[k] = _spectral_norm(matvec, n)
    return out


def linearised_prediction(X, y, a, W0, Phi, lam, activation, times=None, iterations=None, step=None):
    """Return the kernel-regime prediction with H_k frozen at W0.

    Give ``times`` (continuous: F(t) = F_p + exp(-Hbar t)(F(0) - F_p)) or ``iterations`` and
    ``step`` (exact linearised GD: (I - step Hbar)^r in place of the exponential).
    Returns ``(F, f)`` with F (T, m, n) the per-unit features and f (T, n) = c^T F.
    """
    act = get_activation(activation)
    X = as_finite_array("X", X, ndim=2)
    W0 = as_finite_array("W0", W0, shape=(None, X.shape[1]))
    a = as_finite_array("a", a, shape=(W0.shape[0],))
    y = as_finite_array("y", y, shape=(X.shape[0],))
    lam = check_lambda(lam, allow_inf=True)
    m, n = W0.shape[0], X.shape[0]
    if Phi is None:
        if lam > 0:
            raise InvalidArgumentError("Phi is missing but lam > 0; pass Phi (n, m)")
        Phi = np.zeros((n, m))
    Phi = as_finite_array("Phi", Phi, shape=(n, m))
    if (times is None) == (iterations is None):
        raise InvalidArgumentError("pass exactly one of times (continuous) or iterations with step (discrete)")
    if iterations is not None:
        if step is None or not step > 0:
            raise InvalidArgumentError(f"step must be > 0 with iterations; got {step!r}")
        grid = np.asarray(iterations, dtype=float)
    else:
        grid = as_finite_array("times", np.atleast_1d(times), ndim=1)
    if np.any(grid < 0):
        raise InvalidArgumentError("times and iterations must be >= 0")

    c = a / np.sqrt(m)
    H = gram_blocks(X, W0, act)
    F0 = act.sigma(X @ W0.T).T  # (m, n)

    if np.isinf(lam):
        F = np.empty((grid.size, m, n))
        for k in range(m):
            w, V = sla.eigh(H[k])
            w = np.clip(w, 0.0, None)  # H_k is PSD; clip rounding below zero
            coef = V.T @ (F0[k] - Phi[:, k])
            factor = (1.0 - step * w)[None, :] ** grid[:, None] if iterations is not None else np.exp(-np.outer(grid, w))
            F[:, k, :] = Phi[:, k][None, :] + (factor * coef[None, :]) @ V.T
        return F, np.einsum("k,tkn->tn", c, F)

    Fp = particular_equilibrium(y, Phi, a, lam)  # (m, n)
    basis = eigen_decomposition(H, a, lam)
    eta0 = (F0 - Fp).reshape(-1)
    if iterations is not None:
        coef = basis.left.T @ eta0
        zero_part = eta0 - basis.right @ coef
        factor = (1.0 - step * basis.nonzero)[None, :] ** grid[:, None]
        eta = zero_part[None, :] + (factor * coef[None, :]) @ basis.right.T
    else:
        eta = modal_solution(basis, eta0, grid)
    F = Fp[None] + eta.reshape(grid.size, m, n)
    return F, np.einsum("k,tkn->tn", c, F)


def kernel_regime_comparison(result, X, y, a, Phi) -> dict:
    """Compare a GD run with its kernel-regime predictions at the recorded iterations.

    ``result`` is a :class:`ktheory.integrate.gd.GDResult` of the same problem. Returns a dict with
    "iteration", "time" (= step * iteration), "distance_flow" = ||f_GD(r) - f_lin(step r)|| (the
    exact kernel-regime gradient flow), "distance_discrete" = ||f_GD(r) - f_lin,r|| (linearised
    GD with the same step), and "movement" = ||f_GD(r) - f_GD(0)|| to scale them.
    """
    hist = result.history
    its = np.asarray(hist["iteration"])
    f_gd = np.asarray(hist["f_train"])
    _, f_flow = linearised_prediction(X, y, a, result.W0, Phi, result.lam, result.activation,
                                      times=result.step * its)
    _, f_disc = linearised_prediction(X, y, a, result.W0, Phi, result.lam, result.activation,
                                      iterations=its, step=result.step)
    return {
        "iteration": its,
        "time": result.step * its,
        "distance_flow": np.linalg.norm(f_gd - f_flow, axis=1),
        "distance_discrete": np.linalg.norm(f_gd - f_disc, axis=1),
        "movement": np.linalg.norm(f_gd - f_gd[0], axis=1),
        "f_flow": f_flow,
        "f_discrete": f_disc,
    }
