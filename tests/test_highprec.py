"""Tests of the high-precision poles, Lemma 6.5 vectors, modal coefficients and decisions."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp

from ktheory import gram_blocks, spectral
from ktheory import symbolic
from ktheory.errors import InvalidArgumentError
from ktheory.highprec import (
    MAX_SIZE,
    compare_with_float64,
    decide_pole_bound,
    decide_pole_gap,
    decide_with_high_precision,
    decide_zero_pole_count,
    high_precision_lemma65,
    high_precision_modes,
    modal_coefficients,
)

EPS = np.finfo(float).eps


def make_problem(m, n, d, lam, seed, activation="tanh"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((m, d))
    H = gram_blocks(X, W, activation)
    a = rng.choice([-1.0, 1.0], m)
    eta0 = rng.standard_normal(m * n)
    return H, a, lam, eta0


PROBLEMS = {
    "regular": (3, 3, 5, 0.3, 1),
    "singular": (3, 4, 2, 0.3, 2),
    "lambda-zero": (3, 3, 5, 0.0, 3),
    "relu": (4, 3, 3, 0.3, 5, "relu"),
}


def min_relative_gap(values):
    v = np.sort(values[values > 0])
    return float((np.diff(v) / v[1:]).min()) if v.size > 1 else 1.0


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_float64_agrees_with_high_precision(name):
    H, a, lam, eta0 = make_problem(*PROBLEMS[name])
    m, n = H.shape[:2]
    report = compare_with_float64(H, a, lam, eta0)
    assert report["zero_count"][0] == report["zero_count"][1]
    # symmetric eigensolver: backward error ZERO_FACTOR (m n) eps ||S||, so poles agree to that
    assert report["pole_error"] <= 10 * m * n * EPS
    # eigenvector (and modal term) errors grow like eps / relative gap (Davis-Kahan)
    gap = min_relative_gap(report["high_precision_poles"])
    assert report["modal_term_error"] <= 100 * m * n * EPS / gap
    if lam > 0:
        # Lemma 6.5's float64 vectors also divide by p - lambda h, which adds the factor
        # 1 / (relative distance of the poles to the singular set lambda eig(H_k))
        dist = spectral.assumption_gaps(H, a, lam, report["high_precision_poles"])["pole_to_scaled_unit"]
        if dist == 0:
            # poles on the singular set (the ReLU problem has units with identical activation
            # patterns): Lemma 6.5 does not apply and no vectors are compared
            assert np.isnan(report["lemma65_projector_error"])
            return
        assert report["lemma65_projector_error"] <= 100 * m * n * EPS / (gap * dist)
        # at 50 digits the residual is rounding at 1e-50 times modest condition numbers
        assert report["lemma65_residual"] <= 1e-40


def test_modes_are_biorthonormal_eigenvectors():
    H, a, lam, _ = make_problem(*PROBLEMS["singular"])
    modes = high_precision_modes(H, a, lam, dps=40)
    with mpmath.mp.workdps(40):
        prob_H = spectral.block_matrix(H, a, lam)  # float64 Hbar: exact copy of the inputs
        Hbar = mpmath.matrix(prob_H.tolist())
        G = modes.left.T * modes.right
        r = len(modes.nonzero)
        bio = max(abs(G[i, j] - (1 if i == j else 0)) for i in range(r) for j in range(r))
        res = max(mpmath.norm(Hbar * modes.right[:, j] - modes.nonzero[j] * modes.right[:, j])
                  for j in range(r))
    # 40 digits; the snapped H_k differ from the float64 ones by rounding, ~eps ||H_k||, which
    # bounds the residual against the unsnapped float64 Hbar
    assert bio <= 1e-30
    assert float(res) <= 100 * EPS * np.linalg.norm(prob_H, 2)


def test_modal_coefficients_rebuild_initial_vector():
    H, a, lam, eta0 = make_problem(*PROBLEMS["regular"])
    modes = high_precision_modes(H, a, lam)
    coef = modal_coefficients(modes, eta0)
    with mpmath.mp.workdps(modes.dps):
        rebuilt = modes.right * mpmath.matrix(coef)
        err = max(abs(rebuilt[i] - eta0[i]) for i in range(eta0.size))
    # no zero poles here, so eta0 = sum_j r_j <l_j, eta0> up to 50-digit rounding
    assert modes.zero_count == 0
    assert float(err) <= 1e-40


def test_high_precision_modes_match_characteristic_polynomial():
    # dyadic rational inputs: exactly representable, so sympy, mpmath and float64 see one problem
    G = sp.Matrix([[2, 1], [1, 1]])
    H = [symbolic.gram_from_factors([1, sp.Rational(1, 2)], G),
         symbolic.gram_from_factors([sp.Rational(3, 4), 1], G)]
    c = [sp.Rational(1, 2), sp.Rational(-1, 4)]
    lam = sp.Rational(1, 8)
    roots = sorted(sp.Poly(symbolic.characteristic_polynomial(H, c, lam)).all_roots())
    H_frac = np.array([[[Fraction(int(x.p), int(x.q)) for x in Hk.row(i)] for i in range(2)] for Hk in H],
                      dtype=object)
    # a_k = c_k sqrt(m) = c_k sqrt(2): the module divides by sqrt(m) at 50 digits
    with mpmath.mp.workdps(60):
        a = [mpmath.mpf(int(ck.p)) / int(ck.q) * mpmath.sqrt(2) for ck in c]
        modes = high_precision_modes(H_frac, a, Fraction(1, 8), dps=50)
        for got, want in zip(modes.poles, roots):
            # 50 digits, and the 60-digit a_k: agreement to about 1e-45
            assert abs(got - mpmath.mpf(str(sp.N(want, 60)))) <= mpmath.mpf(10) ** -45


def test_lemma65_vectors_from_given_poles():
    H, a, lam, _ = make_problem(*PROBLEMS["singular"])
    modes = high_precision_modes(H, a, lam)
    result = high_precision_lemma65(H, a, lam, modes.nonzero)
    assert result.residual <= 1e-40
    assert result.left_residual <= 1e-40


def test_lemma65_rejects_pole_on_singular_set():
    # c_0 = 0 decouples unit 0, whose poles are lambda * eig(H_0): exactly on the singular set
    H = np.stack([np.diag([1.0, 2.0]), np.array([[2.0, 1.0], [1.0, 1.0]])])
    a = np.array([0.0, 1.0])
    with pytest.raises(InvalidArgumentError, match="singular set"):
        high_precision_lemma65(H, a, 0.5, [0.5])


def test_precision_restored_after_calls():
    before = mpmath.mp.prec
    H, a, lam, eta0 = make_problem(*PROBLEMS["regular"])
    high_precision_modes(H, a, lam, dps=60)
    compare_with_float64(H, a, lam, eta0, dps=30)
    assert mpmath.mp.prec == before


def test_size_limit_raises():
    H = np.stack([np.eye(MAX_SIZE)] * 2)
    with pytest.raises(InvalidArgumentError, match="MAX_SIZE"):
        high_precision_modes(H, [1.0, 1.0], 0.1)


# ---------------------------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------------------------

def test_decision_in_float64_does_not_call_high_precision():
    def never(dps):
        raise AssertionError("high precision must not run when float64 decides")

    decision = decide_with_high_precision(1.0, 1e-12, never)
    assert decision.outcome == "above"
    assert not decision.used_high_precision


def test_decision_falls_back_and_restores_precision():
    before = mpmath.mp.prec
    seen = {}

    def exact(dps):
        seen["dps"] = mpmath.mp.dps
        return mpmath.mpf(1) / 3 - mpmath.mpf("0.333333333333333333333"), mpmath.mpf(10) ** (5 - dps)

    decision = decide_with_high_precision(1e-17, 1e-15, exact, dps=40)
    assert seen["dps"] == 40
    assert decision.used_high_precision
    assert decision.outcome == "above"
    assert mpmath.mp.prec == before

    def failing(dps):
        raise RuntimeError("injected")

    with pytest.raises(RuntimeError):
        decide_with_high_precision(0.0, 1.0, failing, dps=80)
    assert mpmath.mp.prec == before


def test_pole_bound_decided_in_float64_when_clear():
    H, a, lam, _ = make_problem(*PROBLEMS["regular"])
    decision = decide_pole_bound(H, a, lam)
    assert decision.outcome == "above"
    assert not decision.used_high_precision


def test_pole_bound_tie_needs_high_precision():
    # c_0 = 0 and H_0 owning the smallest eigenvalue: p = lambda sigma_0 exactly, so float64's
    # margin is rounding and only high precision shows it is zero to 40 digits
    rng = np.random.default_rng(4)
    X = rng.standard_normal((3, 4))
    W = rng.standard_normal((3, 4))
    H = gram_blocks(X, W, "tanh")
    H[0] *= 1e-2
    decision = decide_pole_bound(H, np.array([0.0, 1.0, -1.0]), 0.3)
    assert decision.used_high_precision
    assert decision.outcome == "tie"
    assert "50 digits" in decision.note


def test_pole_gap_tie_for_repeated_poles():
    # H_k = I: Hbar = C kron I_2, every pole repeated twice
    H = np.stack([np.eye(2)] * 2)
    decision = decide_pole_gap(H, np.array([1.0, 0.5]), 0.3)
    assert decision.used_high_precision
    assert decision.outcome == "tie"


def test_pole_gap_distinct_poles():
    H, a, lam, _ = make_problem(*PROBLEMS["regular"])
    decision = decide_pole_gap(H, a, lam)
    assert decision.outcome == "above"


def test_zero_pole_count_clear_in_float64():
    H, a, lam, _ = make_problem(*PROBLEMS["singular"])
    count, decision = decide_zero_pole_count(H, a, lam)
    # n = 4 > d = 2: each H_k has nullity 2, so B has nullity 6 = m (n - d)
    assert count == 6
    assert not decision.used_high_precision


def test_zero_pole_count_tiny_pole_needs_high_precision():
    # H_0 has a genuine eigenvalue 1e-13, above the float64 snapping cutoff (10 n eps ||H_0||,
    # about 1.3e-14) but within ZERO_BAND of the pole zero tolerance: high precision shows the
    # resulting pole is positive
    rng = np.random.default_rng(6)
    Q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    H = np.stack([Q @ np.diag([1e-13, 1.0, 2.0]) @ Q.T, np.eye(3)])
    count, decision = decide_zero_pole_count(H, [1.0, 1.0], 0.3)
    assert decision.used_high_precision
    assert decision.outcome == "above"
    assert count == 0


def test_float64_agreement_at_100_digits_larger_problem():
    H, a, lam, eta0 = make_problem(4, 5, 3, 0.05, 8)
    report = compare_with_float64(H, a, lam, eta0, dps=100)
    gap = min_relative_gap(report["high_precision_poles"])
    assert report["pole_error"] <= 10 * 20 * EPS
    assert report["modal_term_error"] <= 100 * 20 * EPS / gap
    assert report["lemma65_residual"] <= 1e-90
