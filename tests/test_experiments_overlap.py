"""Tests of the overlap between hidden-output columns and top kernel eigenvectors."""

import numpy as np
import pytest

from ktheory.errors import InvalidArgumentError
from ktheory.experiments import overlap as ov
from ktheory.ntk import relu_expected_kernel


def test_overlap_known_answer():
    # eigenvectors e_1, e_2 of a diagonal kernel; column (3, 4, 0, 0) normalises to (0.6, 0.8, 0, 0)
    K = np.diag([5.0, 4.0, 1.0, 0.5])
    vals, U = ov.top_eigenvectors(K, 2)
    assert np.allclose(vals, [5.0, 4.0])
    Phi = np.array([[3.0, 0.0, 0.0], [-4.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    res = ov.column_overlaps(Phi, U)
    # column 0: (|0.6| + |-0.8|) / 2 = 0.7; column 2 lies along e_3: overlap 0; column 1 is dead
    assert res.overlap == pytest.approx([0.7, 0.0], abs=1e-15)
    assert list(res.columns) == [0, 2]
    assert res.dead_columns == 1
    assert res.top_k == 2


def test_overlap_bounded_by_cauchy_schwarz(rng):
    X = rng.standard_normal((60, 8))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    K = relu_expected_kernel(X)
    _, U = ov.top_eigenvectors(K, 5)
    Phi = np.maximum(rng.standard_normal((60, 30)), 0)
    res = ov.column_overlaps(Phi, U)
    # mean of 5 |cosines| with orthonormal directions is at most 1/sqrt(5); 1e-15 is rounding
    assert np.all(res.overlap <= 1 / np.sqrt(5) + 1e-15)
    # a column equal to the top eigenvector overlaps 1/K exactly
    assert ov.column_overlaps(U[:, :1], U).overlap[0] == pytest.approx(1 / 5, abs=1e-15)


def test_lanczos_matches_dense(rng, monkeypatch):
    A = rng.standard_normal((80, 80))
    K = A @ A.T
    vals_d, vecs_d = ov.top_eigenvectors(K, 4)
    monkeypatch.setattr(ov, "DENSE_EIGEN_ROWS", 10)
    vals_l, vecs_l = ov.top_eigenvectors(K, 4)
    # both solvers converge to eigenvalue residuals ~ n eps ||K||
    assert np.allclose(vals_d, vals_l, rtol=1e-10)
    assert np.allclose(np.abs(vecs_d.T @ vecs_l), np.eye(4), atol=1e-8)


def test_overlap_bad_shapes():
    with pytest.raises(InvalidArgumentError, match="rows"):
        ov.column_overlaps(np.ones((4, 2)), np.ones((5, 1)))
    with pytest.raises(InvalidArgumentError, match="count"):
        ov.top_eigenvectors(np.eye(3), 4)
