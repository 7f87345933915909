"""Exact (sympy) kernel-regime quantities for tiny problems: Hbar, T(s), poles, Delta(s), checks.

Notation of Panahi et al. (2022), "Analysis of Knowledge Transfer in Kernel Regime":

- ``H``: a list of m symmetric n x n matrices H_k (sympy Matrix or nested lists).
- ``c``: the output weights c_k = a_k / sqrt(m), passed directly so that they can be rational
  (a_k = c_k sqrt(m)); only products c_k c_l enter Hbar, but c_k alone enters f = sum_k c_k f_k.
- ``lam``: lambda, a rational number (or a symbol where a function says so).
- Hbar: block (k, l) = H_k (c_k c_l + lambda [k == l]); poles p_j: eigenvalues of Hbar, roots of
  det(p I - Hbar).
- T(s) = sum_k c_k^2 (s I + lambda H_k)^{-1} H_k.
- Delta(s): Laplace transform of delta(t) = f(t) - f_inf from the transformed residual ODE
  (I + T(s)) Delta = sum_k c_k (s I + lambda H_k)^{-1} delta_k(0).

Everything is exact rational arithmetic when the inputs are rational: numbers are converted with
``sympy.Rational`` (floats convert to their exact binary value, so pass strings such as "1/3" or
Fractions for decimal values). Real data give irrational Gram matrices; build rational ones as
H_k = D_k G D_k from a rational Gram matrix G = X X^T and rational diagonal D_k
(:func:`gram_from_factors`).

Matrices of rational functions are computed in sympy's DomainMatrix over the fraction field
QQ(s) (or QQ(s, lambda, ...) for symbolic entries), which keeps every entry a reduced fraction and
is orders of magnitude faster than Matrix.LUsolve on expressions. Inversion uses ``factor_list``,
exact roots of factors of degree <= 2, ``CRootOf`` for higher-degree irreducible factors, and
residues N(r) / D'(r); sympy's general ``inverse_laplace_transform`` is not used (slow).

Known limitations
-----------------
- Meant for n, m <= 2 (characteristic polynomials of degree <= 4). Larger sizes work but sympy's
  cost grows quickly, and roots of degree > 4 come back as ``CRootOf`` objects.
- The Theorem 3.3 check needs numeric rational H_k, c and lambda; the identities behind Lemma 6.5
  also hold for symbolic entries.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp
from sympy.polys.constructor import construct_domain
from sympy.polys.matrices import DomainMatrix

from .errors import InvalidArgumentError

__all__ = [
    "s", "t", "p",
    "to_rational",
    "rational_matrix",
    "gram_from_factors",
    "block_matrix",
    "transfer_matrix",
    "characteristic_polynomial",
    "poles",
    "secular_identity",
    "delta_transform",
    "inverse_by_residues",
    "particular_equilibrium",
    "final_value",
    "check_equation5",
    "check_lemma65",
    "check_theorem33",
    "all_poles_real",
]

s, t, p = sp.symbols("s t p")
"""Default symbols: Laplace variable s, time t, pole variable p."""

MAX_REFINEMENTS = 200
"""Interval refinements allowed when separating a pole from Theorem 3.3's bound. Each refinement
shrinks the isolating interval of sigma_0 by a factor 1000. Exact ties are detected separately,
so 200 refinements (width factor 1e-600) only fail for distinct algebraic numbers closer than that."""


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

def to_rational(value):
    """Convert a number to an exact sympy value; sympy expressions and symbols pass through."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, bool):
        raise InvalidArgumentError(f"expected a number; got the boolean {value!r}")
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, (int, float, str)):
        try:
            return sp.Rational(value)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"cannot read {value!r} as a rational number; use e.g. '1/3'") from None
    if hasattr(value, "dtype") and hasattr(value, "item"):
        return to_rational(value.item())  # numpy scalar: same exact conversion as Python numbers
    try:
        return sp.sympify(value)
    except (sp.SympifyError, TypeError, ValueError):
        raise InvalidArgumentError(f"cannot convert {value!r} to an exact sympy number") from None


def rational_matrix(entries) -> sp.Matrix:
    """Return a sympy Matrix with every entry converted by :func:`to_rational`."""
    M = entries if isinstance(entries, sp.MatrixBase) else sp.Matrix(entries)
    return sp.Matrix(M.rows, M.cols, [to_rational(x) for x in M])


def gram_from_factors(D, G) -> sp.Matrix:
    """Return H = D G D for a diagonal D (given as its diagonal or as a matrix) and Gram matrix G.

    With G = X X^T and D = diag(sigma'(X w_k)) this is a unit's Gram matrix H_k; rational D and G
    give a rational, symmetric positive semidefinite H_k when G is.
    """
    G = rational_matrix(G)
    if G.rows != G.cols:
        raise InvalidArgumentError(f"G must be square; got {G.rows} x {G.cols}")
    if isinstance(D, sp.MatrixBase) and D.rows == D.cols and D.rows > 1:
        Dm = rational_matrix(D)
    else:
        Dm = sp.diag(*[to_rational(x) for x in list(D)])
    if Dm.rows != G.rows:
        raise InvalidArgumentError(f"D must have {G.rows} diagonal entries to match G; got {Dm.rows}")
    return Dm * G * Dm


def _setup(H, c, lam):
    Hs = [rational_matrix(Hk) for Hk in H]
    if not Hs:
        raise InvalidArgumentError("H must contain at least one matrix H_k")
    n = Hs[0].rows
    for k, Hk in enumerate(Hs):
        if Hk.shape != (n, n):
            raise InvalidArgumentError(f"H_{k} must be {n} x {n} like H_0; got {Hk.shape}")
        if (Hk - Hk.T).applyfunc(sp.simplify) != sp.zeros(n, n):
            raise InvalidArgumentError(f"H_{k} must be symmetric")
    cs = [to_rational(x) for x in c]
    if len(cs) != len(Hs):
        raise InvalidArgumentError(f"c must have one entry per H_k (m = {len(Hs)}); got {len(cs)}")
    lam = to_rational(lam)
    if lam.is_number and lam < 0:
        raise InvalidArgumentError(f"lam must be >= 0; got {lam}")
    return Hs, cs, lam, len(Hs), n


def _field(*items):
    """Return the smallest sympy field containing every entry of the given matrices and numbers."""
    entries = []
    for item in items:
        if isinstance(item, sp.MatrixBase):
            entries.extend(list(item))
        elif isinstance(item, (list, tuple)):
            for sub in item:
                entries.extend(list(sub) if isinstance(sub, sp.MatrixBase) else [sub])
        else:
            entries.append(item)
    K, _ = construct_domain(entries, field=True)
    return K


def _dm(M, K):
    return DomainMatrix.from_Matrix(M).convert_to(K)


def _unit_resolvents(Hs, lam, z, K):
    """Return [(z I + lambda H_k)^{-1}] as DomainMatrices over K."""
    n = Hs[0].rows
    return [_dm(z * sp.eye(n) + lam * Hk, K).inv() for Hk in Hs]


def _exact_roots(poly: sp.Poly) -> dict:
    """Return {root: multiplicity}: radicals for irreducible factors of degree <= 2, CRootOf above."""
    out: dict = {}
    _, factors = sp.factor_list(poly.as_expr(), *poly.gens)
    for factor, mult in factors:
        fp = sp.Poly(factor, *poly.gens)
        if fp.degree() <= 2:
            found = sp.roots(fp)
        else:
            found = {}
            for r in fp.all_roots():
                found[r] = found.get(r, 0) + 1
        for r, k in found.items():
            out[r] = out.get(r, 0) + k * mult
    return out


# --------------------------------------------------------------------------------------------
# Matrices, poles
# --------------------------------------------------------------------------------------------

def block_matrix(H, c, lam) -> sp.Matrix:
    """Return Hbar (m n x m n), block (k, l) = H_k (c_k c_l + lambda [k == l])."""
    Hs, cs, lam, m, n = _setup(H, c, lam)
    return sp.Matrix(sp.BlockMatrix([[Hs[k] * (cs[k] * cs[l] + (lam if k == l else 0)) for l in range(m)]
                                     for k in range(m)]))


def transfer_matrix(H, c, lam, s=s) -> sp.Matrix:
    """Return T(s) = sum_k c_k^2 (s I + lambda H_k)^{-1} H_k with entries as reduced rational functions.

    ``s`` may be a symbol or any expression in one (e.g. -p).
    """
    Hs, cs, lam, m, n = _setup(H, c, lam)
    K = _field(s, lam, cs, Hs)
    R = _unit_resolvents(Hs, lam, s, K)
    T = DomainMatrix.zeros((n, n), K)
    for k in range(m):
        T = T + (R[k] * _dm(Hs[k], K)) * K.convert(cs[k] ** 2)
    return T.to_Matrix()


def characteristic_polynomial(H, c, lam, x=p) -> sp.Poly:
    """Return det(x I - Hbar) as a sympy Poly in ``x``."""
    return block_matrix(H, c, lam).charpoly(x)


def poles(H, c, lam) -> dict:
    """Return the poles {root: multiplicity}, exact roots of the characteristic polynomial of Hbar.

    The polynomial is factored over the rationals; factors of degree <= 2 give explicit radicals
    and higher-degree irreducible factors give ``CRootOf`` objects (exact, and short to print;
    ``evalf`` gives any number of digits).
    """
    return _exact_roots(characteristic_polynomial(H, c, lam))


def secular_identity(H, c, lam, x=p) -> sp.Expr:
    """Return det(x I - Hbar) - prod_k det(x I - lambda H_k) det(I + T(-x)), cancelled (zero when it holds).

    The Schur complement of the blocks x I - lambda H_k gives this identity, which ties the poles
    (roots of the left side) to the secular condition det(I + T(-x)) = 0 away from the singular
    set x = lambda eig(H_k).
    """
    Hs, cs, lam, m, n = _setup(H, c, lam)
    char = characteristic_polynomial(Hs, cs, lam, x).as_expr()
    prod = sp.Integer(1)
    for Hk in Hs:
        prod *= (x * sp.eye(n) - lam * Hk).det()
    secular = (sp.eye(n) + transfer_matrix(Hs, cs, lam, -x)).det()
    return sp.cancel(char - prod * secular)


# --------------------------------------------------------------------------------------------
# Laplace-domain solution and its inverse
# --------------------------------------------------------------------------------------------

def delta_transform(H, c, lam, delta0, s=s, printed: bool = False):
    """Return (Delta(s), [Delta_k(s)]) as cancelled rational functions (n x 1 matrices).

    Solves (I + T(s)) Delta = sum_k w_k (s I + lambda H_k)^{-1} delta_k(0) with w_k = c_k (derived
    from the residual ODE) or w_k = 1 (``printed=True``, the paper's eq. (14) as printed), then
    Delta_k = (s I + lambda H_k)^{-1} [delta_k(0) - c_k H_k Delta]. ``delta0`` is a list of m
    length-n vectors delta_k(0).
    """
    Hs, cs, lam, m, n = _setup(H, c, lam)
    d0 = [rational_matrix(sp.Matrix(list(v))) for v in delta0]
    if len(d0) != m or any(v.shape != (n, 1) for v in d0):
        raise InvalidArgumentError(f"delta0 must hold m = {m} vectors of length n = {n}")
    K = _field(s, lam, cs, Hs, d0)
    R = _unit_resolvents(Hs, lam, s, K)
    Hd = [_dm(Hk, K) for Hk in Hs]
    Rd = [R[k] * _dm(d0[k], K) for k in range(m)]
    T = DomainMatrix.zeros((n, n), K)
    rhs = DomainMatrix.zeros((n, 1), K)
    for k in range(m):
        T = T + (R[k] * Hd[k]) * K.convert(cs[k] ** 2)
        rhs = rhs + Rd[k] * (K.one if printed else K.convert(cs[k]))
    Delta = (DomainMatrix.eye(n, K) + T).lu_solve(rhs)
    units = [Rd[k] - (R[k] * Hd[k] * Delta) * K.convert(cs[k]) for k in range(m)]
    return Delta.to_Matrix(), [U.to_Matrix() for U in units]


def _invert_entry(F, s, t):
    F = sp.cancel(sp.together(F))
    if F == 0:
        return sp.Integer(0)
    num, den = sp.fraction(F)
    num_p, den_p = sp.Poly(num, s), sp.Poly(den, s)
    if num_p.degree() >= den_p.degree():
        raise InvalidArgumentError(f"{F} is not strictly proper in {s}; it is not a Laplace transform of a function")
    found = _exact_roots(den_p)
    dden = den_p.diff(s)
    total = sp.Integer(0)
    for root, mult in found.items():
        if mult == 1:
            total += num_p.as_expr().subs(s, root) / dden.as_expr().subs(s, root) * sp.exp(root * t)
        else:
            total += sp.residue(F * sp.exp(s * t), s, root)
    return total


def inverse_by_residues(F, s=s, t=t):
    """Return the inverse Laplace transform of a strictly proper rational function (or a matrix of them).

    f(t) = sum over poles r of Res_{s=r} F(s) e^{s t}; at a simple pole the residue is
    N(r) / D'(r) for F = N / D in lowest terms, and sympy's ``residue`` handles repeated poles.
    """
    if isinstance(F, sp.MatrixBase):
        return F.applyfunc(lambda entry: _invert_entry(entry, s, t))
    return _invert_entry(F, s, t)


def particular_equilibrium(c, lam, y, Phi):
    """Return F_p = (C^{-1} kron I) g, g_k = c_k y + lambda phi_k, as a list of m n x 1 matrices.

    ``Phi`` is a list of m vectors phi_k (the teacher's unit outputs), ``y`` the labels. lambda
    must be nonzero (for lambda = 0, C = c c^T is singular).
    """
    cs = [to_rational(x) for x in c]
    lam = to_rational(lam)
    if lam == 0:
        raise InvalidArgumentError("lam must be nonzero: C = c c^T + lambda I is singular at lambda = 0")
    y = rational_matrix(sp.Matrix(list(y)))
    phis = [rational_matrix(sp.Matrix(list(v))) for v in Phi]
    m = len(cs)
    if len(phis) != m:
        raise InvalidArgumentError(f"Phi must hold m = {m} vectors phi_k; got {len(phis)}")
    cvec = sp.Matrix(cs)
    C = cvec * cvec.T + lam * sp.eye(m)
    G = sp.Matrix.hstack(*[cs[k] * y + lam * phis[k] for k in range(m)]).T  # (m, n)
    F = C.LUsolve(G).applyfunc(sp.cancel)
    return [F[k, :].T for k in range(m)]


def final_value(H, c, lam, delta0, F_particular, s=s):
    """Return (lim s F(s), [lim s F_k(s)]) by the final-value theorem, exactly.

    F_k(s) = F_p,k / s + Delta_k(s), so lim_{s->0} s F_k(s) = F_p,k + lim s Delta_k(s), computed by
    cancelling s Delta_k(s) and substituting s = 0. This equals Theorem 3.1's value when all poles
    are positive; zero poles keep part of delta(0).
    """
    Hs, cs, lam, m, n = _setup(H, c, lam)
    Fp = [rational_matrix(sp.Matrix(list(v))) for v in F_particular]
    _, units = delta_transform(Hs, cs, lam, delta0, s)
    F_lim = []
    for k in range(m):
        limit_k = (s * units[k]).applyfunc(lambda e: sp.cancel(e).subs(s, 0))
        F_lim.append((Fp[k] + limit_k).applyfunc(sp.simplify))
    f_lim = sp.zeros(n, 1)
    for k in range(m):
        f_lim += cs[k] * F_lim[k]
    return f_lim.applyfunc(sp.simplify), F_lim


# --------------------------------------------------------------------------------------------
# Checks of eq. (5), Lemma 6.5 and Theorem 3.3
# --------------------------------------------------------------------------------------------

def check_equation5(H, c, lam, y, Phi, F0) -> dict:
    """Compare Theorem 3.1's final value (a_bar y + lambda b) / (a_bar + lambda) with the exact limit.

    The exact limit comes from the final-value theorem on Delta(s) with delta_k(0) = f_k(0) - F_p,k
    (``F0`` lists the initial unit outputs f_k(0)). Returns sympy objects: ``printed`` and
    ``final_value_theorem`` (n x 1), ``difference`` (simplified), ``zero_pole_count`` (multiplicity
    of 0 in det(p I - Hbar)), ``equilibrium_residual`` (H_k [c_k (y - f) + lambda (phi_k - f_k)] at
    F_p, one n x 1 matrix per unit) and ``holds`` (difference exactly zero).
    """
    Hs, cs, lam, m, n = _setup(H, c, lam)
    yv = rational_matrix(sp.Matrix(list(y)))
    phis = [rational_matrix(sp.Matrix(list(v))) for v in Phi]
    F0s = [rational_matrix(sp.Matrix(list(v))) for v in F0]
    abar = sum(ck ** 2 for ck in cs)
    b = sp.zeros(n, 1)
    for k in range(m):
        b += cs[k] * phis[k]
    printed = ((abar * yv + lam * b) / (abar + lam)).applyfunc(sp.simplify)
    Fp = particular_equilibrium(cs, lam, yv, phis)
    fp = sp.zeros(n, 1)
    for k in range(m):
        fp += cs[k] * Fp[k]
    residual = [(Hs[k] * (cs[k] * (yv - fp) + lam * (phis[k] - Fp[k]))).applyfunc(sp.simplify) for k in range(m)]
    delta0 = [F0s[k] - Fp[k] for k in range(m)]
    fvt, _ = final_value(Hs, cs, lam, delta0, Fp)
    difference = (fvt - printed).applyfunc(sp.simplify)
    char = characteristic_polynomial(Hs, cs, lam)
    zero_count = _zero_multiplicity(char)
    return {
        "printed": printed,
        "final_value_theorem": fvt,
        "difference": difference,
        "zero_pole_count": zero_count,
        "equilibrium_residual": residual,
        "holds": bool(difference == sp.zeros(n, 1)),
    }


def _zero_multiplicity(poly: sp.Poly) -> int:
    coeffs = poly.all_coeffs()[::-1]  # constant term first
    count = 0
    for a in coeffs:
        if sp.simplify(a) != 0:
            break
        count += 1
    return count


def check_lemma65(H, c, lam, x=p) -> dict:
    """Check the identities behind Lemma 6.5 for symbolic p and v, exactly.

    With r_k = c_k (p I - lambda H_k)^{-1} H_k v and l_k = c_k (p I - lambda H_k)^{-1} v:

    - ``right_identity``: Hbar r - p r + [c_k H_k (I + T(-p)) v]_k, zero as a rational function;
    - ``left_identity``: Hbar^T l - p l + [c_k (I + T(-p)) v]_k, likewise;
    - ``sum_identity``: sum_k c_k r_k + T(-p) v, zero (so sum_k c_k r_k = v when T(-p) v = -v);
    - ``secular_identity``: see :func:`secular_identity`.

    So whenever T(-p) v = -v with p off the singular set, r and l are right and left eigenvectors
    of Hbar for p, which is Lemma 6.5. ``holds`` is True when all four are exactly zero.
    """
    Hs, cs, lam, m, n = _setup(H, c, lam)
    v = sp.Matrix(sp.symbols(f"v0:{n}"))
    K = _field(x, lam, cs, Hs, v)
    Hd = [_dm(Hk, K) for Hk in Hs]
    vd = _dm(v, K)
    ck = [K.convert(ci) for ci in cs]
    Hbar = _dm(block_matrix(Hs, cs, lam), K)
    # (x I - lambda H_k)^{-1} = -((-x) I + lambda H_k)^{-1}
    res = [M * K.convert(-1) for M in _unit_resolvents(Hs, lam, -x, K)]
    Tm = _dm(transfer_matrix(Hs, cs, lam, -x), K)
    secular_v = (DomainMatrix.eye(n, K) + Tm) * vd
    r_blocks = [res[k] * Hd[k] * vd * ck[k] for k in range(m)]
    l_blocks = [res[k] * vd * ck[k] for k in range(m)]
    r = DomainMatrix.vstack(*r_blocks)
    l_vec = DomainMatrix.vstack(*l_blocks)
    xk = K.convert(x)
    right = Hbar * r - r * xk + DomainMatrix.vstack(*[Hd[k] * secular_v * ck[k] for k in range(m)])
    left = Hbar.transpose() * l_vec - l_vec * xk + DomainMatrix.vstack(*[secular_v * ck[k] for k in range(m)])
    total = DomainMatrix.zeros((n, 1), K)
    for k in range(m):
        total = total + r_blocks[k] * ck[k]
    sum_id = total + Tm * vd
    sec = secular_identity(Hs, cs, lam, x)
    holds = right.is_zero_matrix and left.is_zero_matrix and sum_id.is_zero_matrix and sec == 0
    return {"right_identity": right.to_Matrix(), "left_identity": left.to_Matrix(),
            "sum_identity": sum_id.to_Matrix(), "secular_identity": sec,
            "right_vector": r.to_Matrix(), "left_vector": l_vec.to_Matrix(), "holds": bool(holds)}


def all_poles_real(H, c, lam) -> bool:
    """Return True when every root of det(p I - Hbar) is real (Sturm count equals the degree)."""
    poly = characteristic_polynomial(H, c, lam)
    return poly.count_roots() == poly.degree()


def check_theorem33(H, c, lam) -> dict:
    """Decide exactly whether every nonzero pole p satisfies p >= lambda sigma_0 (Theorem 3.3).

    sigma_0 is the smallest nonzero eigenvalue over all H_k. Works with real root isolation on
    rational polynomials: the isolating interval of sigma_0 is refined until no pole other than
    one exactly equal to lambda sigma_0 (detected by a common factor) lies in lambda times it.

    Returns ``sigma0`` (exact), ``bound`` (lambda sigma_0), ``smallest_nonzero_pole`` (exact),
    ``margin`` (their difference, a sympy number), ``poles_below_bound`` (count of distinct
    nonzero poles strictly below), ``pole_equals_bound`` (bool), ``zero_pole_count`` and ``holds``.
    """
    Hs, cs, lam, m, n = _setup(H, c, lam)
    if not (lam.is_Rational and all(ck.is_Rational for ck in cs)
            and all(e.is_Rational for Hk in Hs for e in Hk)):
        raise InvalidArgumentError("check_theorem33 needs rational H_k, c and lam (no symbols or irrationals)")
    x = sp.Symbol("x")  # H_k, c and lam are rational here, so the name cannot clash
    char = characteristic_polynomial(Hs, cs, lam, x)
    zero_count = _zero_multiplicity(char)
    f1 = sp.Poly(sp.cancel(char.as_expr() / x ** zero_count), x)
    unit = sp.Poly(sp.prod([Hk.charpoly(x).as_expr() for Hk in Hs]), x)
    g1 = sp.Poly(sp.cancel(unit.as_expr() / x ** _zero_multiplicity(unit)), x)
    if g1.degree() == 0:
        raise InvalidArgumentError("every H_k is zero: sigma_0 is undefined")
    nonzero_poles = sorted(r for r in f1.real_roots())
    sigma0 = min(g1.real_roots())
    smallest = nonzero_poles[0] if nonzero_poles else None
    result = {"sigma0": sigma0, "bound": lam * sigma0, "smallest_nonzero_pole": smallest,
              "margin": (smallest - lam * sigma0) if smallest is not None else None,
              "zero_pole_count": zero_count}
    if smallest is None or lam == 0:
        result.update(poles_below_bound=0, pole_equals_bound=False, holds=True)
        return result
    # Exact equality: lambda sigma_0 is a root of f1 iff sigma_0 is a root of gcd(f1(lambda x), g1).
    common = sp.gcd(sp.Poly(f1.as_expr().subs(x, lam * x), x), g1)
    # g1 has only positive roots (H_k is psd, zero roots removed); intervals() lists them ascending.
    (lo, hi), _ = g1.intervals()[0]
    lo, hi = sp.Rational(lo), sp.Rational(hi)
    equal = common.degree() > 0 and common.count_roots(lo, hi) > 0
    below = None
    for _ in range(MAX_REFINEMENTS):
        if lo == hi:  # sigma_0 rational: count roots in [0, bound] and remove the one equal to it
            bound = lam * lo
            below = f1.count_roots(0, bound) - (1 if f1.eval(bound) == 0 else 0)
            break
        inside = f1.count_roots(lam * lo, lam * hi)
        if inside == (1 if equal else 0):
            below = f1.count_roots(0, lam * lo)
            break
        lo, hi = g1.refine_root(lo, hi, eps=(hi - lo) / 1000)
        lo, hi = sp.Rational(lo), sp.Rational(hi)
    if below is None:
        raise InvalidArgumentError(
            f"could not separate the poles from lambda sigma_0 within {MAX_REFINEMENTS} refinements"
        )
    result.update(poles_below_bound=int(below), pole_equals_bound=bool(equal), holds=below == 0)
    return result
