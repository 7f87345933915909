"""Tests of the Laplace-domain solution, its residue and mpmath inversions, and the final-value limit."""

import mpmath
import numpy as np
import pytest

from ktheory import gram_blocks, laplace, spectral, theory
from ktheory.errors import InvalidArgumentError
from ktheory.laplace import (
    compare_inversions,
    compare_transforms,
    delta_transform,
    delta_transform_printed,
    final_value_limit,
    invert_numerically,
    resolvent_transform,
    residue_expansion,
)

EPS = np.finfo(float).eps

# Residue and modal solutions are both float64 sums over m n <= 15 modes whose eigenvector
# condition numbers stay below about 1e2 on these problems, so each carries an error of a few
# hundred eps relative to max|delta0|; 1e-12 leaves a margin of about 10x over that.
MODAL_RTOL = 1e-12


def make_problem(m, n, d, lam, seed, activation="tanh"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((m, d))
    H = gram_blocks(X, W, activation)
    a = rng.choice([-1.0, 1.0], m)
    delta0 = rng.standard_normal((m, n))
    return H, a, lam, delta0


PROBLEMS = {
    # every H_k invertible (d > n): all poles positive
    "regular": (3, 3, 5, 0.3, 1),
    # n > d makes every H_k singular: zero poles
    "singular": (3, 4, 2, 0.3, 2),
    # lambda = 0: (m - 1) n zero poles
    "lambda-zero": (3, 3, 5, 0.0, 3),
    # ReLU units inactive on some samples: exactly zero rows of H_k
    "relu": (4, 3, 3, 0.3, 5, "relu"),
}


def modal_units(H, a, lam, delta0, times):
    m, n = delta0.shape
    basis = spectral.eigen_decomposition(H, a, lam)
    return spectral.modal_solution(basis, delta0.reshape(-1), times).reshape(len(times), m, n)


# ---------------------------------------------------------------------------------------------
# Transform pairs with closed forms
# ---------------------------------------------------------------------------------------------

def test_scalar_transform_is_one_pole():
    # m = n = 1, c = 1: delta' = -h (1 + lam) delta, so Delta(s) = delta0 / (s + p), p = h (1 + lam).
    h, lam, d0 = 2.5, 0.4, 1.75
    p = h * (1 + lam)
    for s in [0.3, 1.0 + 2.0j, -1.0 + 0.5j, 10.0]:
        Delta, units = delta_transform([[[h]]], [1.0], lam, [[d0]], s)
        expected = d0 / (s + p)
        # one 1 x 1 solve and one scalar division: a few eps relative
        assert abs(Delta[0] - expected) <= 8 * EPS * abs(expected)
        assert abs(units[0, 0] - expected) <= 8 * EPS * abs(expected)


def test_diagonal_transform_pairs_each_sample():
    # m = 1, diagonal H: each sample is its own pole p_i = h_i (1 + lam) with weight delta0_i.
    h = np.array([0.5, 3.0])
    lam = 0.2
    d0 = np.array([[1.0, -2.0]])
    H = np.diag(h)[None]
    p = h * (1 + lam)
    s = 0.7 + 1.1j
    Delta, _ = delta_transform(H, [1.0], lam, d0, s)
    np.testing.assert_allclose(Delta, d0[0] / (s + p), rtol=16 * EPS)
    expansion = residue_expansion(H, [1.0], lam, d0)
    np.testing.assert_allclose(expansion.poles, np.sort(p), rtol=16 * EPS)
    # residue of delta0_i / (s + p_i) is delta0_i e_i; trapezoidal error 2^-64, rounding ~eps
    np.testing.assert_allclose(expansion.weights, np.diag(d0[0])[np.argsort(p)], atol=64 * EPS)


@pytest.mark.parametrize("method", ["talbot", "dehoog", "cohen"])
def test_mpmath_inverts_exponential(method):
    # L^{-1}[1 / (s + p)] = exp(-p t); the transform is evaluated at 30 digits, so the inversion
    # error is mpmath's (documented below 1e-25 at dps 30) plus rounding to float64.
    h, lam = 2.0, 0.5
    p = h * (1 + lam)
    times = np.array([0.1, 1.0, 4.0])
    values = invert_numerically([[[h]]], [1.0], lam, [[1.0]], times, method=method, dps=30)
    np.testing.assert_allclose(values[:, 0], np.exp(-p * times), rtol=4 * EPS, atol=1e-300)


# ---------------------------------------------------------------------------------------------
# The three transform routes
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_derived_transform_matches_resolvent(name):
    H, a, lam, delta0 = make_problem(*PROBLEMS[name])
    rng = np.random.default_rng(7)
    for s in 0.2 + rng.standard_normal(4) + 1j * rng.standard_normal(4):
        Delta, units = delta_transform(H, a, lam, delta0, s)
        Delta_r, units_r = resolvent_transform(H, a, lam, delta0, s)
        m, n = delta0.shape
        Hbar = spectral.block_matrix(H, a, lam)
        cond = np.linalg.cond(s * np.eye(m * n) + Hbar)
        scale = np.abs(units_r).max()
        # two backward-stable solves of the same system: difference below eps * cond * scale
        assert np.abs(units - units_r).max() <= 10 * m * n * EPS * cond * scale
        assert np.abs(Delta - Delta_r).max() <= 10 * m * n * EPS * cond * scale


def test_printed_transform_equals_derived_when_all_weights_one():
    H, _, lam, delta0 = make_problem(*PROBLEMS["regular"])
    m = H.shape[0]
    a = np.full(m, np.sqrt(m))  # c_k = 1
    s = 0.4 + 0.3j
    D1, U1 = delta_transform(H, a, lam, delta0, s)
    D2, U2 = delta_transform_printed(H, a, lam, delta0, s)
    # identical arithmetic apart from multiplying by c_k = 1.0 exactly
    np.testing.assert_allclose(D2, D1, rtol=4 * EPS)
    np.testing.assert_allclose(U2, U1, rtol=4 * EPS, atol=4 * EPS * np.abs(U1).max())


def test_printed_transform_differs_without_unit_weights():
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    s = 0.4 + 0.3j
    D1, _ = delta_transform(H, a, lam, delta0, s)
    D2, _ = delta_transform_printed(H, a, lam, delta0, s)
    # c_k = +-1/sqrt(3) here: the printed sum weights delta_k(0) by 1 instead of c_k, an O(1)
    # relative change, far above rounding
    assert np.linalg.norm(D2 - D1) > 0.1 * np.linalg.norm(D1)


def test_compare_transforms_reports_printed_discrepancy():
    H, a, lam, delta0 = make_problem(*PROBLEMS["singular"])
    m, n = delta0.shape
    report = compare_transforms(H, a, lam, delta0, [0.5, 1.0 + 1.0j, 3.0j])
    # derived form and full system: backward-stable solves, eps times the condition number
    assert np.all(report["derived_error"] <= 10 * m * n * EPS * report["condition"])
    # printed form: weights 1 instead of c_k = +-1/sqrt(3), an O(1) relative change
    assert np.all(report["printed_error"] > 0.1)


# ---------------------------------------------------------------------------------------------
# Residue inversion against the modal solution
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_residue_inversion_matches_modal_solution(name):
    H, a, lam, delta0 = make_problem(*PROBLEMS[name])
    m, n = delta0.shape
    c = a / np.sqrt(m)
    times = np.array([0.0, 0.3, 3.0, 30.0, 300.0])
    expansion = residue_expansion(H, a, lam, delta0)
    eta = modal_units(H, a, lam, delta0, times)
    scale = np.abs(delta0).max()
    assert np.abs(expansion.units(times) - eta).max() <= MODAL_RTOL * scale
    assert np.abs(expansion.delta(times) - np.einsum("k,tkn->tn", c, eta)).max() <= MODAL_RTOL * scale
    # residues of a transform of a real signal at real poles are real; the imaginary parts the
    # contour produces are rounding, below eps times the largest value on the circle
    assert expansion.info["max_imaginary_part"] <= MODAL_RTOL * scale


def test_residue_inversion_reproduces_initial_value():
    # delta(0) = sum of all residues: an identity independent of the eigensolver
    H, a, lam, delta0 = make_problem(*PROBLEMS["singular"])
    expansion = residue_expansion(H, a, lam, delta0)
    np.testing.assert_allclose(expansion.units([0.0])[0], delta0, atol=MODAL_RTOL * np.abs(delta0).max())


def test_residue_inversion_of_printed_transform_is_wrong():
    # The printed transform inverts to a signal whose initial value is sum_k delta_k(0), not
    # delta(0) = sum_k c_k delta_k(0).
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    m = H.shape[0]
    printed = residue_expansion(H, a, lam, delta0, printed=True)
    np.testing.assert_allclose(printed.delta([0.0])[0], delta0.sum(axis=0), atol=MODAL_RTOL * np.abs(delta0).sum())
    c = a / np.sqrt(m)
    assert np.abs(printed.delta([0.0])[0] - c @ delta0).max() > 0.1


def test_residue_quadrature_error_estimate_is_small():
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    expansion = residue_expansion(H, a, lam, delta0)
    # the N/2 = 32-node rule converges like 2^-32 = 2.3e-10; allow 10x for rounding
    assert expansion.quadrature_error.max() <= 10 * 2.0 ** -32


# ---------------------------------------------------------------------------------------------
# mpmath inversion
# ---------------------------------------------------------------------------------------------

def test_mpmath_methods_agree_with_residue_form():
    H, a, lam, delta0 = make_problem(*PROBLEMS["singular"])
    report = compare_inversions(H, a, lam, delta0, [0.5, 5.0], dps=15)
    for method in ("talbot", "dehoog", "cohen"):
        # mpmath works at >= 20 digits on an exact-arithmetic transform, so the difference is the
        # float64 rounding of the residue form (see MODAL_RTOL)
        assert report[method]["relative_error"].max() <= MODAL_RTOL, method


def test_mpmath_inversion_of_units_matches_modal():
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    times = np.array([1.0])
    _, units = invert_numerically(H, a, lam, delta0, times, method="talbot", dps=15, units=True)
    eta = modal_units(H, a, lam, delta0, times)
    assert np.abs(units - eta).max() <= MODAL_RTOL * np.abs(delta0).max()


def test_mpmath_precision_unchanged_after_inversion():
    before = mpmath.mp.prec
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    invert_numerically(H, a, lam, delta0, [1.0], method="cohen", dps=25)
    assert mpmath.mp.prec == before


def test_mpmath_precision_restored_after_transform_raises(monkeypatch):
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    before = mpmath.mp.prec
    calls = {"count": 0}
    original = laplace._MpTransform.__call__

    def failing(self, s):
        calls["count"] += 1
        if calls["count"] == 3:
            raise ZeroDivisionError("injected failure inside the transform")
        return original(self, s)

    monkeypatch.setattr(laplace._MpTransform, "__call__", failing)
    for method in ("talbot", "dehoog", "cohen"):
        calls["count"] = 0
        with pytest.raises(ZeroDivisionError):
            invert_numerically(H, a, lam, delta0, [1.0], method=method, dps=40)
        assert mpmath.mp.prec == before, method


# ---------------------------------------------------------------------------------------------
# Final-value theorem
# ---------------------------------------------------------------------------------------------

def final_value_inputs(name, seed=11):
    H, a, lam, _ = make_problem(*PROBLEMS[name])
    m, n = H.shape[:2]
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(n)
    Phi = rng.standard_normal((n, m))
    F0 = rng.standard_normal((m, n))
    Fp = theory.particular_equilibrium(y, Phi, a, lam)
    basis = spectral.eigen_decomposition(H, a, lam)
    return H, a, lam, y, Phi, F0, Fp, basis


def test_final_value_theorem_gives_equation5_when_poles_positive():
    H, a, lam, y, Phi, F0, Fp, basis = final_value_inputs("regular")
    assert basis.zero_count == 0
    f5 = theory.final_value(y, Phi, a, lam)
    f64, _, err = final_value_limit(H, a, lam, F0 - Fp, Fp)
    # Richardson from s = p_min eps^(1/3): truncation (s/p_min)^2 ~ 4e-11 and rounding
    # eps / (s/p_min) ~ 4e-11, times the transform's size (|F0 - Fp| <= 10): 1e-8 bounds both
    assert np.abs(f64 - f5).max() <= 1e-8
    assert err <= 1e-3  # the one-point estimate is O(s / p_min) = O(eps^(1/3))
    fhp, _, _ = final_value_limit(H, a, lam, F0 - Fp, Fp, dps=50)
    # at 50 digits only the float64 rounding of eq. (5) itself remains
    assert np.abs(fhp - f5).max() <= 64 * EPS * max(np.abs(f5).max(), 1.0)


def test_final_value_theorem_gives_kernel_limit_with_zero_poles():
    H, a, lam, y, Phi, F0, Fp, basis = final_value_inputs("singular")
    assert basis.zero_count > 0
    _, f_exact = theory.kernel_regime_limit(basis, F0, y, Phi, a, lam)
    f5 = theory.final_value(y, Phi, a, lam)
    f64, _, _ = final_value_limit(H, a, lam, F0 - Fp, Fp)
    fhp, _, _ = final_value_limit(H, a, lam, F0 - Fp, Fp, dps=50)
    # float64 tolerance as in the positive-pole case, with the singular H_k adding a factor
    # cond(C) ~ 10 to the rounding term
    assert np.abs(f64 - f_exact).max() <= 1e-7
    assert np.abs(fhp - f_exact).max() <= 1e-12  # float64 modal projector P_0 limits this one
    # the zero eigenspace keeps part of delta(0): eq. (5) is not the limit here
    assert np.abs(fhp - f5).max() > 1e-3


def test_final_value_mpmath_leaves_precision():
    H, a, lam, y, Phi, F0, Fp, basis = final_value_inputs("regular")
    before = mpmath.mp.prec
    final_value_limit(H, a, lam, F0 - Fp, Fp, dps=40)
    assert mpmath.mp.prec == before


# ---------------------------------------------------------------------------------------------
# Invalid input
# ---------------------------------------------------------------------------------------------

def test_transform_rejects_singular_point():
    H = np.diag([1.0, 0.0])[None]
    with pytest.raises(InvalidArgumentError, match="singular"):
        delta_transform(H, [1.0], 0.5, [[1.0, 1.0]], 0.0)


def test_transform_rejects_wrong_delta0_shape():
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    with pytest.raises(InvalidArgumentError, match="delta0"):
        delta_transform(H, a, lam, delta0[:, :-1], 1.0)


def test_transform_rejects_array_s():
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    with pytest.raises(InvalidArgumentError, match="scalar"):
        delta_transform(H, a, lam, delta0, [1.0, 2.0])


def test_inversion_rejects_nonpositive_time_and_unknown_method():
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    with pytest.raises(InvalidArgumentError, match="times"):
        invert_numerically(H, a, lam, delta0, [0.0])
    with pytest.raises(InvalidArgumentError, match="method"):
        invert_numerically(H, a, lam, delta0, [1.0], method="stehfest")


def test_residue_expansion_rejects_negative_poles_and_odd_nodes():
    H, a, lam, delta0 = make_problem(*PROBLEMS["regular"])
    with pytest.raises(InvalidArgumentError, match="poles"):
        residue_expansion(H, a, lam, delta0, poles=[-1.0])
    with pytest.raises(InvalidArgumentError, match="nodes"):
        residue_expansion(H, a, lam, delta0, nodes=31)


@pytest.mark.slow
def test_mpmath_methods_at_high_precision_on_larger_problem():
    H, a, lam, delta0 = make_problem(4, 4, 3, 0.05, 21)
    report = compare_inversions(H, a, lam, delta0, [0.1, 1.0, 10.0, 100.0], dps=40)
    for method in ("talbot", "dehoog", "cohen"):
        assert report[method]["relative_error"].max() <= MODAL_RTOL, method
