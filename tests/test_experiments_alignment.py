"""Tests of alignf (centered kernel alignment) and the Nystrom embedding."""

import numpy as np
import pytest

from ktheory.errors import InvalidArgumentError
from ktheory.experiments.alignment import (
    alignf,
    alignf_bruteforce,
    alignf_solve,
    alignment_moments,
    center_kernel,
    centered_alignment,
    default_bandwidths,
    gaussian_kernel,
    median_distance,
    nystrom_embedding,
    psd_check,
)

EPS = np.finfo(float).eps


def _unit_rows(rng, n, d):
    X = rng.standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _labels(rng, X):
    # labels from a smooth function of the inputs, so kernels of some widths align better than others
    return np.where(X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.1, 1.0, -1.0)


def test_moments_match_dense_kernels(rng):
    X = _unit_rows(rng, 37, 5)
    y = _labels(rng, X)
    bw = default_bandwidths(median_distance(X, rng), 4)
    M, a, diag = alignment_moments(X, y, bw, block=8)  # several row blocks, last one partial
    Kc = [center_kernel(gaussian_kernel(X, X, s)) for s in bw]
    M_dense = np.array([[np.sum(A * B) for B in Kc] for A in Kc])
    a_dense = np.array([y @ A @ y for A in Kc])
    # both sides sum n^2 products of entries <= 1: rounding of order n^2 eps relative to ||M||
    tol = 37**2 * EPS * np.abs(M_dense).max() * 10
    assert np.abs(M - M_dense).max() <= tol
    assert np.abs(a - a_dense).max() <= tol
    assert np.array_equal(diag, np.diag(M))


def test_qp_solver_matches_bruteforce(rng):
    # random PSD problems where the unconstrained minimiser has negative entries, so constraints bind
    for trial in range(20):
        P = 5
        G = rng.standard_normal((8, P))
        M = G.T @ G
        a = G.T @ rng.standard_normal(8)
        v = alignf_solve(M, a)
        v_bf = alignf_bruteforce(M, a)
        obj = v @ M @ v - 2 * v @ a
        obj_bf = v_bf @ M @ v_bf - 2 * v_bf @ a
        assert np.all(v >= 0)
        # objectives agree to rounding of the KKT solves: cond(M) * eps * ||a||^2 / ||M|| scale
        scale = np.linalg.cond(M) * EPS * (a @ a) / np.linalg.norm(M, 2) * 100
        assert abs(obj - obj_bf) <= scale, trial
        assert np.allclose(v, v_bf, atol=1e-8 * np.linalg.cond(M), rtol=0), trial


def test_qp_solver_singular_m(rng):
    # two identical kernels make M singular; the objective value is still the brute-force minimum
    G = rng.standard_normal((10, 3))
    G = np.column_stack([G, G[:, 0]])
    M = G.T @ G
    a = G.T @ rng.standard_normal(10)
    v = alignf_solve(M, a)
    v_bf = alignf_bruteforce(M, a)
    obj = v @ M @ v - 2 * v @ a
    obj_bf = v_bf @ M @ v_bf - 2 * v_bf @ a
    # eigen cut-off at 100 P eps ||M|| bounds the error of the range factor
    assert obj <= obj_bf + 1e-10 * np.linalg.norm(M, 2)


def test_alignf_alignment_beats_each_base_kernel(rng):
    X = _unit_rows(rng, 60, 4)
    y = _labels(rng, X)
    bw = default_bandwidths(median_distance(X, rng), 7)
    res = alignf(X, y, bw, block=16)
    K = sum(w * gaussian_kernel(X, X, s) for w, s in zip(res.mu, bw))
    assert res.alignment == pytest.approx(centered_alignment(K, np.outer(y, y)), rel=1e-10)
    base = [centered_alignment(gaussian_kernel(X, X, s), np.outer(y, y)) for s in bw]
    assert np.allclose(res.base_alignment, base, rtol=1e-10)
    # alignf maximises the alignment over non-negative combinations, which include every base kernel;
    # 1e-9 allows for the NNLS stopping tolerance
    assert res.alignment >= max(base) - 1e-9
    assert np.linalg.norm(res.mu) == pytest.approx(1.0, rel=1e-14)


def test_gaussian_kernels_psd(rng):
    X = _unit_rows(rng, 50, 3)
    for s in default_bandwidths(median_distance(X, rng), 7):
        out = psd_check(X, s, rng)
        assert out["psd"], out
        assert out["rows"] == 50
    sub = psd_check(X, 1.0, rng, psd_rows=20)
    assert sub["rows"] == 20


def test_psd_check_detects_negative_eigenvalue(rng, monkeypatch):
    # a non-PSD "kernel" (a symmetric matrix with a negative eigenvalue) must fail the check
    import ktheory.experiments.alignment as al

    monkeypatch.setattr(al, "gaussian_kernel", lambda A, B, s: np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert not al.psd_check(np.zeros((2, 3)), 1.0, rng)["psd"]


def test_nystrom_full_rank_reproduces_kernel(rng):
    X = _unit_rows(rng, 30, 6)
    bw = np.array([0.5, 1.0, 2.0])
    mu = np.array([0.2, 0.7, 0.1])
    mu /= np.linalg.norm(mu)
    emb = nystrom_embedding(X, mu, bw, landmarks=30, rng=rng, rcond=0.0)
    K = sum(w * gaussian_kernel(X, X, s) for w, s in zip(mu, bw))
    Z = emb.transform(X, normalize=False)
    assert emb.rank == 30
    # Z Z^T = K W^{-1} K with W = K at full rank: error ~ cond(K) * eps * ||K||
    tol = np.linalg.cond(K) * EPS * np.linalg.norm(K, 2) * 30
    assert np.abs(Z @ Z.T - K).max() <= tol
    Zn = emb.transform(X)
    assert np.allclose(np.linalg.norm(Zn, axis=1), 1.0, atol=1e-14)


def test_nystrom_low_rank_landmarks_exact_on_landmarks(rng):
    X = _unit_rows(rng, 40, 6)
    emb = nystrom_embedding(X, np.array([1.0]), np.array([1.0]), landmarks=10, rng=rng)
    Z = emb.transform(X[emb.landmarks], normalize=False)
    K = gaussian_kernel(X[emb.landmarks], X[emb.landmarks], 1.0)
    # on the landmarks the Nystrom approximation is exact; rounding ~ cond(W) * eps
    assert np.abs(Z @ Z.T - K).max() <= np.linalg.cond(K) * EPS * 100


def test_bad_arguments_raise(rng):
    X = _unit_rows(rng, 5, 2)
    with pytest.raises(InvalidArgumentError, match="landmarks"):
        nystrom_embedding(X, np.array([1.0]), np.array([1.0]), landmarks=6, rng=rng)
    with pytest.raises(InvalidArgumentError, match="bandwidths"):
        alignment_moments(X, np.ones(5), [1.0, -1.0])
    with pytest.raises(InvalidArgumentError, match="2\\^P"):
        alignf_bruteforce(np.eye(17), np.ones(17))
