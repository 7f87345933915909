"""Tests of the exact sympy module against float64 routes and closed forms."""

import numpy as np
import pytest
import sympy as sp

from ktheory import laplace, spectral, symbolic, theory
from ktheory.errors import InvalidArgumentError

EPS = np.finfo(float).eps
R = sp.Rational

# Dyadic rationals are exact in float64, so the symbolic and float64 routes see the same problem;
# c_k = a_k / sqrt(m) is the one quantity rounded on the float side (a_k = c_k sqrt(2)).
G = sp.Matrix([[2, 1], [1, 1]])
H_REGULAR = [symbolic.gram_from_factors([1, R(1, 2)], G), symbolic.gram_from_factors([R(3, 4), 1], G)]
H_SINGULAR = [symbolic.gram_from_factors([1, 0], G), symbolic.gram_from_factors([R(3, 4), 1], G)]
C = [R(1, 2), R(-1, 4)]
LAM = R(1, 8)
Y = [1, -1]
PHI = [[1, 2], [0, 1]]
F0 = [[0, 0], [1, 1]]


def as_float(H, c):
    Hf = np.array([[[float(x) for x in Hk.row(i)] for i in range(Hk.rows)] for Hk in H])
    a = np.array([float(ck) for ck in c]) * np.sqrt(len(c))
    return Hf, a


def test_block_matrix_matches_float64():
    Hf, a = as_float(H_REGULAR, C)
    exact = np.array(symbolic.block_matrix(H_REGULAR, C, LAM).evalf(20).tolist(), dtype=float)
    # only c_k c_l is rounded on the float side (two roundings of a_k / sqrt(2))
    np.testing.assert_allclose(spectral.block_matrix(Hf, a, float(LAM)), exact, rtol=8 * EPS, atol=8 * EPS)


def test_transfer_matrix_matches_float64():
    Hf, a = as_float(H_REGULAR, C)
    T = symbolic.transfer_matrix(H_REGULAR, C, LAM)
    for value in [R(7, 10), R(3, 2)]:
        exact = np.array(T.subs(symbolic.s, value).evalf(20).tolist(), dtype=float)
        got = spectral.transfer_matrix(float(value), Hf, a, float(LAM))
        cond = max(np.linalg.cond(float(value) * np.eye(2) + float(LAM) * Hk) for Hk in Hf)
        np.testing.assert_allclose(got, exact, atol=16 * EPS * cond * np.abs(exact).max())


@pytest.mark.parametrize("H", [H_REGULAR, H_SINGULAR], ids=["regular", "singular"])
def test_characteristic_roots_equal_eigenvalue_routes(H):
    Hf, a = as_float(H, C)
    roots = sorted(float(sp.re(r.evalf(30))) for r, k in symbolic.poles(H, C, LAM).items() for _ in range(k))
    scale = max(roots)
    # symmetric route: backward error 10 (m n) eps ||S||
    np.testing.assert_allclose(spectral.poles(Hf, a, float(LAM)), roots, atol=40 * EPS * scale)
    nonsym, imag = spectral.nonsymmetric_poles(Hf, a, float(LAM))
    # general eigensolver: error eps ||Hbar|| times the eigenvector condition number, modest here
    np.testing.assert_allclose(nonsym, roots, atol=1e3 * EPS * scale)
    secular = spectral.secular_poles(Hf, a, float(LAM))
    if secular.missing == 0:
        np.testing.assert_allclose(secular.poles, roots, atol=1e3 * EPS * scale)


def test_all_poles_real_exactly():
    assert symbolic.all_poles_real(H_REGULAR, C, LAM)
    assert symbolic.all_poles_real(H_SINGULAR, C, LAM)


def test_secular_identity_is_zero():
    assert symbolic.secular_identity(H_REGULAR, C, LAM) == 0


# ---------------------------------------------------------------------------------------------
# Delta(s) and its inverse
# ---------------------------------------------------------------------------------------------

def test_transform_pairs_by_residues():
    s, t = symbolic.s, symbolic.t
    assert sp.simplify(symbolic.inverse_by_residues(1 / (s + 2)) - sp.exp(-2 * t)) == 0
    pair = symbolic.inverse_by_residues(1 / ((s + 1) * (s + 3)))
    assert sp.simplify(pair - (sp.exp(-t) - sp.exp(-3 * t)) / 2) == 0
    repeated = symbolic.inverse_by_residues(1 / (s + 1) ** 2)
    assert sp.simplify(repeated - t * sp.exp(-t)) == 0
    with pytest.raises(InvalidArgumentError, match="proper"):
        symbolic.inverse_by_residues(s / (s + 1))


@pytest.mark.parametrize("printed", [False, True])
def test_delta_transform_matches_float64(printed):
    Hf, a = as_float(H_REGULAR, C)
    delta0 = [[1, 0], [R(1, 2), -1]]
    Delta, units = symbolic.delta_transform(H_REGULAR, C, LAM, delta0, printed=printed)
    point = R(3, 10) + R(1, 5) * sp.I
    exact = np.array([complex(e.subs(symbolic.s, point).evalf(20)) for e in Delta])
    function = laplace.delta_transform_printed if printed else laplace.delta_transform
    got, got_units = function(Hf, a, float(LAM), np.array(delta0, dtype=float), 0.3 + 0.2j)
    # two small solves with condition numbers below 1e2: 1e3 eps relative
    np.testing.assert_allclose(got, exact, rtol=1e3 * EPS)
    exact_units = np.array([[complex(e.subs(symbolic.s, point).evalf(20)) for e in U] for U in units])
    np.testing.assert_allclose(got_units, exact_units, rtol=1e3 * EPS)


def test_exact_inverse_matches_modal_solution():
    Hf, a = as_float(H_REGULAR, C)
    delta0 = [[1, 0], [R(1, 2), -1]]
    Delta, _ = symbolic.delta_transform(H_REGULAR, C, LAM, delta0)
    delta_t = symbolic.inverse_by_residues(Delta)
    basis = spectral.eigen_decomposition(Hf, a, float(LAM))
    times = np.array([0.0, 1.0, 10.0])
    eta = spectral.modal_solution(basis, np.array(delta0, dtype=float).reshape(-1), times).reshape(3, 2, 2)
    expected = np.einsum("k,tkn->tn", a / np.sqrt(2), eta)
    exact = np.array([[float(sp.re(e.subs(symbolic.t, tv).evalf(25))) for e in delta_t] for tv in times])
    # float64 modal sum of 4 modes: a few hundred eps
    np.testing.assert_allclose(expected, exact, atol=1e3 * EPS)


# ---------------------------------------------------------------------------------------------
# Final value, eq. (5), Lemma 6.5 and Theorem 3.3 of Panahi et al. (2022)
# ---------------------------------------------------------------------------------------------

def test_equation5_holds_exactly_with_invertible_units():
    result = symbolic.check_equation5(H_REGULAR, C, LAM, Y, PHI, F0)
    assert result["holds"]
    assert result["zero_pole_count"] == 0
    assert all(r == sp.zeros(2, 1) for r in result["equilibrium_residual"])
    Hf, a = as_float(H_REGULAR, C)
    f5 = theory.final_value(np.array(Y, float), np.array(PHI, float).T, a, float(LAM))
    # the float formula rounds c_k and a few sums: 16 eps
    np.testing.assert_allclose(f5, np.array(result["printed"].evalf(20).tolist(), float).ravel(), rtol=16 * EPS)


def test_equation5_fails_exactly_with_singular_unit():
    # H_0 = diag(2, 0) keeps sample 1 of unit 0 at its initial value; F0 must differ from the
    # equilibrium there (F_p,0 = (11/7, 0)) for the limit to move off eq. (5)
    F0 = [[0, 1], [1, 1]]
    result = symbolic.check_equation5(H_SINGULAR, C, LAM, Y, PHI, F0)
    assert not result["holds"]
    assert result["zero_pole_count"] == 1
    Hf, a = as_float(H_SINGULAR, C)
    Phi = np.array(PHI, float).T
    F0f = np.array(F0, float)
    basis = spectral.eigen_decomposition(Hf, a, float(LAM))
    _, f_exact = theory.kernel_regime_limit(basis, F0f, np.array(Y, float), Phi, a, float(LAM))
    fvt = np.array(result["final_value_theorem"].evalf(20).tolist(), float).ravel()
    # float64 projector onto the zero eigenspace: eps times the eigenvector condition number
    np.testing.assert_allclose(f_exact, fvt, atol=1e3 * EPS)
    Fp = theory.particular_equilibrium(np.array(Y, float), Phi, a, float(LAM))
    f64, _, _ = laplace.final_value_limit(Hf, a, float(LAM), F0f - Fp, Fp, dps=40)
    np.testing.assert_allclose(f64, fvt, atol=1e3 * EPS)


def test_lemma65_identities_hold():
    assert symbolic.check_lemma65(H_REGULAR, C, LAM)["holds"]
    assert symbolic.check_lemma65(H_SINGULAR, C, LAM)["holds"]


def test_lemma65_identities_hold_for_symbolic_lambda():
    lam = sp.Symbol("lambda", positive=True)
    result = symbolic.check_lemma65(H_REGULAR, C, lam)
    assert result["holds"]


def test_theorem33_holds_with_margin():
    result = symbolic.check_theorem33(H_REGULAR, C, LAM)
    assert result["holds"]
    assert result["poles_below_bound"] == 0
    assert not result["pole_equals_bound"]
    assert float(result["margin"].evalf(30)) > 0


def test_theorem33_tie_when_unit_decoupled():
    # c_0 = 0: unit 0 decouples and contributes the poles lambda eig(H_0); H_0's smallest
    # eigenvalue is sigma_0 here, so one pole equals the bound exactly
    result = symbolic.check_theorem33(H_REGULAR, [0, R(1, 2)], LAM)
    assert result["pole_equals_bound"]
    assert result["holds"]
    assert sp.simplify(result["margin"]) == 0


def test_theorem33_counts_zero_poles_separately():
    result = symbolic.check_theorem33(H_SINGULAR, C, LAM)
    assert result["zero_pole_count"] == 1
    assert result["holds"]


def test_theorem33_rejects_symbols():
    with pytest.raises(InvalidArgumentError, match="rational"):
        symbolic.check_theorem33(H_REGULAR, C, sp.Symbol("lambda"))


def test_inputs_validated():
    with pytest.raises(InvalidArgumentError, match="symmetric"):
        symbolic.block_matrix([sp.Matrix([[1, 2], [0, 1]])], [1], LAM)
    with pytest.raises(InvalidArgumentError, match="one entry per"):
        symbolic.block_matrix(H_REGULAR, [1], LAM)
    with pytest.raises(InvalidArgumentError, match="rational"):
        symbolic.to_rational("one third")
