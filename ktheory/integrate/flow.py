"""Gradient flow dW/dt = -grad L of the transfer loss, integrated by scipy's solve_ivp.

The loss and its conventions are those of :mod:`ktheory.integrate.gd`; gradient descent with step
eta after r steps approximates the flow at t = eta r with an error O(eta) (Euler's method). The
right-hand side is the compiled weight-form kernel (state W, M d unknowns) or, in the kernel form,
dZ/dt = K E and dS/dt = E with K = X X^T (state (Z, S), 2 n M unknowns, so far smaller when
n < d), W(t) = W0 + S(t)^T X.

Known limitations
-----------------
- The default method DOP853 is explicit: its step is limited by stability to about
  3 / lambda_max of Hbar, so long horizons t >> 1 / p_min cost many right-hand sides. For such
  stiff runs pass method="LSODA" (switches to BDF automatically) or "Radau"; both use a
  finite-difference Jacobian of the flattened state, affordable only for small M d (or 2 n M).
- rtol and atol bound the local error per step of the solver, not the global error in f.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.integrate import solve_ivp

from ..errors import InvalidArgumentError, as_finite_array, check_positive
from .gd import (FUSED_MAX_UNITS, GDResult, ModelSpec, _check_model, _KernelState, _Recorder, _Stack,
                 _WeightState, choose_form)

__all__ = ["gradient_flow", "FLOW_METHODS"]

FLOW_METHODS = ("DOP853", "RK45", "LSODA", "Radau", "BDF")


def gradient_flow(X, y, a, W0, Phi, lam, activation, times, rtol=1e-8, atol=1e-10, *, method="DOP853",
                  form="auto", X_test=None, y_test=None, Phi_test=None, record_kernel_change=False,
                  record_features=True, max_step=np.inf) -> GDResult:
    """Integrate the gradient flow of L from W0 and record the history at ``times`` (ascending, >= 0).

    Returns a :class:`GDResult` whose history has the keys of :func:`gradient_descent` with
    "time" = times and "iteration" = NaN; ``iterations`` is the number of right-hand-side
    evaluations, ``step`` is NaN, and ``status`` is "ok" or "failed" (solver message in
    ``message``). ``rtol``/``atol`` go to solve_ivp (atol in units of the state: W, or Z and S).
    """
    start = time.perf_counter()
    X = np.ascontiguousarray(as_finite_array("X", X, ndim=2))
    n, d = X.shape
    times = as_finite_array("times", np.atleast_1d(times), ndim=1)
    if times.size == 0 or np.any(times < 0) or np.any(np.diff(times) < 0):
        raise InvalidArgumentError(f"times must be a non-empty ascending array of values >= 0; got {times!r}")
    rtol = check_positive(rtol, "rtol")
    atol = check_positive(atol, "atol")
    if method not in FLOW_METHODS:
        raise InvalidArgumentError(f"method must be one of {', '.join(FLOW_METHODS)}; got {method!r}")
    if X_test is not None:
        X_test = as_finite_array("X_test", X_test, shape=(None, d))
    n_test = None if X_test is None else X_test.shape[0]
    # step = 1 makes the recorder's "time" equal to the flow time and W = W0 + S^T X.
    spec = ModelSpec(y=y, a=a, W0=W0, Phi=Phi, lam=lam, activation=activation, step=1.0,
                     y_test=y_test, Phi_test=Phi_test)
    stack = _Stack([_check_model(spec, 0, n, d, n_test)], n)
    form = choose_form(n, d, form)
    if form == "kernel":
        state = _KernelState(X, stack, X_test)
        shape = (2,) + state.Z.shape

        def load(vec):
            both = vec.reshape(shape)
            state.Z[...] = both[0]
            state.S[...] = both[1]

        def rhs(t, vec):
            load(vec)
            state.evaluate()
            return np.concatenate([(state.K @ state.E).ravel(), state.E.ravel()])

        y0 = np.concatenate([state.Z.ravel(), state.S.ravel()])
    else:
        weight_kernel = "fused" if stack.M <= FUSED_MAX_UNITS else "gemm"
        state = _WeightState(X, stack, weight_kernel)

        def load(vec):
            state.W[...] = vec.reshape(state.W.shape)

        def rhs(t, vec):
            load(vec)
            state.evaluate()
            return state.G.ravel().copy()

        y0 = state.W.ravel().copy()

    t_end = float(times[-1])
    if t_end > 0:
        sol = solve_ivp(rhs, (0.0, t_end), y0, method=method, t_eval=times, rtol=rtol, atol=atol,
                        max_step=max_step)
        status = "ok" if sol.success else "failed"
        message, nfev, states = sol.message, int(sol.nfev), sol.y.T
    else:
        status, message, nfev, states = "ok", "all times are 0", 0, np.repeat(y0[None], times.size, axis=0)

    recorder = _Recorder(stack, X, X_test, record_features, record_kernel_change)
    for t, vec in zip(times, states):
        load(vec)
        Z, _ = state.evaluate()
        recorder.record(float(t), state, Z)
    history = recorder.finish()[0]
    history["iteration"] = np.full(times.size, np.nan)
    mod = stack.models[0]
    return GDResult(W=state.weights(), W0=mod["W0"], iterations=nfev, step=float("nan"), status=status,
                    message=str(message), history=history, lam=mod["lam"], activation=mod["act"].name,
                    form=form, elapsed_s=time.perf_counter() - start)
