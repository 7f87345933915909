"""Plain NumPy reference of one gradient-descent step on the transfer loss (one model).

Used by the tests as the independent check of every compiled kernel, and by the benchmark as the
"plain NumPy step". The loss carries halves: L(W) = 1/2 ||y - f||^2 + lam/2 sum_k ||phi_k - f_k||^2
with f = sigma(X W^T) c and c = a / sqrt(m); lam = inf drops the data term and keeps
1/2 sum_k ||phi_k - f_k||^2.
"""

from __future__ import annotations

import numpy as np

from ..activations import get_activation

__all__ = ["loss_weights", "reference_step", "reference_loss"]


def loss_weights(lam: float) -> tuple[float, float]:
    """Return (data weight, regulariser weight): (1, lam) for finite lam and (0, 1) for lam = inf."""
    if np.isinf(lam):
        return 0.0, 1.0
    return 1.0, float(lam)


def reference_step(X, y, a, W, Phi, lam, activation):
    """Return (Z, E, direction, data_loss, reg_loss) at W by NumPy.

    Z = X W^T (n, m); E (n, m) the descent residual sigma'(Z) * (wd c r + wr (Phi - F));
    direction = E^T X = -grad L (m, d); data_loss = 1/2 ||y - f||^2 and
    reg_loss = 1/2 sum_k ||phi_k - f_k||^2 (both unweighted; 0 for reg_loss when Phi is None).
    """
    act = get_activation(activation)
    wd, wr = loss_weights(lam)
    c = np.asarray(a, dtype=float) / np.sqrt(len(a))
    Z = X @ W.T
    F = act.sigma(Z)
    D = act.dsigma(Z)
    r = y - F @ c
    G = wd * np.outer(r, c)
    reg = 0.0
    if Phi is not None and wr != 0.0:
        diff = Phi - F
        G = G + wr * diff
        reg = 0.5 * float(np.sum(diff * diff))
    E = D * G
    return Z, E, E.T @ X, 0.5 * float(r @ r), reg


def reference_loss(X, y, a, W, Phi, lam, activation) -> float:
    """Return the weighted loss L(W) (for finite differences of the gradient)."""
    _, _, _, data, reg = reference_step(X, y, a, W, Phi, lam, activation)
    wd, wr = loss_weights(lam)
    return wd * data + wr * reg
