"""Poles of Hbar by three routes, eigenvectors, modal solution, T(s), operators and bounds.

Tolerances. Each route computes the poles of a slightly perturbed matrix: the backward error is
a small multiple of (m n) eps ||Hbar||_2. For lambda > 0, Hbar = B M with M = C kron I positive
definite is similar to the symmetric M^{1/2} B M^{1/2} through M^{1/2}, whose condition number is
K = sqrt(cond C) = sqrt((a_bar + lambda) / lambda), so by Bauer-Fike every pole moves by at most
K times the backward error. Eigenvectors from route (a) are F^T xi / sqrt(p) with the factor
F_k = diag(sqrt h) Q^T of H_k, whose conditioning adds sqrt(h_max / h_min). TOL_FACTOR = 100 is
the margin on top of these scales (the largest ratio seen over 600 random problems was about 20).
For lambda = 0, the zero eigenvalue of Hbar has multiplicity >= (m - 1) n and is not normal, so
the nonsymmetric solver can move poles near zero by up to sqrt(backward error * ||Hbar||), as for
a Jordan block of size 2; that bound is used for poles below it.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ktheory.activations import activation_names
from ktheory.data import sphere_inputs
from ktheory.errors import InvalidArgumentError, MemoryLimitError
from ktheory.model import init_params
from ktheory.ntk import gram_blocks
from ktheory.spectral import (assumption_gaps, block_matrix, block_operator, eigen_decomposition,
                              expm_solution, extreme_poles, lemma65_vectors, modal_solution,
                              nonsymmetric_poles, pole_bounds, poles, secular_poles,
                              transfer_matrix, unit_factors)

EPS = np.finfo(float).eps
TOL_FACTOR = 100.0


def make_problem(seed, n, d, m, act, kappa, lam):
    rng = np.random.default_rng(seed)
    X = sphere_inputs(rng, n, d)
    a, W = init_params(rng, m, d, kappa=kappa)
    return X, W, a, act, lam


@st.composite
def problems(draw):
    lam = draw(st.one_of(st.just(0.0), st.floats(1e-4, 100.0)))
    return make_problem(draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 8)), draw(st.integers(1, 6)),
                        draw(st.integers(1, 4)), draw(st.sampled_from(activation_names())),
                        draw(st.sampled_from([0.01, 0.5, 2.0])), lam)


def scales(H, a, lam):
    """Return (||Hbar||_2, backward-error scale (m n) eps ||Hbar||, K) for the tolerances above."""
    m, n, _ = H.shape
    norm = np.linalg.norm(block_matrix(H, a, lam), 2)
    abar = float(a @ a) / m
    K = np.sqrt((abar + lam) / lam) if lam > 0 else 1.0
    return norm, m * n * EPS * norm, K


def factor_condition(H, a, lam, basis):
    """Return the conditioning factor of route (a)'s eigenvectors.

    For lambda > 0 it is sqrt(h_max / h_min) over the kept eigenvalues of the H_k. For lambda = 0
    the right vectors are B (c kron v) / p, whose rounding grows with ||H|| / p_min (no square root).
    """
    if lam > 0:
        h = np.linalg.eigvalsh(H)
        kept = h[h > basis.info["unit_tolerance"]]
        return np.sqrt(kept.max() / kept.min())
    c = a / np.sqrt(a.size)
    top = np.linalg.eigvalsh(np.einsum("k,kij->ij", c * c, H)).max()
    return top / basis.nonzero.min()


def assert_poles_close(got, want, tol, small=0.0):
    """Sorted pole lists agree within tol, or within ``small`` where both are below ``small``."""
    got, want = np.sort(got), np.sort(want)
    assert got.shape == want.shape
    err = np.abs(got - want)
    near_zero = (np.abs(got) <= small) & (np.abs(want) <= small)
    assert np.all((err <= tol) | near_zero), (err.max(), tol, small)


@given(problems())
def test_three_routes_agree(problem):
    X, W, a, act, lam = problem
    H = gram_blocks(X, W, act)
    norm, backward, K = scales(H, a, lam)
    assume(norm > 0)
    tol = TOL_FACTOR * backward * K
    m, n, _ = H.shape

    route_a = eigen_decomposition(H, a, lam, vectors=False)
    assert route_a.poles.shape == (m * n,)
    assert np.all(np.diff(route_a.poles) >= 0)
    np.testing.assert_array_equal(poles(H, a, lam), route_a.poles)

    values_c, imag_c = nonsymmetric_poles(H, a, lam)
    small = np.sqrt(TOL_FACTOR * backward * norm) if lam == 0 else 0.0
    assert imag_c <= max(tol, small)
    assert_poles_close(values_c, route_a.poles, tol, small)

    route_b = secular_poles(H, a, lam)
    assert route_b.zero_count == route_a.zero_count
    gaps = assumption_gaps(H, a, lam, route_a.poles)
    if route_b.missing == 0:
        assert_poles_close(route_b.poles, route_a.poles, tol)
    else:
        # Route (b) misses only poles on the singular set lambda * eig(H_k) (Assumption 2 violated,
        # for example ReLU units with the same activation pattern) or units with a_k = 0.
        assert gaps["pole_to_scaled_unit"] <= 1e-8 or np.any(a == 0)
        for root in route_b.roots:
            assert np.abs(route_a.poles - root).min() <= tol

    bounds = pole_bounds(H, a, lam)
    nonzero = route_a.nonzero
    if nonzero.size:
        assert nonzero.max() <= bounds["upper"] * (1 + 1e-12) + tol
        # Theorem 3.3: every nonzero pole is at least lambda times the smallest nonzero eigenvalue
        # of the H_k.
        assert nonzero.min() >= bounds["lower"] - tol


@given(problems())
def test_eigenvectors_residual_and_biorthogonal(problem):
    X, W, a, act, lam = problem
    H = gram_blocks(X, W, act)
    norm, backward, K = scales(H, a, lam)
    assume(norm > 0)
    basis = eigen_decomposition(H, a, lam)
    assume(basis.nonzero.size > 0)
    Hbar = block_matrix(H, a, lam)
    R, L, p = basis.right, basis.left, basis.nonzero
    fac = factor_condition(H, a, lam, basis)
    rel = TOL_FACTOR * backward / norm * K * fac  # relative residual scale (see module docstring)

    right_res = np.linalg.norm(Hbar @ R - R * p, axis=0) / (norm * np.linalg.norm(R, axis=0))
    left_res = np.linalg.norm(Hbar.T @ L - L * p, axis=0) / (norm * np.linalg.norm(L, axis=0))
    assert right_res.max() <= rel
    assert left_res.max() <= rel
    # left^T right = I up to the rounding of F^T xi and (C kron I) F^T xi.
    assert np.abs(L.T @ R - np.eye(p.size)).max() <= rel * K * fac
    # Hbar = sum_j p_j r_j l_j^T: the zero eigenspace contributes nothing.
    assert np.linalg.norm(Hbar - (R * p) @ L.T) <= rel * K * norm


@given(problems())
def test_modal_solution_matches_expm(problem):
    X, W, a, act, lam = problem
    H = gram_blocks(X, W, act)
    norm, backward, K = scales(H, a, lam)
    assume(norm > 0)
    basis = eigen_decomposition(H, a, lam)
    fac = factor_condition(H, a, lam, basis) if basis.nonzero.size else 1.0
    eta0 = np.random.default_rng(0).standard_normal(H.shape[0] * H.shape[1])
    times = np.array([0.0, 0.3 / norm, 3.0 / norm, 1e3 / norm])
    modal = modal_solution(basis, eta0, times)
    reference = expm_solution(H, a, lam, eta0, times)
    np.testing.assert_array_equal(reference[0], eta0)
    # The projector I - R L^T carries the biorthogonality error (scale of the previous test) times
    # ||eta0||. expm_multiply takes about t ||Hbar||_1 Taylor steps, each with rounding of order
    # eps ||eta0||, so its error grows like eps t ||Hbar||_1 ||eta0||.
    size = np.linalg.norm(eta0)
    norm1 = np.abs(block_matrix(H, a, lam)).sum(axis=0).max()
    for row, t in enumerate(times):
        tol = TOL_FACTOR * ((backward / norm) * K * K * fac * fac + EPS * t * norm1) * size
        assert np.abs(modal[row] - reference[row]).max() <= tol


def test_modal_solution_decays_to_zero_space():
    X, W, a, act, lam = make_problem(4, 6, 8, 3, "tanh", 0.5, 0.5)
    H = gram_blocks(X, W, act)
    basis = eigen_decomposition(H, a, lam)
    assert basis.zero_count == 0
    eta0 = np.random.default_rng(1).standard_normal(18)
    t = 40.0 / basis.nonzero.min()  # exp(-40) ~ 4e-18: every mode has decayed
    modal = modal_solution(basis, eta0, [t])[0]
    reference = expm_solution(H, a, lam, eta0, [t])[0]
    # The modal value is eta0 - R L^T eta0 (every exp(-p t) <= exp(-40)), which is rounding of
    # size (m n) eps ||R|| ||L|| ||eta0||. expm_multiply adds eps per Taylor step, t ||Hbar||_1 steps.
    size = np.linalg.norm(eta0)
    rounding = 18 * EPS * np.linalg.norm(basis.right, 2) * np.linalg.norm(basis.left, 2) * size
    assert np.abs(modal).max() <= TOL_FACTOR * rounding
    norm1 = np.abs(block_matrix(H, a, lam)).sum(axis=0).max()
    assert np.abs(reference).max() <= TOL_FACTOR * (rounding + EPS * t * norm1 * size)


def test_identical_units_degenerate():
    X, W, a, _, lam = make_problem(5, 5, 6, 3, "tanh", 0.5, 0.1)
    W[1] = W[0]
    a[1] = a[0]
    H = gram_blocks(X, W, "tanh")
    route_a = eigen_decomposition(H, a, lam)
    values_c, _ = nonsymmetric_poles(H, a, lam)
    _, backward, K = scales(H, a, lam)
    assert_poles_close(values_c, route_a.poles, TOL_FACTOR * backward * K)
    # eta with blocks (v, -v, 0) for an eigenvector v of H_0 gives Hbar eta = lambda h eta: n poles
    # on the singular set, which the secular condition cannot see.
    route_b = secular_poles(H, a, lam)
    assert route_b.missing == 5
    h = np.linalg.eigvalsh(H[0])
    for value in lam * h:
        assert np.abs(route_a.poles - value).min() <= TOL_FACTOR * backward * K
    with pytest.raises(InvalidArgumentError, match="lies on the singular set"):
        lemma65_vectors(H, a, lam, route_a.nonzero)


def test_duplicate_inputs_give_zero_poles():
    X, W, a, _, lam = make_problem(6, 5, 6, 3, "sigmoid", 0.5, 0.2)
    X[3] = X[1]
    H = gram_blocks(X, W, "sigmoid")
    basis = eigen_decomposition(H, a, lam)
    # e_1 - e_3 is a null vector of every H_k, so each unit contributes one zero pole.
    assert basis.zero_count == 3
    assert secular_poles(H, a, lam).zero_count == 3
    _, backward, K = scales(H, a, lam)
    assert_poles_close(nonsymmetric_poles(H, a, lam)[0], basis.poles, TOL_FACTOR * backward * K)


def test_relu_inactive_rows():
    X, W, a, _, lam = make_problem(7, 6, 5, 3, "relu", 1.0, 0.3)
    active = X @ W.T > 0
    assert not active.all()
    H = gram_blocks(X, W, "relu")
    basis = eigen_decomposition(H, a, lam)
    assert basis.inactive_rows == int((~active).sum())
    assert basis.zero_count >= basis.inactive_rows
    Hbar = block_matrix(H, a, lam)
    # Left eigenvectors are nonzero on inactive rows too, and must satisfy the full equation.
    inactive_rows = ~active.T.reshape(-1)
    assert np.abs(basis.left[inactive_rows]).max() > 0
    norm = np.linalg.norm(Hbar, 2)
    residual = np.linalg.norm(Hbar.T @ basis.left - basis.left * basis.nonzero, axis=0)
    assert residual.max() <= 1e-12 * norm * np.linalg.norm(basis.left, axis=0).max()


def test_more_samples_than_dimensions():
    X, W, a, _, lam = make_problem(8, 7, 3, 2, "tanh", 0.5, 0.4)
    H = gram_blocks(X, W, "tanh")
    basis = eigen_decomposition(H, a, lam)
    assert basis.zero_count == 2 * (7 - 3)  # each H_k = D X X^T D has rank d = 3
    assert basis.info["size"] == 2 * 3


def test_zero_output_weight_unit():
    X, W, a, _, lam = make_problem(9, 4, 5, 3, "erf", 0.5, 0.7)
    a[2] = 0.0
    H = gram_blocks(X, W, "erf")
    basis = eigen_decomposition(H, a, lam)
    # With c_2 = 0, block row 2 of Hbar is lambda H_2 acting on eta_2 alone: its eigenvalues
    # lambda * eig(H_2) are poles, invisible to T(s) because unit 2 has weight 0 there.
    _, backward, K = scales(H, a, lam)
    for value in lam * np.linalg.eigvalsh(H[2]):
        assert np.abs(basis.poles - value).min() <= TOL_FACTOR * backward * K
    assert secular_poles(H, a, lam).missing == 4


def test_lambda_zero_poles_are_network_kernel_eigenvalues():
    X, W, a, _, _ = make_problem(10, 5, 6, 3, "gelu", 0.5, 0.0)
    H = gram_blocks(X, W, "gelu")
    c = a / np.sqrt(3)
    expected = np.linalg.eigvalsh(np.einsum("k,kij->ij", c * c, H))
    got = poles(H, a, 0.0)
    assert np.all(got[:10] == 0.0)
    np.testing.assert_allclose(got[10:], expected, rtol=0, atol=1e-13 * expected.max())


@given(problems())
def test_lemma65_vectors_rebuild(problem):
    X, W, a, act, lam = problem
    assume(lam > 0)
    H = gram_blocks(X, W, act)
    norm, backward, K = scales(H, a, lam)
    assume(norm > 0)
    basis = eigen_decomposition(H, a, lam, vectors=False)
    assume(basis.nonzero.size > 0)
    # Poles far below ||Hbar|| carry absolute errors of order eps ||Hbar|| from route (a), which the
    # lemma's resolvents (p I - lambda H_k)^{-1} would amplify; keep the spread below 1e6.
    assume(basis.nonzero.min() >= 1e-6 * basis.nonzero.max())
    gaps = assumption_gaps(H, a, lam, basis.poles)
    # Lemma 6.5 needs distinct poles away from the singular set; with both relative distances
    # >= 1e-3, the vectors lose at most a factor 1e3 of accuracy per distance.
    assume(gaps["pole_gap"] > 1e-3 and gaps["pole_to_scaled_unit"] > 1e-3)
    vec = lemma65_vectors(H, a, lam, basis.nonzero)
    tol = TOL_FACTOR * backward / norm * K * 1e6
    assert vec.right_residual <= tol
    assert vec.left_residual <= tol
    # Entry (i, j) of left^T right, and the rebuilt Hbar, are sums of products of entries of l_i
    # and r_j, so their rounding scales with max_i ||l_i|| max_j ||r_j||; the lemma's
    # normalisation left . right = 1 does not bound that product when i != j.
    condition = np.linalg.norm(vec.right, axis=0).max() * np.linalg.norm(vec.left, axis=0).max()
    assert vec.biorthogonality_error <= tol * condition
    assert vec.rebuild_error <= tol * condition


def test_transfer_matrix_against_solves():
    X, W, a, _, lam = make_problem(11, 6, 6, 3, "tanh", 0.5, 0.5)
    H = gram_blocks(X, W, "tanh")
    c = a / np.sqrt(3)
    for s in (0.7, -0.05, 2.0 + 1.5j, -0.3 - 0.01j):
        T = transfer_matrix(s, H, a, lam)
        expected = sum(c[k] ** 2 * np.linalg.solve(s * np.eye(6) + lam * H[k], H[k]) for k in range(3))
        # Two backward-stable solves of a system with condition number at most ~100 here.
        np.testing.assert_allclose(T, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
        np.testing.assert_array_equal(T, T.T)
        assert np.iscomplexobj(T) == isinstance(s, complex)


def test_transfer_matrix_secular_condition():
    X, W, a, _, lam = make_problem(12, 5, 6, 2, "sigmoid", 0.5, 0.5)
    H = gram_blocks(X, W, "sigmoid")
    basis = eigen_decomposition(H, a, lam, vectors=False)
    for p in basis.nonzero:
        values = np.linalg.eigvalsh(transfer_matrix(-p, H, a, lam))
        # -1 is an eigenvalue of T(-p) at every pole (as long as p is off the singular set).
        assert np.abs(values + 1.0).min() <= 1e-8


def test_transfer_matrix_singular_points_raise():
    X, W, a, _, lam = make_problem(13, 5, 6, 3, "relu", 1.0, 0.5)
    H = gram_blocks(X, W, "relu")
    assert np.any(np.einsum("kii->ki", H) == 0)  # some unit is inactive somewhere: H_k singular
    with pytest.raises(InvalidArgumentError, match=r"s = 0.0 makes s I \+ lambda H_\d singular"):
        transfer_matrix(0.0, H, a, lam)
    h = np.linalg.eigvalsh(H[0])
    with pytest.raises(InvalidArgumentError, match="T.s. has a pole there"):
        transfer_matrix(-lam * h[-1], H, a, lam)
    with pytest.raises(InvalidArgumentError, match="s must be finite; got nan"):
        transfer_matrix(float("nan"), H, a, lam)


def test_block_operator_matches_dense():
    X, W, a, _, lam = make_problem(14, 6, 4, 3, "softplus", 0.5, 0.25)
    H = gram_blocks(X, W, "softplus")
    Hbar = block_matrix(H, a, lam)
    op = block_operator(H, a, lam)
    x = np.random.default_rng(2).standard_normal((18, 2))
    # Same products summed in a different order: a few ulps of ||Hbar|| ||x||.
    tol = 1e-14 * np.linalg.norm(Hbar, 2) * np.abs(x).max() * 18
    np.testing.assert_allclose(op.matvec(x[:, 0]), Hbar @ x[:, 0], rtol=0, atol=tol)
    np.testing.assert_allclose(op.rmatvec(x[:, 0]), Hbar.T @ x[:, 0], rtol=0, atol=tol)
    np.testing.assert_allclose(op.matmat(x), Hbar @ x, rtol=0, atol=tol)
    m, n = 3, 6
    c = a / np.sqrt(m)
    for k in range(m):
        for l in range(m):
            block = Hbar[k * n:(k + 1) * n, l * n:(l + 1) * n]
            np.testing.assert_array_equal(block, H[k] * (c[k] * c[l] + lam * (k == l)))


@pytest.mark.parametrize("act, lam", [("relu", 0.01), ("tanh", 0.01), ("tanh", 2.0), ("erf", 0.0)])
def test_extreme_poles_match_dense(act, lam):
    X, W, a, _, _ = make_problem(15, 40, 50, 4, act, 0.5, lam)
    H = gram_blocks(X, W, act)
    nonzero = eigen_decomposition(H, a, lam, vectors=False).nonzero
    top = nonzero.max()
    for which, want in (("LA", nonzero[-5:]), ("SA", nonzero[:5])):
        result = extreme_poles(H, a, lam, k=5, which=which, return_details=True)
        # Both routes are backward stable on S: errors of a small multiple of R eps ||S||.
        np.testing.assert_allclose(result.poles, want, rtol=0, atol=TOL_FACTOR * nonzero.size * EPS * top)
        assert result.residuals.max() <= TOL_FACTOR * nonzero.size * EPS
        assert result.zero_count == H.shape[0] * H.shape[1] - nonzero.size
    np.testing.assert_array_equal(extreme_poles(H, a, lam, k=2, which="LA"),
                                  extreme_poles(H, a, lam, k=2, which="LA", return_details=True).poles)
    if lam > 0:
        factors = unit_factors(H)
        np.testing.assert_array_equal(extreme_poles(H, a, lam, k=3, which="SA", factors=factors),
                                      extreme_poles(H, a, lam, k=3, which="SA"))
        with pytest.raises(InvalidArgumentError, match="factors were computed for H of shape"):
            extreme_poles(H[:2], a[:2], lam, factors=factors)


def test_spectral_bad_input():
    X, W, a, _, lam = make_problem(16, 4, 3, 2, "tanh", 0.5, 0.5)
    H = gram_blocks(X, W, "tanh")
    with pytest.raises(InvalidArgumentError, match="a must have length m = 2 .the number of blocks in H.; got length 3"):
        poles(H, np.ones(3), lam)
    with pytest.raises(InvalidArgumentError, match=r"H must have shape \(m, n, n\) with square blocks; got \(2, 4, 3\)"):
        poles(H[:, :, :3], a, lam)
    with pytest.raises(InvalidArgumentError, match="H must be a 3-dimensional array; got shape .4, 4."):
        poles(H[0], a, lam)
    bad = H.copy()
    bad[0, 1, 2] = np.inf
    with pytest.raises(InvalidArgumentError, match="H contains 1 NaN or infinite entries"):
        poles(bad, a, lam)
    with pytest.raises(InvalidArgumentError, match="a contains 1 NaN or infinite entries"):
        poles(H, np.array([1.0, np.nan]), lam)
    with pytest.raises(InvalidArgumentError, match="lam must be a finite number >= 0; got -0.1"):
        poles(H, a, -0.1)
    with pytest.raises(InvalidArgumentError, match="lam must be a finite number >= 0; got nan"):
        block_matrix(H, a, float("nan"))
    with pytest.raises(InvalidArgumentError, match="lam must be a real number >= 0; got 'big'"):
        transfer_matrix(1.0, H, a, "big")
    assert block_matrix(H, a, lam, max_bytes=512).shape == (8, 8)  # 8 x 8 float64 = 512 bytes fits
    with pytest.raises(MemoryLimitError) as info:
        block_matrix(H, a, lam, max_bytes=100)
    message = str(info.value)
    assert "an estimated 512 bytes" in message
    assert "8 x 8 float64" in message
    assert "block_operator()" in message
    with pytest.raises(MemoryLimitError, match="symmetric form S of Hbar"):
        eigen_decomposition(H, a, lam, max_bytes=100)
    basis = eigen_decomposition(H, a, lam, vectors=False)
    with pytest.raises(InvalidArgumentError, match="basis has no eigenvectors"):
        modal_solution(basis, np.zeros(8), [0.0])
    basis = eigen_decomposition(H, a, lam)
    with pytest.raises(InvalidArgumentError, match=r"eta0 must have shape \(8\); got \(7,\)"):
        modal_solution(basis, np.zeros(7), [0.0])
    with pytest.raises(InvalidArgumentError, match="times must be >= 0; got minimum -1.0"):
        modal_solution(basis, np.zeros(8), [1.0, -1.0])
    with pytest.raises(InvalidArgumentError, match="nonzero_poles must all be > 0"):
        lemma65_vectors(H, a, lam, [0.0, 1.0])
    with pytest.raises(InvalidArgumentError, match="which must be 'LA' .largest. or 'SA'"):
        extreme_poles(H, a, lam, which="LM")
    with pytest.raises(InvalidArgumentError, match="k = 8 must be below the number of nonzero poles, 6"):
        extreme_poles(H, a, lam, k=8)
    with pytest.raises(InvalidArgumentError, match="k must be a positive integer; got 0"):
        extreme_poles(H, a, lam, k=0)


@pytest.mark.parametrize("limit", [0, -1.0, float("nan"), "lots"])
def test_block_matrix_rejects_bad_max_bytes(limit):
    H = np.stack([np.eye(3)] * 2)
    with pytest.raises(InvalidArgumentError, match="max_bytes must be a number of bytes > 0"):
        block_matrix(H, np.ones(2), 0.1, max_bytes=limit)
