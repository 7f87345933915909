"""Compiled (Numba) kernels for one step of full-batch gradient descent on the transfer loss.

Notation: X (n, d) inputs, W (M, d) the stacked hidden weights of J models that share X,
``unit_model[u]`` the model of unit u, c (M,) the output weights c_u = a_u / sqrt(m_j),
Z = X W^T (n, M) the pre-activations, F = sigma(Z) the hidden features, Y (n, J) the labels,
Phi (n, M) the privileged features. For model j with data weight wd_j and regulariser weight
wr_j (wd = 1, wr = lambda for finite lambda; wd = 0, wr = 1 in the lambda -> infinity mode):

    r_j = y_j - sum_{u in j} c_u F_u                                (data residual)
    E_u = sigma'(Z_u) * (wd_j c_u r_j + wr_j (Phi_u - F_u))         (descent residual)
    loss_j = wd_j / 2 ||r_j||^2 + wr_j / 2 sum_{u in j} ||Phi_u - F_u||^2

and -grad_W loss = E^T X, so a GD step is W <- W + step E^T X. Every kernel writes Z, E, the
direction E^T X (where it computes it) and the per-model losses (J, 2) = (data term, regulariser
term) *without* their weights wd, wr, i.e. 1/2 ||r||^2 and 1/2 sum ||Phi_u - F_u||^2.

Kernels:

- :func:`fused_weight_step` reads each group of ``_ROWS`` rows of X once: 4 x 4 register-blocked
  products give Z for those rows, the residuals follow, and the rows' share of E^T X is added
  while the rows are still in cache. Rows are split into a fixed number of chunks
  (``FUSED_CHUNKS``), one gradient accumulator per chunk, summed in a fixed order, so results do
  not depend on the number of threads.
- :func:`blocked_weight_step` does the same per block of ``BLAS_BLOCK_ROWS`` rows with two BLAS
  calls (``np.dot``) per block. It suits large M, where the step is compute-bound and BLAS is
  faster than the hand-written loops.
- :func:`residual_step` computes E and the losses from a given Z (the kernel form, which then
  updates Z <- Z + step K E with K = X X^T outside).

Known limitations
-----------------
- The register-blocked loops are compiled with ``reassoc`` and ``contract`` fast-math flags, so
  dot products are summed in a different order than BLAS: results differ from NumPy at the level of
  d * eps * |x| |w|, not bit for bit. NaN and infinity still propagate (no ``nnan``/``ninf`` flags).
- Activation codes are those of :mod:`ktheory.activations`; a new activation needs a branch in
  :func:`_sigma_dsigma`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "FUSED_CHUNKS",
    "BLAS_BLOCK_ROWS",
    "activation_values",
    "fused_weight_step",
    "blocked_weight_step",
    "residual_step",
]

FUSED_CHUNKS = 4
"""Row chunks of the fused kernel, fixed so that the summation order (and so every bit of the
result) does not depend on the thread count; 4 keeps two threads busy with little extra memory."""

BLAS_BLOCK_ROWS = 256
"""Rows per BLAS call in the blocked kernel: 256 x 3072 float64 rows (6 MiB) stay in the last-level
cache between the two products; 128 to 512 measured within 10% of each other."""

_FAST = {"reassoc", "contract"}
_ROWS = 16
"""Rows per group of the fused kernel (a multiple of 8). W and G are swept once per group, so
16 rows halve that traffic against 8 and measured about 2x faster at m = 20, d = 3072; 32 gave no more."""
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@njit(cache=True, inline="always")
def _sigma_dsigma(z, code):
    """Return (sigma(z), sigma'(z)) for the activation with integer ``code``."""
    if code == 0:  # relu, with sigma'(0) = 0
        if z > 0.0:
            return z, 1.0
        return 0.0, 0.0
    if code == 1:  # sigmoid, evaluated without overflow for large |z|
        if z >= 0.0:
            s = 1.0 / (1.0 + math.exp(-z))
        else:
            ez = math.exp(z)
            s = ez / (1.0 + ez)
        return s, s * (1.0 - s)
    if code == 2:  # tanh
        t = math.tanh(z)
        return t, 1.0 - t * t
    if code == 3:  # softplus log(1 + e^z), derivative sigmoid
        if z >= 0.0:
            s = 1.0 / (1.0 + math.exp(-z))
        else:
            ez = math.exp(z)
            s = ez / (1.0 + ez)
        return max(z, 0.0) + math.log1p(math.exp(-abs(z))), s
    if code == 4:  # erf
        return math.erf(z), _TWO_OVER_SQRT_PI * math.exp(-z * z)
    if code == 5:  # gelu z Phi(z), Phi the standard normal cdf
        cdf = 0.5 * math.erfc(-z * _INV_SQRT2)
        pdf = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
        return z * cdf, cdf + z * pdf
    return math.nan, math.nan


@njit(cache=True)
def activation_values(Z, code):
    """Return (sigma(Z), sigma'(Z)) elementwise for a 2-D array Z; used to test the branches."""
    S = np.empty_like(Z)
    D = np.empty_like(Z)
    for i in range(Z.shape[0]):
        for k in range(Z.shape[1]):
            S[i, k], D[i, k] = _sigma_dsigma(Z[i, k], code)
    return S, D


@njit(cache=True, inline="always")
def _row_residual(zrow, i, c, unit_model, codes, Y, Phi, wd, wr, erow, frow, fmodel, losses):
    """Fill erow (M,) with the descent residual of sample i from its pre-activations zrow (M,).

    ``frow`` (M,) and ``fmodel`` (J,) are workspaces; losses (J, 2) accumulates 1/2 r^2 and
    1/2 sum (Phi - F)^2 of this sample.
    """
    M = zrow.shape[0]
    J = fmodel.shape[0]
    for j in range(J):
        fmodel[j] = 0.0
    for u in range(M):
        j = unit_model[u]
        s, ds = _sigma_dsigma(zrow[u], codes[j])
        frow[u] = s
        erow[u] = ds
        fmodel[j] += c[u] * s
    for j in range(J):
        r = Y[i, j] - fmodel[j]
        fmodel[j] = r
        losses[j, 0] += 0.5 * r * r
    for u in range(M):
        j = unit_model[u]
        g = wd[j] * c[u] * fmodel[j]
        if wr[j] != 0.0:
            diff = Phi[i, u] - frow[u]
            losses[j, 1] += 0.5 * diff * diff
            g += wr[j] * diff
        erow[u] *= g


@njit(cache=True, fastmath=_FAST, inline="always")
def _dot4x4(x0, x1, x2, x3, W, k, z, d):
    """Write the 4 x 4 block z[0:4, k:k+4] = rows x0..x3 times units k..k+3 of W."""
    w0 = W[k]
    w1 = W[k + 1]
    w2 = W[k + 2]
    w3 = W[k + 3]
    a00 = a01 = a02 = a03 = 0.0
    a10 = a11 = a12 = a13 = 0.0
    a20 = a21 = a22 = a23 = 0.0
    a30 = a31 = a32 = a33 = 0.0
    for j in range(d):
        v0 = x0[j]
        v1 = x1[j]
        v2 = x2[j]
        v3 = x3[j]
        u0 = w0[j]
        u1 = w1[j]
        u2 = w2[j]
        u3 = w3[j]
        a00 += v0 * u0
        a01 += v0 * u1
        a02 += v0 * u2
        a03 += v0 * u3
        a10 += v1 * u0
        a11 += v1 * u1
        a12 += v1 * u2
        a13 += v1 * u3
        a20 += v2 * u0
        a21 += v2 * u1
        a22 += v2 * u2
        a23 += v2 * u3
        a30 += v3 * u0
        a31 += v3 * u1
        a32 += v3 * u2
        a33 += v3 * u3
    z[0, k] = a00
    z[0, k + 1] = a01
    z[0, k + 2] = a02
    z[0, k + 3] = a03
    z[1, k] = a10
    z[1, k + 1] = a11
    z[1, k + 2] = a12
    z[1, k + 3] = a13
    z[2, k] = a20
    z[2, k + 1] = a21
    z[2, k + 2] = a22
    z[2, k + 3] = a23
    z[3, k] = a30
    z[3, k + 1] = a31
    z[3, k + 2] = a32
    z[3, k + 3] = a33


@njit(cache=True, fastmath=_FAST, inline="always")
def _dot4x1(x0, x1, x2, x3, w, k, z, d):
    a0 = a1 = a2 = a3 = 0.0
    for j in range(d):
        u = w[j]
        a0 += x0[j] * u
        a1 += x1[j] * u
        a2 += x2[j] * u
        a3 += x3[j] * u
    z[0, k] = a0
    z[1, k] = a1
    z[2, k] = a2
    z[3, k] = a3


@njit(cache=True, fastmath=_FAST, inline="always")
def _axpy8x4(x0, x1, x2, x3, x4, x5, x6, x7, e, u, G, d):
    """Add the 8-row, 4-unit block e[0:8, u:u+4]^T [x0; ...; x7] to G[u:u+4]."""
    g0 = G[u]
    g1 = G[u + 1]
    g2 = G[u + 2]
    g3 = G[u + 3]
    a0, a1, a2, a3, a4, a5, a6, a7 = e[0, u], e[1, u], e[2, u], e[3, u], e[4, u], e[5, u], e[6, u], e[7, u]
    b0, b1, b2, b3 = e[0, u + 1], e[1, u + 1], e[2, u + 1], e[3, u + 1]
    b4, b5, b6, b7 = e[4, u + 1], e[5, u + 1], e[6, u + 1], e[7, u + 1]
    c0, c1, c2, c3 = e[0, u + 2], e[1, u + 2], e[2, u + 2], e[3, u + 2]
    c4, c5, c6, c7 = e[4, u + 2], e[5, u + 2], e[6, u + 2], e[7, u + 2]
    d0, d1, d2, d3 = e[0, u + 3], e[1, u + 3], e[2, u + 3], e[3, u + 3]
    d4, d5, d6, d7 = e[4, u + 3], e[5, u + 3], e[6, u + 3], e[7, u + 3]
    for j in range(d):
        v0 = x0[j]
        v1 = x1[j]
        v2 = x2[j]
        v3 = x3[j]
        v4 = x4[j]
        v5 = x5[j]
        v6 = x6[j]
        v7 = x7[j]
        g0[j] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3 + a4 * v4 + a5 * v5 + a6 * v6 + a7 * v7
        g1[j] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3 + b4 * v4 + b5 * v5 + b6 * v6 + b7 * v7
        g2[j] += c0 * v0 + c1 * v1 + c2 * v2 + c3 * v3 + c4 * v4 + c5 * v5 + c6 * v6 + c7 * v7
        g3[j] += d0 * v0 + d1 * v1 + d2 * v2 + d3 * v3 + d4 * v4 + d5 * v5 + d6 * v6 + d7 * v7


@njit(cache=True, fastmath=_FAST, inline="always")
def _axpy8x1(x0, x1, x2, x3, x4, x5, x6, x7, e, u, gu, d):
    a0, a1, a2, a3, a4, a5, a6, a7 = e[0, u], e[1, u], e[2, u], e[3, u], e[4, u], e[5, u], e[6, u], e[7, u]
    for j in range(d):
        gu[j] += (a0 * x0[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j]
                  + a4 * x4[j] + a5 * x5[j] + a6 * x6[j] + a7 * x7[j])


@njit(cache=True, fastmath=_FAST)
def _fused_chunk(X, W, c, unit_model, codes, Y, Phi, wd, wr, lo, hi, Z, E, G, losses):
    """Process rows lo..hi-1: write Z and E rows, add their share of E^T X to G (M, d).

    Rows go in groups of ``_ROWS``: Z for the group by 4-row x 4-unit register blocks, then the
    residuals, then the group's share of E^T X by 8-row x 4-unit blocks. The group's rows of X
    stay in cache between the two phases, and W and G are swept once per group.
    """
    M, d = W.shape
    J = wd.shape[0]
    z = np.empty((_ROWS, M))
    e = np.empty((_ROWS, M))
    frow = np.empty(M)
    fmodel = np.empty(J)
    quads = M - M % 4
    s = lo
    while s + _ROWS <= hi:
        for k in range(0, quads, 4):
            for q in range(0, _ROWS, 4):
                _dot4x4(X[s + q], X[s + q + 1], X[s + q + 2], X[s + q + 3], W, k, z[q:q + 4], d)
        for k in range(quads, M):
            for q in range(0, _ROWS, 4):
                _dot4x1(X[s + q], X[s + q + 1], X[s + q + 2], X[s + q + 3], W[k], k, z[q:q + 4], d)

        for r in range(_ROWS):
            _row_residual(z[r], s + r, c, unit_model, codes, Y, Phi, wd, wr, e[r], frow, fmodel, losses)
            for u in range(M):
                Z[s + r, u] = z[r, u]
                E[s + r, u] = e[r, u]

        for u in range(0, quads, 4):
            for q in range(0, _ROWS, 8):
                _axpy8x4(X[s + q], X[s + q + 1], X[s + q + 2], X[s + q + 3], X[s + q + 4], X[s + q + 5],
                         X[s + q + 6], X[s + q + 7], e[q:q + 8], u, G, d)
        for u in range(quads, M):
            for q in range(0, _ROWS, 8):
                _axpy8x1(X[s + q], X[s + q + 1], X[s + q + 2], X[s + q + 3], X[s + q + 4], X[s + q + 5],
                         X[s + q + 6], X[s + q + 7], e[q:q + 8], u, G[u], d)
        s += _ROWS

    while s < hi:  # the last rows of the chunk, fewer than _ROWS
        xs = X[s]
        for u in range(M):
            wu = W[u]
            acc = 0.0
            for j in range(d):
                acc += xs[j] * wu[j]
            z[0, u] = acc
        _row_residual(z[0], s, c, unit_model, codes, Y, Phi, wd, wr, e[0], frow, fmodel, losses)
        for u in range(M):
            Z[s, u] = z[0, u]
            E[s, u] = e[0, u]
            gu = G[u]
            eu = e[0, u]
            for j in range(d):
                gu[j] += eu * xs[j]
        s += 1


@njit(cache=True, parallel=True)
def fused_weight_step(X, W, c, unit_model, codes, Y, Phi, wd, wr, Z, E, G, losses):
    """Compute Z = X W^T, E, G = E^T X (M, d) and losses (J, 2) at W in one pass over X.

    Arrays must be C-contiguous float64 (``unit_model`` and ``codes`` int64). ``Phi`` must have
    shape (n, M) even when every wr is 0, in which case it is not read.
    """
    n = X.shape[0]
    M, d = W.shape
    J = wd.shape[0]
    chunks = FUSED_CHUNKS
    size = ((n + chunks - 1) // chunks + _ROWS - 1) // _ROWS * _ROWS
    acc = np.zeros((chunks, M, d))
    acc_loss = np.zeros((chunks, J, 2))
    for ch in prange(chunks):
        lo = min(n, ch * size)
        hi = min(n, lo + size)
        _fused_chunk(X, W, c, unit_model, codes, Y, Phi, wd, wr, lo, hi, Z, E, acc[ch], acc_loss[ch])
    G[:, :] = acc[0]
    losses[:, :] = acc_loss[0]
    for ch in range(1, chunks):
        G += acc[ch]
        losses += acc_loss[ch]


@njit(cache=True)
def blocked_weight_step(X, W, c, unit_model, codes, Y, Phi, wd, wr, Z, E, G, losses):
    """Same outputs as :func:`fused_weight_step`, with two BLAS products per row block."""
    n = X.shape[0]
    M, d = W.shape
    J = wd.shape[0]
    B = BLAS_BLOCK_ROWS
    frow = np.empty(M)
    fmodel = np.empty(J)
    erow = np.empty(M)
    Et = np.empty((M, B))
    G[:, :] = 0.0
    losses[:, :] = 0.0
    for s in range(0, n, B):
        e_ = min(n, s + B)
        rows = e_ - s
        Xb = X[s:e_]
        # W X_b^T is the faster orientation for OpenBLAS; one transpose copy gives contiguous rows.
        Zb = np.ascontiguousarray(np.dot(W, Xb.T).T)  # (rows, M)
        for i in range(rows):
            zrow = Zb[i]
            _row_residual(zrow, s + i, c, unit_model, codes, Y, Phi, wd, wr, erow, frow, fmodel, losses)
            for u in range(M):
                Z[s + i, u] = zrow[u]
                E[s + i, u] = erow[u]
                Et[u, i] = erow[u]
        if rows == B:
            G += np.dot(Et, Xb)
        else:
            G += np.dot(np.ascontiguousarray(Et[:, :rows]), Xb)


@njit(cache=True)
def residual_step(Z, c, unit_model, codes, Y, Phi, wd, wr, E, losses):
    """Write E (n, M) and losses (J, 2) from the pre-activations Z (n, M): the kernel-form step."""
    n, M = Z.shape
    J = wd.shape[0]
    frow = np.empty(M)
    fmodel = np.empty(J)
    losses[:, :] = 0.0
    for i in range(n):
        _row_residual(Z[i], i, c, unit_model, codes, Y, Phi, wd, wr, E[i], frow, fmodel, losses)
