"""Per-unit Gram matrices H_k, the network kernel H and the expected kernel at initialisation.

Notation of Panahi et al. (2022): H_k[i, j] = sigma'(w_k . x_i) sigma'(w_k . x_j) x_i . x_j is the
Gram matrix of unit k ("associated gram matrix"), c_k = a_k / sqrt(m), and
H = sum_k c_k^2 H_k is the kernel that drives f when lambda = 0. H^infinity is the expectation
of H at initialisation, w ~ N(0, kappa^2 I) and a_k^2 = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import get_activation
from .errors import InvalidArgumentError, as_finite_array, check_positive
from .model import check_problem, output_weights

__all__ = [
    "gram_blocks",
    "network_kernel",
    "relu_expected_kernel",
    "expected_kernel",
    "ExpectedKernel",
    "check_blocks",
]


def gram_blocks(X, W, activation) -> np.ndarray:
    """Return the stack of per-unit Gram matrices H_k = D_k X X^T D_k, shape (m, n, n).

    D_k = diag(sigma'(X w_k)). Every H_k is symmetric positive semidefinite by construction.
    """
    act = get_activation(activation)
    X, W = check_problem(X, W)
    D = act.dsigma(X @ W.T).T  # (m, n)
    G = X @ X.T
    G = 0.5 * (G + G.T)
    # (D_i D_j) G_ij rounds the same way as (D_j D_i) G_ji, so every H_k is exactly symmetric.
    out = D[:, :, None] * D[:, None, :]
    out *= G[None, :, :]
    return out


def check_blocks(H, a=None):
    """Validate a stack of Gram matrices H (m, n, n) and, if given, output weights a (m,)."""
    H = as_finite_array("H", H, ndim=3)
    if H.shape[1] != H.shape[2]:
        raise InvalidArgumentError(f"H must have shape (m, n, n) with square blocks; got {H.shape}")
    if a is None:
        return H
    a = as_finite_array("a", a, ndim=1)
    if a.shape[0] != H.shape[0]:
        raise InvalidArgumentError(
            f"a must have length m = {H.shape[0]} (the number of blocks in H); got length {a.shape[0]}"
        )
    return H, a


def network_kernel(H, a) -> np.ndarray:
    """Return H = sum_k c_k^2 H_k with c = a / sqrt(m), shape (n, n)."""
    H, a = check_blocks(H, a)
    c = output_weights(a)
    return np.einsum("k,kij->ij", c * c, H)


def relu_expected_kernel(X) -> np.ndarray:
    """Return H^infinity for ReLU in closed form.

    For w ~ N(0, kappa^2 I), P(w.x_i > 0, w.x_j > 0) = (pi - theta_ij) / (2 pi) with theta_ij the
    angle between x_i and x_j, independent of kappa. So
    H^infinity[i, j] = x_i . x_j (pi - arccos(x_i . x_j / (|x_i| |x_j|))) / (2 pi).
    Rows of X must be nonzero.
    """
    X = as_finite_array("X", X, ndim=2)
    norms = np.linalg.norm(X, axis=1)
    if np.any(norms == 0):
        zero = np.flatnonzero(norms == 0)
        raise InvalidArgumentError(
            f"X has {zero.size} zero rows (first at index {zero[0]}); the ReLU kernel needs nonzero inputs"
        )
    G = X @ X.T
    cos = np.clip(G / np.outer(norms, norms), -1.0, 1.0)
    return G * (np.pi - np.arccos(cos)) / (2.0 * np.pi)


@dataclass(frozen=True)
class ExpectedKernel:
    """Expected kernel H^infinity with the entrywise standard error of its estimate (zero when exact)."""

    kernel: np.ndarray
    standard_error: np.ndarray
    samples: int  # Monte Carlo samples; 0 for the closed form


def expected_kernel(X, activation, kappa: float = 1e-2, samples: int = 20000,
                    rng: np.random.Generator | None = None, batch: int = 2000) -> ExpectedKernel:
    """Return H^infinity = E_w[sigma'(w.x_i) sigma'(w.x_j)] x_i.x_j for w ~ N(0, kappa^2 I).

    ReLU uses the closed form of :func:`relu_expected_kernel` (standard error zero). Other
    activations use a Monte Carlo average over ``samples`` draws from ``rng``; the returned
    standard error is the sample standard deviation of each entry divided by sqrt(samples).
    """
    act = get_activation(activation)
    X = as_finite_array("X", X, ndim=2)
    kappa = check_positive(kappa, "kappa")
    if act.name == "relu":
        K = relu_expected_kernel(X)
        return ExpectedKernel(K, np.zeros_like(K), 0)
    samples = check_positive(samples, "samples", integer=True)
    if rng is None:
        raise InvalidArgumentError(
            f"rng is required for the Monte Carlo kernel of {act.name!r}; pass numpy.random.default_rng(seed)"
        )
    n, d = X.shape
    G = X @ X.T
    mean = np.zeros((n, n))
    second = np.zeros((n, n))
    done = 0
    while done < samples:
        size = min(batch, samples - done)
        D = act.dsigma(X @ (kappa * rng.standard_normal((d, size))))  # (n, size)
        mean += D @ D.T
        D2 = D * D
        second += D2 @ D2.T
        done += size
    mean /= samples
    second /= samples
    var = np.maximum(second - mean * mean, 0.0) * samples / max(samples - 1, 1)
    return ExpectedKernel(mean * G, np.sqrt(var / samples) * np.abs(G), samples)
