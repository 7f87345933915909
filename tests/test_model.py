"""Two-layer network: forward pass, hidden features, Jacobian columns and initialisation."""

import numpy as np
import pytest

from ktheory.activations import activation_names, get_activation
from ktheory.errors import InvalidArgumentError
from ktheory.model import (KAPPA_PAPER, forward, hidden_features, init_params, jacobian_columns,
                           output_weights)


@pytest.mark.parametrize("name", activation_names())
def test_forward_matches_loop(name, rng):
    X = rng.standard_normal((7, 4))
    a, W = init_params(rng, 5, 4, kappa=0.7)
    act = get_activation(name)
    expected = [sum(a[k] / np.sqrt(5) * act.sigma(W[k] @ X[i]) for k in range(5)) for i in range(7)]
    # Same sums in a different order: rounding of a sum of 5 terms of size O(1).
    np.testing.assert_allclose(forward(X, W, a, name), expected, rtol=0, atol=1e-14)
    F = hidden_features(X, W, name)
    assert F.shape == (7, 5)
    np.testing.assert_allclose(F @ output_weights(a), expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", [n for n in activation_names() if n != "relu"])
def test_jacobian_matches_fd(name, rng):
    X = rng.standard_normal((6, 3))
    _, W = init_params(rng, 2, 3, kappa=0.5)
    L = jacobian_columns(X, W, name)
    assert L.shape == (2, 3, 6)
    step = 1e-6
    for k in range(2):
        for j in range(3):
            Wp, Wm = W.copy(), W.copy()
            Wp[k, j] += step
            Wm[k, j] -= step
            fd = (hidden_features(X, Wp, name)[:, k] - hidden_features(X, Wm, name)[:, k]) / (2 * step)
            # Central difference: h^2 |x|^3 sup|sigma'''| / 6 + eps / h, below 1e-8 for |x| < 5.
            np.testing.assert_allclose(L[k, j], fd, rtol=0, atol=1e-8)


def test_jacobian_relu_is_indicator(rng):
    X = rng.standard_normal((6, 3))
    _, W = init_params(rng, 2, 3, kappa=1.0)
    L = jacobian_columns(X, W, "relu")
    active = (X @ W.T > 0).T  # (m, n)
    np.testing.assert_array_equal(L, np.where(active[:, None, :], X.T[None], 0.0))


def test_init_params_distribution():
    rng = np.random.default_rng(11)
    a, W = init_params(rng, 400, 50)
    assert a.shape == (400,)
    assert W.shape == (400, 50)
    assert set(np.unique(a)) == {-1.0, 1.0}
    # Sample std of 20000 normals: relative standard error 1/sqrt(2 * 20000) = 0.5%; allow 5 sigma.
    assert abs(W.std() / KAPPA_PAPER - 1.0) < 0.025
    # Mean of 400 fair signs: standard error 0.05; allow 5 sigma.
    assert abs(a.mean()) < 0.25


def test_init_params_reproducible():
    a1, W1 = init_params(np.random.default_rng(3), 4, 2)
    a2, W2 = init_params(np.random.default_rng(3), 4, 2)
    np.testing.assert_array_equal(W1, W2)
    np.testing.assert_array_equal(a1, a2)


def test_model_bad_input(rng):
    X = rng.standard_normal((4, 3))
    W = rng.standard_normal((2, 3))
    with pytest.raises(InvalidArgumentError, match=r"W must have shape \(m, 3\) to match X with d = 3; got \(2, 4\)"):
        forward(X, rng.standard_normal((2, 4)), np.ones(2), "tanh")
    with pytest.raises(InvalidArgumentError, match="a must have length m = 2 .rows of W.; got length 3"):
        forward(X, W, np.ones(3), "tanh")
    bad = X.copy()
    bad[1, 2] = np.nan
    with pytest.raises(InvalidArgumentError, match="X contains 1 NaN or infinite entries"):
        forward(bad, W, np.ones(2), "tanh")
    with pytest.raises(InvalidArgumentError, match="X must be a 2-dimensional array; got shape .4,."):
        hidden_features(np.ones(4), W, "tanh")
    with pytest.raises(InvalidArgumentError, match="activation must be one of"):
        forward(X, W, np.ones(2), "swish")
    with pytest.raises(InvalidArgumentError, match="rng must be a numpy.random.Generator"):
        init_params(0, 2, 3)
    with pytest.raises(InvalidArgumentError, match="m must be a positive integer; got 0"):
        init_params(rng, 0, 3)
    with pytest.raises(InvalidArgumentError, match="kappa must be a finite number > 0; got -1"):
        init_params(rng, 2, 3, kappa=-1)
    with pytest.raises(InvalidArgumentError, match="a must have at least one entry"):
        output_weights([])
