"""Claims on what gradient descent does at finite width: final value, rate, weight movement.

Panahi et al. (2022). Symbols: c_k = a_k / sqrt(m), a_bar = sum_k c_k^2, b = sum_k c_k phi_k,
f_inf = (a_bar y + lambda b) / (a_bar + lambda) (Theorem 3.1, eq. (5)), Hbar the block matrix
of the kernel regime with poles p_min <= ... <= p_max, H = sum_k c_k^2 H_k.

Checks:

- ``thm3.1``: real GD at widths m = 10 ... run to convergence; distance of f(T) to eq. (5).
- ``gd-rate``: GD at steps below, at and above mu = 1 / (2 p_max) and at and above 2 / p_max;
  measured per-iteration rate against 1 - mu p_min, in the kernel regime (exact linear
  iteration) and along real GD.
- ``generalization-bound``: sum_k ||w_k - w_k(0)||^2 against y^T H^{-1} y at lambda = 0, and the
  claim that a larger lambda moves the weights less.
- ``lambda-infinity-dynamics``: with lambda -> infinity and the student initialised at the
  teacher, the weights stay where they are.

Step-size convention: the loss here carries halves (gradient flow is exactly the paper's ODE (9));
the paper's loss (2) has none, so its GD step mu equals a step of 2 mu here. ``gd-rate`` checks
the rate statement in both conventions.

Known limitations
-----------------
- "Convergence" of a GD run is judged by the change of f over the second half of the run; a run
  that has not converged is reported and makes the claim inconclusive instead of failing it.
- Width sweeps stop at m = 100 (quick) or 1000 (paper) for cost.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidArgumentError
from ..model import forward, hidden_features
from ..ntk import network_kernel
from ..spectral import block_matrix, eigen_decomposition, pole_bounds
from ..theory import final_value, unit_final_values
from . import _trajectories as tr
from .base import CheckResult, Counterexample, decide, register, register_replay

SETTINGS = {
    "quick": {
        "dynamics.widths": [10, 30, 100],
        "dynamics.seeds": 2,
        "dynamics.rate_instances": 3,
        "dynamics.lambdas": [0.0, 0.1, 1.0, 10.0],
    },
    "paper": {
        "dynamics.widths": [10, 30, 100, 300, 1000],
        "dynamics.seeds": 4,
        "dynamics.rate_instances": 10,
        "dynamics.lambdas": [0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0],
    },
}

MAX_ITERATIONS = 40000
"""Cap on GD iterations of one run (the horizons below need at most a few thousand here)."""

THM31_MAX_TIME = 400.0
"""Cap on the horizon of a Theorem 3.1 run; with kappa = 0.1 and n = 4 < d = 10 the bound
30 / (lambda sigma_0) stays below it."""

CONVERGED = 1e-7
"""A run counts as converged when ||f(T) - f(T/2)|| <= CONVERGED (1 + ||f_inf||)."""


def _horizon_run(problem, lam, horizon, safety=0.5):
    """Run GD with a stable step to gradient-flow time ``horizon``; return (traj, f_half, f_end)."""
    step = tr.stable_step(problem, lam, safety)
    iterations = int(min(math.ceil(horizon / step), MAX_ITERATIONS))
    half = max(iterations // 2, 1)
    traj = tr.run_gd(problem, lam, step, [half, max(iterations - half, 1)])
    if traj.status != "ok":
        return traj, None, None
    f = [forward(problem.X, W, problem.a, problem.activation) for W in traj.W]
    return traj, f[1], f[2]


# --------------------------------------------------------------------------------------------
# Theorem 3.1 along GD
# --------------------------------------------------------------------------------------------

def thm31_run(m, seed, lam, teacher, activation, kappa, n, d, max_time=None) -> dict:
    """Run GD to convergence at width m and return the distance of f(T) to eq. (5)."""
    rng = np.random.default_rng([seed, m])
    problem = tr.make_problem(rng, n, d, m, activation, kappa, teacher, gap=1.0 / m)
    f5 = final_value(problem.y, problem.Phi, problem.a, lam)
    bounds = pole_bounds(tr.unit_grams(problem, problem.W0), problem.a, lam)
    # Horizon 30 / p_min from the lower bound lambda sigma_0, capped at THM31_MAX_TIME.
    p_low = bounds["lower"] if bounds["lower"] > 0 else 1.0
    traj, f_half, f_end = _horizon_run(problem, lam, min(30.0 / p_low, max_time or THM31_MAX_TIME))
    if f_end is None:
        return {"m": m, "seed": seed, "status": traj.status}
    scale = 1.0 + float(np.linalg.norm(f5))
    return {"m": m, "seed": seed, "status": "ok", "error": float(np.linalg.norm(f_end - f5)),
            "residual": float(np.linalg.norm(f_end - f_half)), "scale": scale,
            "time": float(traj.times[-1]), "iterations": int(traj.iterations[-1])}


@register(
    "thm3.1", "dynamics", "Theorem 3.1 along GD: the final output is eq. (5) up to o_m(1)",
    "Suppose m is large and ||phi_k - f_k(0)|| = O(1/m). Under mild conditions, lim_t f(t) = "
    "(a y + lambda sum_k a_k phi_k / sqrt(m)) / (a + lambda) + o_m(1).",
)
def check_thm31(ctx) -> CheckResult:
    widths = [int(m) for m in ctx.get("dynamics.widths", [10, 30, 100])]
    seeds = int(ctx.get("dynamics.seeds", 2))
    base = int(ctx.rng.integers(2**31))
    # Regime of the assumptions: n < d and tanh, so every H_k stays nonsingular.
    rows = {}
    rows["near"] = [thm31_run(m, base + s, 1.0, "near", "tanh", 0.1, 4, 10) for m in widths for s in range(seeds)]
    # Evidence only, one seed each: a remote teacher (outside the theorem's hypothesis) and n > d
    # with ReLU, where the H_k are singular (outside Assumptions 1-2).
    rows["random"] = [thm31_run(m, base, 1.0, "random", "tanh", 0.1, 4, 10) for m in widths]
    singular = [thm31_run(m, base, 1.0, "near", "relu", 1.0, 12, 4, max_time=100.0) for m in widths]
    runs = rows["near"]
    converged = all(r["status"] == "ok" and r["residual"] <= CONVERGED * r["scale"] for r in runs)
    # A converged run sits at a stationary point; with every H_k invertible that point is eq. (5)
    # exactly, so the error must be at the level of the convergence residual.
    printed_ok = all(r["status"] == "ok" and r["error"] <= 10 * r["residual"] + CONVERGED * r["scale"]
                     for r in runs)
    singular_ok = [r for r in singular if r["status"] == "ok"]
    evidence = {
        "widths": widths, "seeds": seeds, "regime": "tanh, n = 4, d = 10, kappa = 0.1, lambda = 1",
        "near_teacher_runs": rows["near"], "remote_teacher_runs": rows["random"],
        "max_error": max((r.get("error", math.inf) for r in runs), default=None),
        "max_residual": max((r.get("residual", math.inf) for r in runs), default=None),
        "singular_regime": {"regime": "ReLU, n = 12 > d = 4 (H_k singular; outside Assumptions 1-2)",
                            "errors": [{"m": r["m"], "error": r["error"]} for r in singular_ok]},
        "integrator": tr.integrator_name(),
    }
    try:
        evidence["singular_regime"]["fit"] = tr.loglog_fit([r["m"] for r in singular_ok],
                                                           [r["error"] for r in singular_ok]).as_dict()
    except InvalidArgumentError as exc:
        evidence["singular_regime"]["fit"] = {"error": str(exc)}
    verdict = decide(printed_ok, None, converged)
    return CheckResult(
        verdict=verdict,
        computed=(f"GD to time min(30/(lambda sigma_0), {THM31_MAX_TIME:g}) at widths {widths} x {seeds} seeds, teacher within 1/m of the "
                  "student's features and a remote teacher; ||f(T) - eq. (5)|| against the convergence residual "
                  "||f(T) - f(T/2)||"),
        tolerance=CONVERGED,
        tolerance_reason="error must not exceed 10 x the convergence residual plus CONVERGED (1 + ||f_inf||)",
        evidence=evidence,
        reason="" if converged else "some GD runs did not converge within the iteration cap",
    )


# --------------------------------------------------------------------------------------------
# GD rate
# --------------------------------------------------------------------------------------------

RATE_RTOL = 1e-2
"""Tolerance on a measured rate, as a fraction of the per-step decrement 1 - rate. Two modes of
opposite sign in f make the windowed ratio ||f_end|| / ||f_start|| transiently slower than the
slowest mode; after 30 / (mu p_min) iterations that excess measured at most 0.4 % of the
decrement (paper profile, 10 instances)."""

RATE_FLOOR = 1e-10
"""Residuals below this fraction of the initial one are not used for the rate (rounding floor)."""


def measured_rate(errors) -> float:
    """Return the per-iteration contraction over the last quarter of the usable part of ``errors``."""
    e = np.asarray(errors, float)
    usable = np.flatnonzero(e > RATE_FLOOR * e[0])
    end = int(usable[-1]) if usable.size else 0
    if end < 8:
        end = e.size - 1
    start = end - max(end // 4, 1)
    if e[start] == 0:
        return 0.0
    return float((e[end] / e[start]) ** (1.0 / (end - start)))


def kernel_gd_rates(H, a, lam, eta0, c, steps, iterations) -> list[dict]:
    """Iterate eta <- eta - mu Hbar eta (GD in the kernel regime) and measure the rate of f - f_inf."""
    Hbar = block_matrix(H, a, lam)
    basis = eigen_decomposition(H, a, lam)
    p = basis.nonzero
    weights = np.abs(basis.left.T @ eta0)
    active = p[weights > 1e-12 * weights.max()]
    m, n = len(a), H.shape[1]
    out = []
    for mu in steps:
        eta = eta0.copy()
        errs = [float(np.linalg.norm(c @ eta.reshape(m, n)))]
        R = int(min(iterations(mu, p), MAX_ITERATIONS))
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(R):
                eta = eta - mu * (Hbar @ eta)
                errs.append(float(np.linalg.norm(c @ eta.reshape(m, n))))
                if not np.isfinite(errs[-1]) or errs[-1] > 1e30:
                    break
        out.append({"step": mu, "iterations": len(errs) - 1, "measured": measured_rate(errs),
                    "exact": float(np.abs(1 - mu * active).max()), "printed": float(1 - mu * p.min()),
                    "p_min": float(p.min()), "p_max": float(p.max())})
    return out


@register(
    "gd-rate", "dynamics", "GD rate: linear convergence (1 - mu p_min)^r for mu < 1/(2 p_max)",
    "For a sufficiently small step size, e.g. mu < 1/(2 p_max), ||f_r - f_inf|| = O((1 - mu p_min)^r).",
)
def check_gd_rate(ctx) -> CheckResult:
    rng = np.random.default_rng(ctx.rng.integers(2**32))
    kernel_rows = []
    for _ in range(int(ctx.get("dynamics.rate_instances", 3))):
        problem = tr.make_problem(rng, 3, 6, 3, "tanh", 0.1, "random")
        lam = float(rng.choice([1.0, 0.3]))
        H = tr.unit_grams(problem, problem.W0)
        basis = eigen_decomposition(H, problem.a, lam, vectors=False)
        pmax = float(basis.poles[-1])
        F0 = hidden_features(problem.X, problem.W0, problem.activation).T  # (m, n)
        eta0 = (F0 - unit_final_values(problem.y, problem.Phi, problem.a, lam)).reshape(-1)
        # Ours: step multiples of 1/(2 p_max) and of 2/p_max. Paper's convention: step 2 mu_paper.
        ours = {"below": 0.5 / (2 * pmax), "at": 1.0 / (2 * pmax), "above": 1.5 / (2 * pmax),
                "at-stability": 2.0 / pmax, "above-stability": 2.2 / pmax}
        rows = kernel_gd_rates(H, problem.a, lam, eta0, problem.c, list(ours.values()),
                               lambda mu, p: math.ceil(30.0 / (mu * p.min())) if mu * p.max() < 2 else 400)
        for (label, _), row in zip(ours.items(), rows):
            kernel_rows.append({"label": label, "convention": "loss with halves", "lam": lam, **row})
        paper = kernel_gd_rates(H, problem.a, lam, eta0, problem.c, [2 * 0.5 / (2 * pmax), 2 * 1.0 / (2 * pmax)],
                                lambda mu, p: math.ceil(30.0 / (mu * p.min())))
        for label, row in zip(("paper-below", "paper-at"), paper):
            # The paper's mu is half our step; its printed rate is 1 - mu_paper p_min.
            row = {**row, "printed": float(1 - row["step"] / 2 * row["p_min"])}
            kernel_rows.append({"label": label, "convention": "paper loss (2), no halves", "lam": lam, **row})
    def within(row):
        return row["measured"] <= row["printed"] + RATE_RTOL * (1 - row["printed"]) + 1e-12

    claimed = [r for r in kernel_rows if r["label"] in ("below", "at", "paper-below", "paper-at")]
    printed_ok = all(within(r) for r in claimed)
    # The exact rate max |1 - mu p_j| bounds the measured one; a measurement above it is unreliable.
    exact_ok = all(r["measured"] <= r["exact"] + RATE_RTOL * (1 - r["exact"]) + 1e-12 for r in claimed)

    # Real GD at finite width: rate of ||f_r - f(T)|| in the tail against the kernel-regime prediction.
    problem = tr.make_problem(rng, 3, 6, 60, "tanh", 0.1, "near", gap=0.1)
    lam = 1.0
    H0 = tr.unit_grams(problem, problem.W0)
    basis = eigen_decomposition(H0, problem.a, lam, vectors=False)
    pmin0, pmax0 = float(basis.nonzero.min()), float(basis.poles[-1])
    mu = 1.0 / (2 * pmax0)
    R = int(min(math.ceil(25.0 / (mu * pmin0)), MAX_ITERATIONS))
    f5 = final_value(problem.y, problem.Phi, problem.a, lam)
    traj = tr.run_gd(problem, lam, mu, [max(R // 50, 1)] * 50)
    errs = [float(np.linalg.norm(forward(problem.X, W, problem.a, problem.activation) - f5)) for W in traj.W]
    chunk = max(R // 50, 1)
    rate_real = measured_rate(errs) ** (1.0 / chunk)
    basis_end = eigen_decomposition(tr.unit_grams(problem, traj.W[-1]), problem.a, lam, vectors=False)
    pmin_end = float(basis_end.nonzero.min())
    predicted_worst = 1 - mu * min(pmin0, pmin_end)
    real_ok = rate_real <= predicted_worst + 1e-3 * mu * pmin0
    evidence = {"kernel_regime_runs": kernel_rows,
                "real_gd": {"m": 60, "step": mu, "iterations": int(traj.iterations[-1]), "measured": rate_real,
                            "printed_p_min_at_0": 1 - mu * pmin0, "printed_p_min_at_T": 1 - mu * pmin_end,
                            "status": traj.status},
                "measured_equals_max_abs_1_minus_mu_p": exact_ok, "integrator": tr.integrator_name()}
    verdict = decide(printed_ok and real_ok, None, exact_ok and traj.status == "ok")
    return CheckResult(
        verdict=verdict,
        computed=("kernel-regime GD eta <- (I - mu Hbar) eta on random small problems at mu = 0.5, 1, 1.5 times "
                  "1/(2 p_max) and 1, 1.1 times 2/p_max (both step conventions); real GD at m = 60 at "
                  "mu = 1/(2 p_max); per-iteration rate from the tail of ||f_r - f_inf||"),
        tolerance=RATE_RTOL,
        tolerance_reason="fraction of the per-step decrement 1 - rate: two modes of opposite sign in f make the "
                         "windowed rate transiently slower than the slowest mode (measured excess <= 0.4 %); "
                         "real GD gets 1e-3 of mu p_min on top of the interval p_min(Hbar(0)) .. p_min(Hbar(T))",
        evidence=evidence,
        reason="" if (exact_ok and traj.status == "ok") else "the measured rate disagrees with the exact "
               "max |1 - mu p_j| (the measurement itself is unreliable)",
    )


# --------------------------------------------------------------------------------------------
# Generalization bound and the effect of lambda on the weight movement
# --------------------------------------------------------------------------------------------

def movement_run(problem, lam, horizon) -> dict:
    """Run GD to ``horizon`` and return sum_k ||w_k(T) - w_k(0)||^2 with the convergence residual."""
    traj, f_half, f_end = _horizon_run(problem, lam, horizon)
    if f_end is None:
        return {"lam": lam, "status": traj.status}
    return {"lam": lam, "status": "ok", "movement": float(np.sum((traj.W[-1] - problem.W0) ** 2)),
            "residual": float(np.linalg.norm(f_end - f_half)), "iterations": int(traj.iterations[-1]),
            "step": traj.step, "time": float(traj.times[-1])}


GEN_HORIZON = 300.0
"""Gradient-flow time of the movement runs (the slowest pole here is above 0.1, so e^-30 is left)."""


def lambda_sweep(problem, lambdas) -> list[dict]:
    """Return the converged movement for each lambda of ``lambdas`` on one problem."""
    return [movement_run(problem, float(lam), GEN_HORIZON) for lam in lambdas]


def _first_increase(rows):
    # Only converged runs are compared: an unconverged movement is not the final one.
    ok = [r for r in rows if r["status"] == "ok" and r["residual"] <= 1e-6]
    for lo, hi in zip(ok, ok[1:]):
        if hi["movement"] > lo["movement"] * (1 + 1e-6) + 1e-12:
            return lo, hi
    return None


@register_replay("generalization-bound")
def replay_generalization(inputs: dict) -> dict:
    """Rerun the two stored GD runs (shared integrator) and return their weight movements."""
    problem = tr.problem_from_inputs(inputs)
    rows = [movement_run(problem, float(lam), float(inputs["horizon"])) for lam in inputs["lambdas"]]
    return {"printed": {"claim": "movement(lambda_hi) <= movement(lambda_lo)",
                        "movement": [r.get("movement") for r in rows]},
            "computed": {"lambdas": inputs["lambdas"], "residual": [r.get("residual") for r in rows]}}


@register(
    "generalization-bound", "dynamics", "Weight movement: y^T H^-1 y bound and less movement for larger lambda",
    "sum_k ||w_k - w_k(0)||^2 <= y^T H^{-1} y + o(1) for GD (lambda = 0); as lambda increases the weights "
    "have less time to update, leading to a tighter bound (Section 3.5).",
)
def check_generalization(ctx) -> CheckResult:
    widths = [int(m) for m in ctx.get("dynamics.widths", [10, 30, 100])]
    seeds = int(ctx.get("dynamics.seeds", 2))
    base = int(ctx.rng.integers(2**31))
    # (i) lambda = 0: movement against y^T H^-1 y and the exact linearised value (y - f0)^T H^-1 (y - f0).
    bound_rows = []
    for m in widths:
        for s in range(seeds):
            problem = tr.make_problem(np.random.default_rng([base + s, m]), 4, 10, m, "tanh", 0.1, "random")
            K = network_kernel(tr.unit_grams(problem, problem.W0), problem.a)
            f0 = forward(problem.X, problem.W0, problem.a, problem.activation)
            run = movement_run(problem, 0.0, GEN_HORIZON)
            yHy = float(problem.y @ np.linalg.solve(K, problem.y))
            lin = float((problem.y - f0) @ np.linalg.solve(K, problem.y - f0))
            bound_rows.append({"m": m, "seed": base + s, "movement": run.get("movement"), "yHy": yHy,
                               "linearised": lin, "status": run["status"]})
    def excess_vanishes(key):
        """True when movement <= bound, or the relative excess shrinks with m (slope interval below 0)."""
        over = [r for r in bound_rows if r["status"] == "ok" and r["movement"] > r[key] * (1 + 1e-9)]
        if not over:
            return True, None
        try:
            fit = tr.loglog_fit([r["m"] for r in over], [r["movement"] / r[key] - 1 for r in over]).as_dict()
        except InvalidArgumentError as exc:
            return False, {"error": str(exc)}
        return fit["ci"][1] < 0, fit

    bound_ok, excess_fit = excess_vanishes("yHy")
    linear_ok, linear_fit = excess_vanishes("linearised")
    # (ii) lambda sweep on a small problem: remote teacher and teacher equal to the student's features.
    lambdas = [float(v) for v in ctx.get("dynamics.lambdas", [0.0, 0.1, 1.0, 10.0])]
    rng = np.random.default_rng(base)
    remote = tr.make_problem(rng, 3, 5, 6, "tanh", 0.3, "random")
    equal = tr.make_problem(rng, 3, 5, 6, "tanh", 0.3, "student")
    remote_rows = lambda_sweep(remote, lambdas)
    equal_rows = lambda_sweep(equal, lambdas)
    remote_bad = _first_increase(remote_rows)
    equal_bad = _first_increase(equal_rows)
    printed_ok = bound_ok and remote_bad is None and equal_bad is None
    corrected_ok = linear_ok and equal_bad is None
    ce = None
    if remote_bad is not None:
        lo, hi = remote_bad
        ce = Counterexample("generalization-bound", "generalization-bound",
                            {**tr.problem_inputs(remote), "lambdas": [lo["lam"], hi["lam"]], "horizon": GEN_HORIZON},
                            printed={"claim": "movement(lambda_hi) <= movement(lambda_lo)",
                                     "movement": [lo["movement"], hi["movement"]]},
                            computed={"residual": [lo["residual"], hi["residual"]]},
                            note="GD to the stored gradient-flow time with the stable step of each lambda; "
                                 "the teacher's features are far from the student's initial ones, so a larger "
                                 "lambda pulls every unit further.")
    converged = all(r["status"] == "ok" for r in bound_rows + remote_rows + equal_rows)
    return CheckResult(
        verdict=decide(printed_ok, corrected_ok, converged),
        computed=(f"lambda = 0: sum ||dw||^2 after GD against y^T H^-1 y at widths {widths} x {seeds} seeds; "
                  f"lambda sweep {lambdas} on a remote teacher and on a teacher equal to the student's features"),
        tolerance=1e-6,
        tolerance_reason="relative slack on the movement comparisons; the runs are converged to about 1e-8",
        evidence={"bound_rows": bound_rows, "excess_fit": excess_fit, "excess_over_linearised_fit": linear_fit,
                  "remote_teacher": remote_rows,
                  "teacher_equal_to_student": equal_rows, "integrator": tr.integrator_name()},
        correction=("At lambda = 0 the GD movement tends to (y - f(0))^T H^-1 (y - f(0)) (the linearised model), "
                    "which equals y^T H^-1 y only when f(0) -> 0 (initial scale kappa -> 0), so the o(1) is in "
                    "kappa, not in m. Larger lambda moves the weights less only when the teacher's features start near the "
                    "student's (phi_k = f_k(0) + O(1/sqrt m)); with a remote teacher a larger lambda pulls each "
                    "unit towards phi_k and the movement grows."),
        counterexample=ce,
        reason="" if converged else "a GD run diverged",
    )


# --------------------------------------------------------------------------------------------
# lambda -> infinity with the student initialised at the teacher
# --------------------------------------------------------------------------------------------

@register(
    "lambda-infinity-dynamics", "dynamics", "lambda -> infinity from the teacher: the weights stay unchanged",
    "When the student is trained with lambda -> infinity and initialised with the weights of the teacher, "
    "the loss (2) equals 0, the weights stay unchanged and the output stays sum_k a_k phi_k / sqrt(m).",
)
def check_lambda_infinity_dynamics(ctx) -> CheckResult:
    rng = np.random.default_rng(ctx.rng.integers(2**32))
    problem = tr.make_problem(rng, 4, 10, 20, "tanh", 0.3, "student")
    traj = tr.run_gd(problem, np.inf, tr.stable_step(problem, np.inf), [500])
    moved = float(np.linalg.norm(traj.W[-1] - problem.W0))
    out_gap = float(np.linalg.norm(forward(problem.X, traj.W[-1], problem.a, problem.activation)
                                   - problem.Phi @ problem.c))
    rows = lambda_sweep(problem, [10.0, 100.0, 1000.0, 10000.0])
    ok_rows = [r for r in rows if r["status"] == "ok"]
    try:
        fit = tr.loglog_fit([r["lam"] for r in ok_rows], [r["movement"] for r in ok_rows]).as_dict()
    except InvalidArgumentError as exc:
        fit = {"error": str(exc)}
    # The compiled integrator sums in another order than NumPy, so F - Phi at phi_k = f_k(0) is
    # rounding-sized, not exactly zero; 1e-10 ||W0|| is far above d eps but far below any real move.
    tol = 1e-10 * float(np.linalg.norm(problem.W0))
    unchanged = traj.status == "ok" and moved <= tol and out_gap <= 1e-12 * (1 + float(np.linalg.norm(problem.Phi @ problem.c)))
    vanishing = "ci" in fit and fit["ci"][1] < 0
    return CheckResult(
        verdict=decide(unchanged and vanishing, None, "ci" in fit),
        computed=("GD in the lambda -> infinity mode (data term dropped) from phi_k = f_k(0) for 500 steps; "
                  "movement sum ||dw||^2 at lambda = 10 ... 1e4 with a log-log slope"),
        tolerance=1e-10,
        tolerance_reason="relative to ||W0||: the gradient is zero up to rounding of the compiled kernels at "
                         "phi_k = f_k(0), so only rounding-sized changes are allowed",
        evidence={"weight_change_lambda_inf": moved, "output_minus_b": out_gap, "finite_lambda": rows,
                  "movement_fit": fit, "integrator": tr.integrator_name()},
        reason="" if "ci" in fit else "the finite-lambda fit failed",
    )
