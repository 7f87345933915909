"""Kernel-regime quantities shared by the claim checks: exact trajectories, limits, Lemma 6.5 vectors.

Everything here is computed from a :class:`~ktheory.claims._cases.KernelCase` along routes that do
not reuse the library function whose claim is being checked:

- :func:`exact_outputs`: f(t) = c^T F(t) with F(t) = F_p + exp(-Hbar t) (F(0) - F_p), by
  scipy.linalg.expm (scaling and squaring) on the dense Hbar, with no eigensolver. Its cost grows
  only with log ||Hbar t||, which matters because the poles of saturated units span many decades.
- :func:`exact_limit`: the t -> infinity limit F_p + P_0 (F(0) - F_p), with P_0 the projector on
  ker(Hbar) along range(Hbar) built from SVD null spaces of Hbar and Hbar^T.
- :func:`lemma65_clusters`: right and left eigenvectors of Hbar built as Lemma 6.5 states, from
  eigenvectors of T(-p) for the eigenvalue -1, grouped by clusters of equal poles.

Notation of Panahi et al. (2022): c_k = a_k / sqrt(m), F_p the particular equilibrium (per-unit
final values f_k,inf), T(s) = sum_k c_k^2 (s I + lambda H_k)^{-1} H_k.

Known limitations
-----------------
- :func:`lemma65_clusters` raises :class:`NotApplicable` when a pole lies within
  ``SINGULAR_RTOL`` of the singular set lambda * eig(H_k), or when two distinct poles are closer
  than 1e3 * ``CLUSTER_RTOL``. The checks count such instances instead of judging them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .. import spectral, theory
from ._cases import EPS, KernelCase

# Poles closer than this (relative) are one cluster: random instances never produce distinct poles
# this close, while exactly repeated poles (identical units, lambda = 0) agree to about 1e-14.
CLUSTER_RTOL = 1e-9
# Poles this close (relative) to lambda * eig(H_k) count as on the singular set of T(-p).
SINGULAR_RTOL = 1e-7
# Largest |eigenvalue of T(-p) + 1| accepted as "-1 is an eigenvalue" at a computed pole: the pole's
# rounding moves the eigenvalue by slope * size * eps * p_max, far below this for the instances judged.
EIGENVALUE_MATCH = 1e-6
# Relative singular-value threshold for the null spaces of Hbar in exact_limit: backward error of
# the SVD is about size * eps * ||Hbar||, times a safety factor of 100.
NULL_FACTOR = 100.0


class NotApplicable(Exception):
    """The instance violates a hypothesis of the statement (poles on the singular set, near-ties)."""


class OnSingularSet(NotApplicable):
    """A pole lies on the singular set lambda * eig(H_k), where p I - lambda H_k is not invertible."""


def particular(case: KernelCase) -> np.ndarray:
    """Return a particular equilibrium F_p of the feature ODE, shape (m, n), solved here directly.

    Equilibrium means c_k (y - c^T F) + lambda (phi_k - f_k) = 0 for every k, that is
    (c c^T + lambda I) F = c y^T + lambda Phi^T. For lambda = 0 the choice F = c y^T / a_bar is
    used (any F with c^T F = y works). Kept apart from :mod:`ktheory.theory` on purpose, so that
    the printed formulas there are checked against an independent computation.
    """
    c, lam = case.c, case.lam
    if lam > 0:
        C = np.outer(c, c) + lam * np.eye(case.m)
        return np.linalg.solve(C, np.outer(c, case.y) + lam * case.Phi.T)
    abar = float(c @ c)
    if abar == 0.0:
        raise NotApplicable("all a_k = 0 and lambda = 0: the output cannot move")
    return np.outer(c, case.y) / abar


def exact_outputs(case: KernelCase, times) -> np.ndarray:
    """Return f(t) of the kernel-regime flow at ``times`` via scipy.linalg.expm, shape (len(times), n)."""
    Hbar = spectral.block_matrix(case.blocks(), case.a, case.lam)
    Fp = particular(case)
    eta0 = (case.features() - Fp).reshape(-1)
    times = np.atleast_1d(np.asarray(times, dtype=float))
    eta = np.stack([sla.expm(-t * Hbar) @ eta0 for t in times])
    F = Fp[None] + eta.reshape(times.size, case.m, case.n)
    return np.einsum("k,tkn->tn", case.c, F)


def zero_projector(Hbar: np.ndarray) -> tuple[np.ndarray, int]:
    """Return (P_0, nullity): the projector on ker(Hbar) along range(Hbar), from SVD null spaces.

    Hbar is diagonalizable (it is similar to a symmetric matrix), so ker and range are
    complementary and P_0 = N (M^T N)^{-1} M^T with N spanning ker(Hbar), M spanning ker(Hbar^T).
    """
    size = Hbar.shape[0]
    U, s, Vt = np.linalg.svd(Hbar)
    tol = NULL_FACTOR * size * EPS * max(s[0] if s.size else 0.0, 1e-300)
    rank = int(np.count_nonzero(s > tol))
    N = Vt[rank:].T  # right null space
    M = U[:, rank:]  # left null space
    if N.shape[1] == 0:
        return np.zeros_like(Hbar), 0
    P0 = N @ np.linalg.solve(M.T @ N, M.T)
    return P0, size - rank


def split_condition(case: KernelCase) -> float:
    """Return ||Hbar|| / (smallest nonzero singular value of Hbar), at least 1.

    It bounds how much rounding can move vectors between ker(Hbar) and the decaying modes, so it
    multiplies the tolerance of every comparison involving the exact limit.
    """
    Hbar = spectral.block_matrix(case.blocks(), case.a, case.lam)
    s = np.linalg.svd(Hbar, compute_uv=False)
    if s.size == 0 or s[0] == 0.0:
        return 1.0
    nonzero = s[s > NULL_FACTOR * s.size * EPS * s[0]]
    return float(max(1.0, s[0] / nonzero.min()))


def exact_limit(case: KernelCase) -> tuple[np.ndarray, np.ndarray, int]:
    """Return (F_inf (m, n), f_inf (n,), nullity of Hbar) of the kernel-regime flow."""
    H = case.blocks()
    Hbar = spectral.block_matrix(H, case.a, case.lam)
    P0, nul = zero_projector(Hbar)
    Fp = particular(case)
    d0 = (case.features() - Fp).reshape(-1)
    Finf = Fp + (P0 @ d0).reshape(Fp.shape)
    return Finf, case.c @ Finf, nul


@dataclass
class ModeCluster:
    """One cluster of equal nonzero poles with Lemma 6.5's vectors.

    ``V`` (n, r): orthonormal eigenvectors of T(-p) for the eigenvalue -1; ``R`` and ``L``
    (m n, r): right and left eigenvectors of Hbar, blocks c_k (p I - lambda H_k)^{-1} H_k V and
    c_k (p I - lambda H_k)^{-1} V, not normalised; ``t_residual``: largest |eig(T(-p)) + 1| used.
    """

    p: float
    V: np.ndarray
    R: np.ndarray
    L: np.ndarray
    t_residual: float


def _clusters(values: np.ndarray) -> list[np.ndarray]:
    groups, start = [], 0
    for i in range(1, values.size + 1):
        if i == values.size or values[i] - values[i - 1] > CLUSTER_RTOL * abs(values[i]):
            groups.append(np.arange(start, i))
            start = i
    return groups


def nonzero_poles(case: KernelCase) -> tuple[np.ndarray, int]:
    """Return (nonzero poles ascending, number of zero poles) from the symmetric-definite route."""
    basis = spectral.eigen_decomposition(case.blocks(), case.a, case.lam, vectors=False)
    return basis.nonzero, basis.zero_count


def lemma65_clusters(case: KernelCase, poles: np.ndarray | None = None) -> list[ModeCluster]:
    """Build Lemma 6.5's eigenvectors of Hbar at every nonzero pole, one cluster of equal poles at a time.

    Raises NotApplicable for lambda = 0, for a pole on the singular set lambda * eig(H_k) and for
    distinct poles closer than 1e3 * CLUSTER_RTOL that are not one cluster.
    """
    if case.lam == 0:
        raise NotApplicable("lambda = 0: T(s) = sum_k c_k^2 H_k / s and Lemma 6.5 degenerates")
    if case_is_ambiguous(case):
        raise NotApplicable("an eigenvalue is too close to zero to classify in float64")
    H = case.blocks()
    c, lam, n, m = case.c, case.lam, case.n, case.m
    if poles is None:
        poles, _ = nonzero_poles(case)
    poles = np.sort(np.asarray(poles, dtype=float))
    h = np.array([np.linalg.eigvalsh(Hk) for Hk in H])
    hpos = h[h > 10 * n * EPS * max(abs(h).max(initial=0.0), 1e-300)]
    groups = _clusters(poles)
    means = np.array([poles[g].mean() for g in groups])
    if means.size > 1 and np.min(np.diff(means) / means[1:]) < 1e3 * CLUSTER_RTOL:
        raise NotApplicable("two distinct poles are nearly equal; their Lemma 6.5 vectors are ill-conditioned")
    out = []
    eye = np.eye(n)
    for g, p in zip(groups, means):
        if hpos.size and np.min(np.abs(p - lam * hpos)) <= SINGULAR_RTOL * p:
            raise OnSingularSet(f"pole {p:.6g} lies on the singular set lambda * eig(H_k)")
        try:
            T = spectral.transfer_matrix(-p, H, case.a, lam)
        except ValueError as exc:
            raise OnSingularSet(f"T(-p) is singular at the pole {p:.6g} ({exc})") from None
        w, Q = np.linalg.eigh(0.5 * (T + T.T))
        pick = np.argsort(np.abs(w + 1.0))[: g.size]
        if np.abs(w[pick] + 1.0).max() > EIGENVALUE_MATCH:
            # Fewer eigenvalues -1 than poles in the cluster: near-equal but distinct poles (nearly
            # identical units) merged into one cluster, where the construction does not apply.
            raise NotApplicable(f"T(-p) at p = {p:.6g} has fewer eigenvalues near -1 than the cluster has poles")
        V = Q[:, pick]
        R = np.concatenate([c[k] * np.linalg.solve(p * eye - lam * H[k], H[k] @ V) for k in range(m)])
        L = np.concatenate([c[k] * np.linalg.solve(p * eye - lam * H[k], V) for k in range(m)])
        out.append(ModeCluster(float(p), V, R, L, float(np.abs(w[pick] + 1.0).max())))
    return out


def derived_modal_outputs(case: KernelCase, times, clusters: list[ModeCluster] | None = None) -> np.ndarray:
    """Return f(t) from the corrected modal expansion, shape (len(times), n).

    f(t) = f_inf + sum_j exp(-p_j t) V_j G_j^{-1} L_j^T eta(0), G_j = L_j^T R_j, with f_inf the
    exact limit (equal to Theorem 3.1's value when no pole is zero).
    """
    times = np.atleast_1d(np.asarray(times, dtype=float))
    if clusters is None:
        clusters = lemma65_clusters(case)
    eta0 = (case.features() - particular(case)).reshape(-1)
    _, finf, _ = exact_limit(case)
    out = np.repeat(finf[None, :], times.size, axis=0)
    for cl in clusters:
        coef = np.linalg.solve(cl.L.T @ cl.R, cl.L.T @ eta0)
        out += np.exp(-cl.p * times)[:, None] * (cl.V @ coef)[None, :]
    return out


def printed_alpha(case: KernelCase, p: float, v: np.ndarray) -> float:
    """Return alpha_j as printed: sum_k c_k^2 <v, H_k (p I - lambda H_k)^{-1} (f_k,inf - f_k(0))>."""
    H = case.blocks()
    Finf = theory.unit_final_values(case.y, case.Phi, case.a, case.lam)
    F0 = case.features()
    eye = np.eye(case.n)
    total = 0.0
    for k in range(case.m):
        total += case.c[k] ** 2 * float(v @ (H[k] @ np.linalg.solve(p * eye - case.lam * H[k], Finf[k] - F0[k])))
    return total


def eigen_condition(cl: ModeCluster) -> float:
    """Return the eigenvalue condition number ||L|| ||R|| ||G^{-1}|| of a cluster (>= 1)."""
    G = cl.L.T @ cl.R
    return float(np.linalg.norm(cl.L, 2) * np.linalg.norm(cl.R, 2) * np.linalg.norm(np.linalg.inv(G), 2))


# An eigenvalue between AMBIGUOUS_LOW and AMBIGUOUS_HIGH times size * eps * scale can be an exact
# zero blurred by rounding or a genuine tiny value (a saturated sigmoid unit); float64 cannot tell.
AMBIGUOUS_LOW = 1.0
AMBIGUOUS_HIGH = 1e6


def rank_is_ambiguous(values, scale: float, size: int) -> bool:
    """Return True when some |value| lies in the band where float64 cannot tell zero from nonzero."""
    values = np.abs(np.asarray(values, dtype=float))
    unit = size * EPS * max(scale, 1e-300)
    return bool(np.any((values > AMBIGUOUS_LOW * unit) & (values < AMBIGUOUS_HIGH * unit)))


def case_is_ambiguous(case: KernelCase) -> bool:
    """Return True when an eigenvalue of some H_k or a singular value of Hbar is near the zero threshold.

    Those instances need more than float64 digits to decide which eigenvalues are zero.
    """
    H = case.blocks()
    h = np.concatenate([np.linalg.eigvalsh(Hk) for Hk in H])
    scale = float(np.abs(h).max(initial=0.0))
    if scale == 0.0:
        return False
    if rank_is_ambiguous(h, scale, case.n):
        return True
    s = np.linalg.svd(spectral.block_matrix(H, case.a, case.lam), compute_uv=False)
    return rank_is_ambiguous(s, float(s[0]), case.m * case.n)
