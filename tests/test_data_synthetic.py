"""Synthetic data: sphere inputs, random teachers and labels from callables."""

import numpy as np
import pytest

from ktheory.data import TeacherNetwork, random_teacher, sphere_inputs, synthetic_dataset
from ktheory.errors import InvalidArgumentError
from ktheory.model import forward


def test_sphere_inputs_unit_norm():
    X = sphere_inputs(np.random.default_rng(0), 500, 7)
    assert X.shape == (500, 7)
    # Division by the row norm leaves a few ulps of error.
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=0, atol=4e-16)


def test_sphere_inputs_uniform_moments():
    # On S^{d-1}, E[x] = 0 and E[x x^T] = I/d. With N samples each entry of the empirical mean has
    # standard deviation sqrt(1/(d N)); 5 standard deviations bound a false failure below 1e-5.
    N, d = 20000, 5
    X = sphere_inputs(np.random.default_rng(1), N, d)
    assert np.abs(X.mean(axis=0)).max() < 5 * np.sqrt(1.0 / (d * N))
    second = X.T @ X / N
    # Var(x_i^2) = 2(d-1)/(d^2 (d+2)) <= 1/d^2, and |x_i x_j| <= 1/d in mean square; 5 sigma again.
    assert np.abs(second - np.eye(d) / d).max() < 5 * np.sqrt(1.0 / (d * d * N))


def test_teacher_labels():
    rng = np.random.default_rng(2)
    data = synthetic_dataset(rng, 30, 4, teacher_width=12, activation="tanh", n_test=10)
    teacher = data.info["teacher"]
    assert isinstance(teacher, TeacherNetwork)
    assert teacher.W.shape == (12, 4)
    # Labels were computed on train and test rows at once; BLAS may block the smaller product
    # differently, so allow a few ulps of the output scale.
    np.testing.assert_allclose(data.y, forward(data.X, teacher.W, teacher.a, "tanh"), rtol=0, atol=1e-14)
    np.testing.assert_allclose(data.y_test, teacher(data.X_test), rtol=0, atol=1e-14)
    assert data.X_test.shape == (10, 4)


def test_callable_labels_and_noise():
    rng = np.random.default_rng(3)
    data = synthetic_dataset(rng, 40, 3, labels=lambda X: X[:, 0] ** 2, noise=0.0)
    np.testing.assert_array_equal(data.y, data.X[:, 0] ** 2)
    assert data.X_test is None
    noisy = synthetic_dataset(np.random.default_rng(3), 40, 3, labels=lambda X: X[:, 0] ** 2, noise=0.1)
    np.testing.assert_array_equal(noisy.X, data.X)
    assert np.abs(noisy.y - data.y).max() > 0


def test_seed_reproducible():
    one = synthetic_dataset(np.random.default_rng(4), 10, 3)
    two = synthetic_dataset(np.random.default_rng(4), 10, 3)
    np.testing.assert_array_equal(one.X, two.X)
    np.testing.assert_array_equal(one.y, two.y)


def test_random_teacher_scale():
    teacher = random_teacher(np.random.default_rng(5), 2000, 50, "relu", weight_scale=2.0)
    # Rows w_k ~ N(0, 4/d I): E||w_k||^2 = 4, so the mean over 2000 rows is 4 within a few percent.
    assert abs(np.mean(np.sum(teacher.W ** 2, axis=1)) - 4.0) < 0.1
    assert set(np.unique(teacher.a)) == {-1.0, 1.0}


def test_synthetic_bad_input():
    rng = np.random.default_rng(6)
    with pytest.raises(InvalidArgumentError, match="rng must be a numpy.random.Generator"):
        sphere_inputs(1, 3, 2)
    with pytest.raises(InvalidArgumentError, match="n must be a positive integer; got 0"):
        sphere_inputs(rng, 0, 2)
    with pytest.raises(InvalidArgumentError, match="n_test must be an integer >= 0; got -1"):
        synthetic_dataset(rng, 3, 2, n_test=-1)
    with pytest.raises(InvalidArgumentError, match="noise must be a finite number >= 0; got -0.5"):
        synthetic_dataset(rng, 3, 2, noise=-0.5)
    with pytest.raises(InvalidArgumentError, match="labels must be a TeacherNetwork or a callable"):
        synthetic_dataset(rng, 3, 2, labels=[1, 2, 3])
    with pytest.raises(InvalidArgumentError, match=r"labels\(X\) must return one value per row, 3 values"):
        synthetic_dataset(rng, 3, 2, labels=lambda X: np.zeros(2))
    with pytest.raises(InvalidArgumentError, match=r"labels\(X\) contains 3 NaN or infinite entries"):
        synthetic_dataset(rng, 3, 2, labels=lambda X: np.full(3, np.nan))
    with pytest.raises(InvalidArgumentError, match="activation must be one of relu, sigmoid"):
        random_teacher(rng, 3, 2, "swish")
