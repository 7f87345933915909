"""The two-layer student network f(x) = sum_k a_k / sqrt(m) sigma(w_k . x) and its initialisation.

Shapes follow one convention throughout ktheory: X is (n, d) with samples as rows, W is (m, d),
a has length m, and c = a / sqrt(m) is the effective output weight. The hidden features are the
(n, m) matrix F with F[i, k] = sigma(w_k . x_i), so that f = F c.
"""

from __future__ import annotations

import numpy as np

from .activations import get_activation
from .errors import InvalidArgumentError, as_finite_array, check_positive

__all__ = [
    "output_weights",
    "preactivations",
    "hidden_features",
    "forward",
    "jacobian_columns",
    "init_params",
    "check_problem",
]

KAPPA_PAPER = 1e-2
"""Standard deviation of the initial hidden weights used in the experiments of Panahi et al. (2022)."""


def check_problem(X, W=None, a=None):
    """Validate X (n, d), W (m, d) and a (m,) against each other and return them as float arrays."""
    X = as_finite_array("X", X, ndim=2)
    out = [X]
    if W is not None:
        W = as_finite_array("W", W, ndim=2)
        if W.shape[1] != X.shape[1]:
            raise InvalidArgumentError(
                f"W must have shape (m, {X.shape[1]}) to match X with d = {X.shape[1]}; got {W.shape}"
            )
        out.append(W)
    if a is not None:
        a = as_finite_array("a", a, ndim=1)
        if W is not None and a.shape[0] != W.shape[0]:
            raise InvalidArgumentError(
                f"a must have length m = {W.shape[0]} (rows of W); got length {a.shape[0]}"
            )
        out.append(a)
    return out[0] if len(out) == 1 else tuple(out)


def output_weights(a) -> np.ndarray:
    """Return c = a / sqrt(m), the output weights as they enter f and every kernel formula."""
    a = as_finite_array("a", a, ndim=1)
    if a.size == 0:
        raise InvalidArgumentError("a must have at least one entry (m >= 1); got an empty array")
    return a / np.sqrt(a.size)


def preactivations(X, W) -> np.ndarray:
    """Return Z = X W^T, shape (n, m)."""
    X, W = check_problem(X, W)
    return X @ W.T


def hidden_features(X, W, activation) -> np.ndarray:
    """Return F with F[i, k] = sigma(w_k . x_i), shape (n, m)."""
    act = get_activation(activation)
    return act.sigma(preactivations(X, W))


def forward(X, W, a, activation) -> np.ndarray:
    """Return the network outputs f(x_i) = sum_k c_k sigma(w_k . x_i), shape (n,)."""
    X, W, a = check_problem(X, W, a)
    return hidden_features(X, W, activation) @ output_weights(a)


def jacobian_columns(X, W, activation) -> np.ndarray:
    """Return L with L[k] = X^T diag(sigma'(X w_k)), shape (m, d, n).

    Column i of L[k] is sigma'(w_k . x_i) x_i, the gradient of the hidden feature f_k(x_i) with
    respect to w_k, so that H_k = L[k]^T L[k].
    """
    act = get_activation(activation)
    X, W = check_problem(X, W)
    D = act.dsigma(X @ W.T)  # (n, m)
    return np.einsum("ik,id->kdi", D, X)


def init_params(rng: np.random.Generator, m: int, d: int, kappa: float = KAPPA_PAPER):
    """Draw the initialisation w_k ~ N(0, kappa^2 I_d) and a_k uniform on {-1, +1}.

    Returns ``(a, W)`` with shapes (m,) and (m, d). Draws W first, then a, from ``rng``.
    """
    if not isinstance(rng, np.random.Generator):
        raise InvalidArgumentError(
            f"rng must be a numpy.random.Generator (use numpy.random.default_rng(seed)); got {type(rng).__name__}"
        )
    m = check_positive(m, "m", integer=True)
    d = check_positive(d, "d", integer=True)
    kappa = check_positive(kappa, "kappa")
    W = kappa * rng.standard_normal((m, d))
    a = rng.choice(np.array([-1.0, 1.0]), size=m)
    return a, W
