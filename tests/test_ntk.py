"""Gram blocks H_k, the network kernel H and the expected kernel at initialisation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ktheory.activations import activation_names, get_activation
from ktheory.errors import InvalidArgumentError
from ktheory.model import init_params, jacobian_columns
from ktheory.ntk import expected_kernel, gram_blocks, network_kernel, relu_expected_kernel

EPS = np.finfo(float).eps


@st.composite
def problems(draw):
    n = draw(st.integers(1, 8))
    d = draw(st.integers(1, 6))
    m = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    kappa = draw(st.sampled_from([0.01, 0.5, 2.0]))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    a, W = init_params(rng, m, d, kappa=kappa)
    return X, W, a, draw(st.sampled_from(activation_names()))


@given(problems())
def test_blocks_psd_and_symmetric(problem):
    X, W, a, act = problem
    H = gram_blocks(X, W, act)
    n = X.shape[0]
    for Hk in H:
        np.testing.assert_array_equal(Hk, Hk.T)
        # A Gram matrix computed in floating point is psd up to its backward error, a small multiple
        # of n eps ||H_k||_2, and ||H_k||_2 <= n max |H_k[i, j]|.
        norm_bound = n * max(np.abs(Hk).max(), 1e-300)
        assert np.linalg.eigvalsh(Hk).min() >= -10 * n * EPS * norm_bound


@given(problems())
def test_blocks_equal_jacobian_products(problem):
    X, W, a, act = problem
    H = gram_blocks(X, W, act)
    L = jacobian_columns(X, W, act)
    expected = np.einsum("kdi,kdj->kij", L, L)
    scale = np.abs(X).max() ** 2 * X.shape[1] * max(get_activation(act).lipschitz_sigma, 1.0) ** 2
    # Both are sums of d products of the same numbers, in a different order.
    np.testing.assert_allclose(H, expected, rtol=0, atol=4 * X.shape[1] * EPS * scale)
    Hnet = network_kernel(H, a)
    c = a / np.sqrt(a.size)
    np.testing.assert_allclose(Hnet, sum(c[k] ** 2 * H[k] for k in range(a.size)), rtol=0,
                               atol=4 * a.size * EPS * scale)


def _unit_rows(rng, n, d):
    X = rng.standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_relu_closed_form_matches_monte_carlo():
    rng = np.random.default_rng(5)
    X = _unit_rows(rng, 5, 3)
    K = relu_expected_kernel(X)
    samples = 200000
    Wd = rng.standard_normal((samples, 3))
    D = (X @ Wd.T > 0).astype(float)  # (n, samples)
    prod = D[:, None, :] * D[None, :, :]
    mc = prod.mean(axis=2) * (X @ X.T)
    se = prod.std(axis=2, ddof=1) / np.sqrt(samples) * np.abs(X @ X.T)
    # 5 standard errors per entry: a false failure has probability below 1e-5 for 25 entries.
    assert np.all(np.abs(mc - K) <= 5 * se + 1e-15)
    np.testing.assert_allclose(np.diag(K), 0.5)  # P(w.x > 0) = 1/2 on the diagonal
    result = expected_kernel(X, "relu")
    np.testing.assert_array_equal(result.kernel, K)
    assert result.samples == 0


def _gauss_hermite_kernel(X, act, kappa, nodes=60):
    """E[sigma'(u) sigma'(v)] x_i.x_j for (u, v) ~ N(0, kappa^2 Gram) by 2-D Gauss-Hermite quadrature."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    G = X @ X.T
    n = X.shape[0]
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            cov = kappa**2 * np.array([[G[i, i], G[i, j]], [G[i, j], G[j, j]]])
            L = np.linalg.cholesky(cov + 1e-300 * np.eye(2)) if i != j else None
            if i == j:
                u = np.sqrt(cov[0, 0]) * z
                out[i, j] = np.sum(w * act.dsigma(u) ** 2) * G[i, j]
                continue
            Z1, Z2 = np.meshgrid(z, z, indexing="ij")
            u = L[0, 0] * Z1
            v = L[1, 0] * Z1 + L[1, 1] * Z2
            out[i, j] = np.sum(np.outer(w, w) * act.dsigma(u) * act.dsigma(v)) * G[i, j]
    return out


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "erf", "gelu", "softplus"])
def test_monte_carlo_kernel_matches_quadrature(name):
    rng = np.random.default_rng(7)
    X = _unit_rows(rng, 4, 3)
    kappa = 1.5  # large enough that sigma' varies over the Gaussian, so the test can fail
    result = expected_kernel(X, name, kappa=kappa, samples=40000, rng=rng)
    exact = _gauss_hermite_kernel(X, get_activation(name), kappa)
    # 5 Monte Carlo standard errors per entry, plus the quadrature error (60 nodes on smooth
    # integrands: far below 1e-10).
    assert np.all(np.abs(result.kernel - exact) <= 5 * result.standard_error + 1e-10)
    assert result.samples == 40000


def test_monte_carlo_error_scales_as_inverse_sqrt():
    X = _unit_rows(np.random.default_rng(8), 3, 3)
    small = expected_kernel(X, "tanh", kappa=1.5, samples=5000, rng=np.random.default_rng(1))
    large = expected_kernel(X, "tanh", kappa=1.5, samples=80000, rng=np.random.default_rng(2))
    ratio = large.standard_error / small.standard_error
    # 16x the samples gives 1/4 of the error; the standard errors themselves are estimates with
    # relative error about 1/sqrt(2 * 5000) = 1%, so 10% covers it.
    np.testing.assert_allclose(ratio, 0.25, rtol=0.1)


def test_ntk_bad_input(rng):
    X = _unit_rows(rng, 4, 3)
    X[2] = 0.0
    with pytest.raises(InvalidArgumentError, match="X has 1 zero rows .first at index 2.; the ReLU kernel needs nonzero"):
        relu_expected_kernel(X)
    with pytest.raises(InvalidArgumentError, match="rng is required for the Monte Carlo kernel of 'tanh'"):
        expected_kernel(_unit_rows(rng, 3, 2), "tanh")
    with pytest.raises(InvalidArgumentError, match="samples must be a positive integer; got 0"):
        expected_kernel(_unit_rows(rng, 3, 2), "tanh", samples=0, rng=rng)
    with pytest.raises(InvalidArgumentError, match=r"H must have shape \(m, n, n\) with square blocks; got \(2, 3, 4\)"):
        network_kernel(np.zeros((2, 3, 4)), np.ones(2))
    with pytest.raises(InvalidArgumentError, match="a must have length m = 2 .the number of blocks in H.; got length 3"):
        network_kernel(np.zeros((2, 3, 3)), np.ones(3))
    with pytest.raises(InvalidArgumentError, match="activation must be one of"):
        gram_blocks(X, np.ones((2, 3)), "swish")
