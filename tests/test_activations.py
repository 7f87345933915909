"""Activations: derivatives against finite differences, Lipschitz constants against a dense grid."""

import numpy as np
import pytest

from ktheory.activations import ACTIVATIONS, Activation, activation_names, get_activation
from ktheory.errors import InvalidArgumentError

NAMES = activation_names()
STEP = 1e-5  # central-difference step: truncation h^2 |f'''| / 6 ~ 1e-11, rounding eps |f| / h ~ 1e-11 |f|
GRID = np.linspace(-20.0, 20.0, 400001)  # spacing 1e-4 for the sup-norm checks


def _fd(f, z):
    return (f(z + STEP) - f(z - STEP)) / (2 * STEP)


@pytest.mark.parametrize("name", NAMES)
def test_first_derivative_matches_fd(name):
    act = get_activation(name)
    z = np.linspace(-6.0, 6.0, 241) + 0.013  # offset keeps ReLU's kink at 0 away from the stencil
    # Tolerance: truncation plus rounding of the stencil above, with a factor 100 of margin.
    tol = 1e-9 * (1.0 + np.abs(act.sigma(z)))
    assert np.all(np.abs(act.dsigma(z) - _fd(act.sigma, z)) <= tol)


@pytest.mark.parametrize("name", NAMES)
def test_second_derivative_matches_fd(name):
    act = get_activation(name)
    z = np.linspace(-6.0, 6.0, 241) + 0.013
    tol = 1e-9 * (1.0 + np.abs(act.dsigma(z)))
    assert np.all(np.abs(act.d2sigma(z) - _fd(act.dsigma, z)) <= tol)


@pytest.mark.parametrize("name", NAMES)
def test_lipschitz_sigma_is_grid_sup(name):
    act = get_activation(name)
    grid_max = np.abs(act.dsigma(GRID)).max()
    # The sup is at an interior critical point (error <= spacing^2 sup|f''| / 8 ~ 1e-9) or the limit
    # at infinity (softplus: 1 - sigmoid(-20) ~ 2e-9 short of 1); 1e-8 covers both.
    assert act.lipschitz_sigma is not None
    assert grid_max <= act.lipschitz_sigma + 1e-12
    assert grid_max >= act.lipschitz_sigma - 1e-8


@pytest.mark.parametrize("name", [n for n in NAMES if n != "relu"])
def test_lipschitz_dsigma_is_grid_sup(name):
    act = get_activation(name)
    grid_max = np.abs(act.d2sigma(GRID)).max()
    assert grid_max <= act.lipschitz_dsigma + 1e-12
    assert grid_max >= act.lipschitz_dsigma - 1e-8
    assert act.lipschitz == max(act.lipschitz_sigma, act.lipschitz_dsigma)


def test_relu_derivative_not_lipschitz():
    relu = get_activation("relu")
    assert relu.lipschitz_dsigma is None
    assert relu.lipschitz is None
    assert relu.dsigma(np.array([0.0]))[0] == 0.0  # the convention at the kink
    np.testing.assert_array_equal(relu.d2sigma(np.array([-1.0, 0.0, 2.0])), 0.0)


def test_lookup_by_name_and_object():
    tanh = get_activation("TANH")
    assert tanh.name == "tanh"
    assert get_activation(tanh) is tanh
    assert isinstance(tanh, Activation)
    assert len({act.code for act in ACTIVATIONS.values()}) == len(ACTIVATIONS)
    assert NAMES == ["relu", "sigmoid", "tanh", "softplus", "erf", "gelu"]


@pytest.mark.parametrize("bad", ["swish", "", None, 3])
def test_unknown_activation_lists_names(bad):
    with pytest.raises(InvalidArgumentError) as info:
        get_activation(bad)
    message = str(info.value)
    assert "relu, sigmoid, tanh, softplus, erf, gelu" in message
    assert repr(bad) in message


@pytest.mark.parametrize("name", NAMES)
def test_large_arguments_finite(name):
    act = get_activation(name)
    z = np.array([-800.0, -40.0, 40.0, 800.0])
    # Underflow to 0 is the correct result far in the tails, but overflow or NaN would be a bug.
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        for f in (act.sigma, act.dsigma, act.d2sigma):
            assert np.all(np.isfinite(f(z)))
