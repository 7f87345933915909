"""Compiled GD kernels against the NumPy reference step, and the gradient against finite differences."""

import numpy as np
import pytest

from ktheory.activations import activation_names, get_activation
from ktheory.integrate import kernels
from ktheory.integrate.gd import _two_gemm_step
from ktheory.integrate.reference import loss_weights, reference_loss, reference_step

EPS = np.finfo(float).eps
LAMS = [0.0, 0.7, np.inf]


def small_problem(rng, n=11, d=9, m=5, scale=0.8):
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    W = scale * rng.standard_normal((m, d))
    a = rng.choice([-1.0, 1.0], size=m)
    y = rng.standard_normal(n)
    Phi = rng.standard_normal((n, m))
    return X, y, a, W, Phi


def stacked_args(models, n):
    """Kernel arguments for models = [(a, W, y, Phi, lam, activation)], as gd._Stack builds them."""
    W = np.ascontiguousarray(np.concatenate([mod[1] for mod in models]))
    c = np.concatenate([mod[0] / np.sqrt(len(mod[0])) for mod in models])
    unit_model = np.concatenate([np.full(len(mod[0]), j, dtype=np.int64) for j, mod in enumerate(models)])
    codes = np.array([get_activation(mod[5]).code for mod in models], dtype=np.int64)
    Y = np.ascontiguousarray(np.stack([mod[2] for mod in models], axis=1))
    Phi = np.ascontiguousarray(np.concatenate([mod[3] for mod in models], axis=1))
    wd = np.array([loss_weights(mod[4])[0] for mod in models])
    wr = np.array([loss_weights(mod[4])[1] for mod in models])
    M = W.shape[0]
    outputs = (np.empty((n, M)), np.empty((n, M)), np.empty((M, W.shape[1])), np.empty((len(models), 2)))
    return (W, c, unit_model, codes, Y, Phi, wd, wr), outputs


@pytest.mark.parametrize("name", activation_names())
def test_activation_branches_match_numpy(name):
    act = get_activation(name)
    Z = np.linspace(-30.0, 30.0, 603).reshape(3, -1)
    S, D = kernels.activation_values(Z, act.code)
    # Both sides evaluate the same closed forms with libm/scipy; a few ulps of the value.
    np.testing.assert_allclose(S, act.sigma(Z), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(D, act.dsigma(Z), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", activation_names())
@pytest.mark.parametrize("lam", LAMS)
def test_gradient_matches_central_differences(rng, name, lam):
    X, y, a, W, Phi = small_problem(rng)
    if name == "relu":
        # Keep every pre-activation away from the kink so that the loss is smooth along each probe.
        assert np.min(np.abs(X @ W.T)) > 1e-4
    _, _, direction, _, _ = reference_step(X, y, a, W, Phi, lam, name)
    grad = -direction
    h = 1e-6
    fd = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        Wp = W.copy()
        Wm = W.copy()
        Wp[idx] += h
        Wm[idx] -= h
        fd[idx] = (reference_loss(X, y, a, Wp, Phi, lam, name) - reference_loss(X, y, a, Wm, Phi, lam, name)) / (2 * h)
    loss = reference_loss(X, y, a, W, Phi, lam, name)
    # Central differences: truncation h^2 |L'''| (L''' = O(loss) here) plus rounding eps * L / h.
    tol = 10 * (h * h + EPS / h) * max(loss, 1.0)
    assert np.max(np.abs(fd - grad)) < tol


@pytest.mark.parametrize("kernel", [kernels.fused_weight_step, kernels.blocked_weight_step, _two_gemm_step])
@pytest.mark.parametrize("n", [13, 300])
def test_weight_kernels_match_reference(rng, kernel, n):
    # Three models with different activations, widths (not multiples of 4) and lambdas, so that
    # the register blocks, the remainder rows and units, and the per-model residuals are all used.
    d = 17
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    models = []
    for m, lam, name in [(5, 0.0, "relu"), (8, 0.3, "tanh"), (3, np.inf, "gelu")]:
        models.append((rng.choice([-1.0, 1.0], size=m), rng.standard_normal((m, d)), rng.standard_normal(n),
                       rng.standard_normal((n, m)), lam, name))
    args, (Z, E, G, L) = stacked_args(models, n)
    kernel(X, *args, Z, E, G, L)
    start = 0
    for j, (a, W, y, Phi, lam, name) in enumerate(models):
        units = slice(start, start + len(a))
        start += len(a)
        Zr, Er, Gr, data, reg = reference_step(X, y, a, W, Phi, lam, name)
        # Sums of d (or n) products in another order: error <= length * eps * sum |terms|.
        np.testing.assert_allclose(Z[:, units], Zr, rtol=0, atol=4 * d * EPS * (np.abs(X) @ np.abs(W).T).max())
        np.testing.assert_allclose(E[:, units], Er, rtol=1e-12, atol=1e-13 * np.abs(Er).max())
        bound = 4 * n * EPS * (np.abs(Er).T @ np.abs(X)).max()
        np.testing.assert_allclose(G[units], Gr, rtol=0, atol=bound + 1e-12 * np.abs(Gr).max())
        assert L[j, 0] == pytest.approx(data, rel=1e-12)
        assert L[j, 1] == pytest.approx(reg if loss_weights(lam)[1] else 0.0, rel=1e-12, abs=1e-300)


def test_fused_and_blocked_kernels_agree(rng):
    n, d = 260, 33
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    models = [(rng.choice([-1.0, 1.0], size=7), rng.standard_normal((7, d)), rng.standard_normal(n),
               rng.standard_normal((n, 7)), 0.2, "sigmoid")]
    args, out_a = stacked_args(models, n)
    _, out_b = stacked_args(models, n)
    kernels.fused_weight_step(X, *args, *out_a)
    kernels.blocked_weight_step(X, *args, *out_b)
    for got, want in zip(out_a, out_b):
        # Both are sums of at most max(n, d) products; 1e-12 relative is ~ 4 max(n, d) eps.
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_fused_kernel_same_bits_on_repeat(rng):
    X, y, a, W, Phi = small_problem(rng, n=101, d=40, m=9)
    args, out_a = stacked_args([(a, W, y, Phi, 0.5, "tanh")], X.shape[0])
    _, out_b = stacked_args([(a, W, y, Phi, 0.5, "tanh")], X.shape[0])
    kernels.fused_weight_step(X, *args, *out_a)
    kernels.fused_weight_step(X, *args, *out_b)
    for got, want in zip(out_a, out_b):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("lam", LAMS)
def test_residual_kernel_matches_reference(rng, lam):
    X, y, a, W, Phi = small_problem(rng, n=23)
    args, (Z, E, G, L) = stacked_args([(a, W, y, Phi, lam, "softplus")], X.shape[0])
    Zr, Er, _, data, reg = reference_step(X, y, a, W, Phi, lam, "softplus")
    W_, c, unit_model, codes, Y, Phi_, wd, wr = args
    kernels.residual_step(np.ascontiguousarray(Zr), c, unit_model, codes, Y, Phi_, wd, wr, E, L)
    # Same elementwise formulas from the same Z: a few ulps.
    np.testing.assert_allclose(E, Er, rtol=1e-13, atol=1e-15)
    assert L[0, 0] == pytest.approx(data, rel=1e-13)
    assert L[0, 1] == pytest.approx(reg if wr[0] else 0.0, rel=1e-13, abs=1e-300)
