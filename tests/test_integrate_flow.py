"""Gradient flow against GD at small step, and the kernel-regime predictions against dense formulas."""

import numpy as np
import pytest
import scipy.linalg as sla

from ktheory import block_matrix, gram_blocks, init_params
from ktheory.integrate import gradient_descent, gradient_flow, kernel_change, kernel_regime_comparison
from ktheory.integrate import kernel_regime, linearised_prediction
from ktheory.theory import particular_equilibrium


def problem(rng, n=12, d=20, m=4, kappa=0.5):
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.choice([-1.0, 1.0], size=n)
    a, W0 = init_params(rng, m, d, kappa)
    Phi = 0.3 * rng.standard_normal((n, m))
    return X, y, a, W0, Phi


@pytest.mark.parametrize("lam", [0.0, 0.5, np.inf])
def test_gd_converges_to_flow_at_first_order(rng, lam):
    X, y, a, W0, Phi = problem(rng)
    T = 2.0
    flow = gradient_flow(X, y, a, W0, Phi, lam, "tanh", [0.0, T], rtol=1e-12, atol=1e-14)
    assert flow.status == "ok"
    errors = []
    for N in [100, 200, 400]:
        gd = gradient_descent(X, y, a, W0, Phi, lam, "tanh", T / N, N, record_every=N)
        assert gd.history["time"][-1] == pytest.approx(T, rel=1e-15)
        errors.append(np.linalg.norm(gd.history["f_train"][-1] - flow.history["f_train"][-1]))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    # Euler's global error is C eta + O(eta^2): halving eta halves it up to O(eta) = O(1e-2);
    # the flow's own error (rtol 1e-12) is far below the smallest GD error.
    assert errors[-1] > 1e3 * 1e-12 * np.linalg.norm(flow.history["f_train"][-1])
    np.testing.assert_allclose(ratios, 2.0, atol=0.1)


def test_flow_forms_agree(rng):
    X, y, a, W0, Phi = problem(rng)
    times = [0.0, 0.5, 1.5]
    fw = gradient_flow(X, y, a, W0, Phi, 0.3, "gelu", times, rtol=1e-11, atol=1e-13, form="weight")
    fk = gradient_flow(X, y, a, W0, Phi, 0.3, "gelu", times, rtol=1e-11, atol=1e-13, form="kernel")
    np.testing.assert_array_equal(fw.history["time"], times)
    # Two integrations of the same ODE in different coordinates, each to rtol 1e-11 per step.
    np.testing.assert_allclose(fw.history["f_train"], fk.history["f_train"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(fw.W, fk.W, rtol=0, atol=1e-8)


def test_flow_stiff_method_agrees(rng):
    X, y, a, W0, Phi = problem(rng, n=6, d=8, m=2)
    times = [0.0, 1.0]
    ref = gradient_flow(X, y, a, W0, Phi, 0.3, "tanh", times, rtol=1e-11, atol=1e-13)
    lsoda = gradient_flow(X, y, a, W0, Phi, 0.3, "tanh", times, rtol=1e-9, atol=1e-11, method="LSODA")
    # LSODA at rtol 1e-9 against DOP853 at 1e-11: the looser tolerance dominates.
    np.testing.assert_allclose(lsoda.history["f_train"], ref.history["f_train"], rtol=0, atol=1e-6)


def dense_features(X, y, a, W0, Phi, lam, times):
    H = gram_blocks(X, W0, "tanh")
    m, n = W0.shape[0], X.shape[0]
    F0 = np.tanh(X @ W0.T).T
    if np.isinf(lam):
        Hbar = sla.block_diag(*H)
        Fp = Phi.T
    else:
        Hbar = block_matrix(H, a, lam)
        Fp = particular_equilibrium(y, Phi, a, lam)
    return Hbar, Fp, F0, m, n


@pytest.mark.parametrize("lam", [0.0, 0.7, np.inf])
def test_linearised_prediction_matches_expm(rng, lam):
    X, y, a, W0, Phi = problem(rng)
    times = np.array([0.0, 0.3, 2.0])
    Hbar, Fp, F0, m, n = dense_features(X, y, a, W0, Phi, lam, times)
    F, f = linearised_prediction(X, y, a, W0, Phi, lam, "tanh", times=times)
    for t, Ft in zip(times, F):
        want = Fp + (sla.expm(-t * Hbar) @ (F0 - Fp).reshape(-1)).reshape(m, n)
        # Modal sum versus Pade expm of a matrix with ||Hbar t|| = O(10): ~1e-12 absolute.
        np.testing.assert_allclose(Ft, want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(f, np.einsum("k,tkn->tn", a / np.sqrt(len(a)), F), rtol=1e-14)


@pytest.mark.parametrize("lam", [0.0, 0.7, np.inf])
def test_discrete_prediction_matches_linear_loop(rng, lam):
    X, y, a, W0, Phi = problem(rng)
    step, iterations = 0.05, [0, 1, 7, 30]
    Hbar, Fp, F0, m, n = dense_features(X, y, a, W0, Phi, lam, None)
    F, _ = linearised_prediction(X, y, a, W0, Phi, lam, "tanh", iterations=iterations, step=step)
    eta = (F0 - Fp).reshape(-1)
    for r in range(max(iterations) + 1):
        if r in iterations:
            # (1 - step p)^r per mode against r matrix-vector products: rounding only.
            np.testing.assert_allclose(F[iterations.index(r)], Fp + eta.reshape(m, n), rtol=0, atol=1e-11)
        eta = eta - step * (Hbar @ eta)


def test_first_gd_step_matches_linearisation_to_second_order(rng):
    X, y, a, W0, Phi = problem(rng)
    ratios = []
    for step in [0.02, 0.01]:
        gd = gradient_descent(X, y, a, W0, Phi, 0.5, "tanh", step, 1, record_every=1)
        cmp = kernel_regime_comparison(gd, X, y, a, Phi)
        assert cmp["distance_discrete"][0] < 1e-12
        ratios.append(cmp["distance_discrete"][1] / cmp["movement"][1])
    # One GD step differs from linearised GD by O(step^2) while f moves O(step): the ratio halves.
    assert ratios[0] / ratios[1] == pytest.approx(2.0, rel=0.05)


def test_kernel_change_operator_path_matches_dense(rng, monkeypatch):
    X, y, a, W0, Phi = problem(rng, n=15, d=10, m=3, kappa=1.0)
    W = W0 + 0.3 * rng.standard_normal(W0.shape)
    dense = kernel_change(X, W, W0, "tanh")
    monkeypatch.setattr(kernel_regime, "KERNEL_DENSE_MAX_N", 0)
    operator = kernel_change(X, W, W0, "tanh")
    H0, H1 = gram_blocks(X, W0, "tanh"), gram_blocks(X, W, "tanh")
    direct = np.array([np.abs(np.linalg.eigvalsh(H1[k] - H0[k])).max() for k in range(3)])
    # Lanczos at tol 1e-10 and eigvalsh of a 15 x 15 matrix.
    np.testing.assert_allclose(dense, direct, rtol=1e-9)
    np.testing.assert_allclose(operator, direct, rtol=1e-9)
