"""Tests of the theory's predictions attached to each training run, and of the data subsample."""

import numpy as np
import pytest

from ktheory import gram_blocks, network_kernel, poles
from ktheory.data import Dataset
from ktheory.errors import InvalidArgumentError
from ktheory.experiments import predictions as pr
from ktheory.experiments.scenarios import resolve_settings, subsample
from ktheory.model import init_params
from ktheory.spectral import pole_bounds

EPS = np.finfo(float).eps


def _problem(rng, n=30, d=8, m=5):
    X = np.abs(rng.standard_normal((n, d)))  # positive inputs, like images
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    a, W = init_params(rng, m, d)
    return X, a, W


def test_network_kernel_matches_blocks(rng):
    X, a, W = _problem(rng)
    H = pr.network_kernel_from_weights(X, W, a, "relu")
    ref = network_kernel(gram_blocks(X, W, "relu"), a)
    # same sums in a different order: rounding ~ m * eps * max entry
    assert np.abs(H - ref).max() <= 10 * EPS * np.abs(ref).max()


@pytest.mark.parametrize("n, d", [(30, 8), (6, 8)])  # rank limited by d, and by the active rows
def test_unit_sigma0_matches_pole_bounds(rng, n, d):
    X, a, W = _problem(rng, n=n, d=d)
    s0, per_unit = pr.unit_sigma0(X, W, "relu")
    ref = pole_bounds(gram_blocks(X, W, "relu"), a, 0.01)["sigma0"]
    # both are eigvalsh results of similar matrices: error ~ size * eps * ||H_k|| / sigma0 relative
    assert s0 == pytest.approx(ref, rel=1e-8)
    assert per_unit.shape == (W.shape[0],)


def test_smallest_pole_lambda_positive(rng):
    X, a, W = _problem(rng)
    out = pr.smallest_pole(X, W, a, 0.01, "relu", max_rows=X.shape[0])
    all_p = poles(gram_blocks(X, W, "relu"), a, 0.01)
    p_ref = all_p[all_p > 1e-10 * all_p.max()].min()
    assert out["p_min"] == pytest.approx(p_ref, rel=1e-10)  # the same eigensolver route
    # Theorem 3.3 (lower) and the Rayleigh quotient (upper) bracket p_min; 1e-10 for rounding
    assert out["bound"] <= out["p_min"] * (1 + 1e-10)
    assert out["p_min"] <= out["upper"] * (1 + 1e-10)


def test_smallest_pole_lambda_zero_and_inf(rng):
    X, a, W = _problem(rng)
    zero = pr.smallest_pole(X, W, a, 0.0, "relu")
    vals = np.linalg.eigvalsh(network_kernel(gram_blocks(X, W, "relu"), a))
    assert zero["p_min"] == pytest.approx(vals[vals > 1e-10 * vals.max()].min(), rel=1e-8)
    inf = pr.smallest_pole(X, W, a, np.inf, "relu")
    assert inf["p_min"] == inf["sigma0"]


def test_smallest_pole_subsample_is_labelled(rng):
    X, a, W = _problem(rng)
    out = pr.smallest_pole(X, W, a, 0.01, "relu", max_rows=10)
    assert out["rows"] == 10
    assert "first 10 of 30 rows" in out["p_min_rows"]


def test_fit_rate_exact_exponential():
    t = np.linspace(0, 10, 50)
    assert pr.fit_rate(t, 3 * np.exp(-0.7 * t)) == pytest.approx(0.7, rel=1e-12)
    assert np.isnan(pr.fit_rate(t[:4], np.zeros(4)))
    with pytest.raises(InvalidArgumentError, match="fraction"):
        pr.fit_rate(t, np.exp(-t), fraction=0)


def test_final_value_limits(rng):
    y = np.array([1.0, -1.0, 1.0])
    Phi = rng.random((3, 4))
    a = np.array([1.0, -1.0, 1.0, 1.0])
    assert np.array_equal(pr.final_value(y, Phi, a, 0.0), y)
    assert np.allclose(pr.final_value(y, Phi, a, np.inf), Phi @ a / 2)


def test_subsample_stratified_and_seeded(rng):
    X = rng.random((50, 3))
    y = np.where(np.arange(50) < 30, 1.0, -1.0)
    data = Dataset(X, y, X[20:40], y[20:40], {"source": "test"})
    p1 = subsample(data, 11, 8, seed=3)
    p2 = subsample(data, 11, 8, seed=3)
    assert np.array_equal(p1.X, p2.X)
    assert np.array_equal(p1.y, p2.y)
    assert (p1.y > 0).sum() == 6
    assert (p1.y < 0).sum() == 5
    assert p1.info["n_train"] == 11
    # rows are kept whole: every drawn row is a row of X with its own label
    idx = [int(np.flatnonzero((X == row).all(axis=1))[0]) for row in p1.X]
    assert np.array_equal(y[idx], p1.y)


def test_resolve_settings_rejects_unknown():
    with pytest.raises(InvalidArgumentError, match="unknown experiment setting 'iteratons'"):
        resolve_settings({"iteratons": 5})
    with pytest.raises(InvalidArgumentError, match="imperfect_iteration"):
        resolve_settings({"iterations": 10, "imperfect_iteration": 10})


def test_subsample_whole_split_shuffled(rng):
    # Sorted by class like the CIFAR-10 file, where the first rows were all of one class.
    X = rng.random((40, 3))
    y = np.where(np.arange(40) < 20, 1.0, -1.0)
    data = Dataset(X, y, X[:10], y[:10], {"source": "test"})
    p1 = subsample(data, None, None, seed=3)
    p2 = subsample(data, None, None, seed=3)
    assert np.array_equal(p1.X, p2.X)
    assert p1.X.shape == X.shape
    # every row kept once, with its own label
    idx = [int(np.flatnonzero((X == row).all(axis=1))[0]) for row in p1.X]
    assert sorted(idx) == list(range(40))
    assert np.array_equal(y[idx], p1.y)
    # The chance that the first 10 of 40 shuffled rows are all of one class is 2 C(20,10) / C(40,10) = 4.4e-4.
    assert set(p1.y[:10]) == {1.0, -1.0}
