"""Claims on the perturbation argument of the proofs: Lemmas 6.1 to 6.4 and the kernel hypothesis.

Panahi et al. (2022) prove their Theorems 3.1 and 3.2 by bounding how far the network's
trajectory strays from the frozen-kernel (kernel-regime) one. Symbols: H_k(t) the Gram matrix of
unit k at the weights W(t), c_k = a_k / sqrt(m), a_bar = sum_k c_k^2, C = c c^T + lambda I,
Hbar(t) = blockdiag(H_k(t)) (C kron I), dHbar(t) = Hbar(t) - Hbar(0), p the smallest pole of
Hbar(0), eta the stacked residuals delta_k = f_k - f_k,inf, sigma_x the largest singular value of
X, B = max_i ||x_i||, L = max(Lip sigma, Lip sigma').

Checks (each registered with :func:`~ktheory.claims.base.register`):

- ``lemma6.1``: the integral bound on ||eta(t) - exp(-Hbar t) eta(0)||, attacked by a targeted
  hypothesis search over frozen perturbed kernels and evaluated along GD runs. The printed proof
  uses ||exp(-Hbar t)|| <= exp(-p t), which needs a normal Hbar; the correction multiplies by
  sqrt(cond C) where the semigroup norm enters.
- ``lemma6.2``: ||dHbar|| against max_k ||dH_k||; the printed left side is ||Hbar(t)||.
- ``lemma6.3``: ||dH_k|| against the weight change; the printed bound needs sigma'(0) = 0.
- ``lemma6.4``: the weight change against the integral of ||delta_k||; the printed bound drops
  the lambda term of the gradient.
- ``kernel-hypothesis``: sup_t ||H(t) - H(0)|| shrinks with width (log-log slope with a
  confidence interval).

Known limitations
-----------------
- Integrals over time are trapezoidal sums on the recorded grid; their error is estimated by
  halving the grid and enters the violation threshold.
- The GD runs approximate gradient flow with a finite step. Lemma 6.4 uses the exact discrete
  identity of GD, but Lemma 6.1 along GD compares with the exact frozen flow, so its left side
  also contains the O(step) discretisation error. The frozen-kernel search has no such error.
- ReLU has no Lipschitz derivative, so Lemmas 6.3 and 6.4 (which use L) are not searched with it.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla
from scipy.integrate import cumulative_trapezoid
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..activations import get_activation
from ..errors import InvalidArgumentError
from ..model import hidden_features
from ..ntk import gram_blocks, network_kernel
from ..spectral import block_matrix, eigen_decomposition, modal_solution, pole_bounds
from ..theory import particular_equilibrium, unit_final_values
from . import _trajectories as tr
from .base import CheckResult, Counterexample, decide, register, register_replay

SETTINGS = {
    "quick": {
        "perturbation.search_examples": 60,
        "perturbation.lemma61_examples": 20,
        "perturbation.trajectory_examples": 12,
        "perturbation.quadrature_points": 801,
        "perturbation.kh_widths": [10, 30, 100],
        "perturbation.kh_seeds": 3,
    },
    "paper": {
        "perturbation.search_examples": 400,
        "perturbation.lemma61_examples": 200,
        "perturbation.trajectory_examples": 60,
        "perturbation.quadrature_points": 4001,
        "perturbation.kh_widths": [10, 30, 100, 300, 1000, 3000],
        "perturbation.kh_seeds": 5,
    },
}

SMOOTH_ACTIVATIONS = ("tanh", "softplus", "sigmoid", "erf", "gelu")
"""Activations with a Lipschitz derivative (the lemmas' Assumption 3); tanh first so it shrinks there."""

REL_TOL = 1e-9
"""Relative slack on every inequality for rounding in the eigensolves and norms (about 1e4 eps)."""

ABS_TOL = 1e-12
"""Absolute slack for inequalities whose both sides vanish (W(t) = W(0))."""


def _c_condition(a, lam):
    """Return cond(C) = (a_bar + lambda) / lambda for C = c c^T + lambda I (lambda > 0)."""
    c = np.asarray(a, float) / math.sqrt(len(a))
    return (float(c @ c) + lam) / lam


# --------------------------------------------------------------------------------------------
# Lemma 6.1
# --------------------------------------------------------------------------------------------

def lemma61_sides(X, W0, W1, a, lam, activation, eta0, t_end, points, adversarial=False) -> dict:
    """Evaluate Lemma 6.1 for the frozen perturbation dHbar = Hbar(W1) - Hbar(W0) over [0, t_end].

    The exact solutions eta(t) = exp(-Hbar(W1) t) eta0 and exp(-Hbar(W0) t) eta0 come from the
    modal expansions of both block matrices; the integral of their distance is a trapezoidal sum on
    ``points`` equally spaced times, with its estimated quadrature error. With ``adversarial`` the
    unit vector eta0 is replaced by the top right singular vector of the integrated difference
    of the two matrix exponentials (in closed form), which maximises the integral of the difference
    as a vector, a lower bound of the left side. Returns both sides of the printed bound (q read as
    sup ||dHbar|| / p) and of the corrected one (factor sqrt(cond C)).
    """
    H0 = gram_blocks(X, W0, activation)
    H1 = gram_blocks(X, W1, activation)
    b0 = eigen_decomposition(H0, a, lam)
    b1 = eigen_decomposition(H1, a, lam)
    if b0.zero_count > 0:
        return {"applicable": False, "reason": "Hbar(0) is singular (a zero pole)"}
    p = float(b0.nonzero.min())
    dHbar = block_matrix(H1, a, lam) - block_matrix(H0, a, lam)
    sup_dh = float(np.linalg.norm(dHbar, 2))
    q = sup_dh / p
    if adversarial:
        def integrated(basis):
            proj = np.eye(basis.m * basis.n) - basis.right @ basis.left.T
            weights = -np.expm1(-basis.nonzero * t_end) / basis.nonzero
            return proj * t_end + (basis.right * weights) @ basis.left.T
        _, _, vt = np.linalg.svd(integrated(b1) - integrated(b0))
        eta0 = vt[0]
    eta0 = np.asarray(eta0, float)
    times = np.linspace(0.0, t_end, int(points))
    gap = np.linalg.norm(modal_solution(b1, eta0, times) - modal_solution(b0, eta0, times), axis=1)
    lhs, quad_err = tr.trapezoid(gap, times)
    # Independent check of the modal route at the end time: scipy's dense expm (scaling and
    # squaring, whose cost grows only with log(t ||Hbar||), unlike expm_multiply).
    end_modal = modal_solution(b1, eta0, [t_end])[0]
    end_expm = sla.expm(-t_end * block_matrix(H1, a, lam)) @ eta0
    modal_err = float(np.linalg.norm(end_modal - end_expm) / max(np.linalg.norm(eta0), 1e-300))
    norm0 = float(np.linalg.norm(eta0))
    kappa_c = _c_condition(a, lam)
    k = math.sqrt(kappa_c)
    printed = q * norm0 / (p * (1.0 - q)) if q < 1 else math.inf
    qc = k * q
    corrected = k * qc * norm0 / (p * (1.0 - qc)) if qc < 1 else math.inf
    return {
        "applicable": True, "p": p, "sup_dHbar": sup_dh, "q": q, "q_corrected": qc,
        "cond_C": kappa_c, "norm_eta0": norm0, "lhs": float(lhs), "quadrature_error": quad_err,
        "modal_vs_expm": modal_err, "rhs_printed": printed, "rhs_corrected": corrected,
        "eta0": eta0.tolist(), "t_end": float(t_end),
    }


def _violates(lhs, rhs, err):
    return lhs > rhs * (1.0 + REL_TOL) + err + ABS_TOL


def _ratio(lhs, rhs):
    """Return lhs / rhs, with 0 for 0 / 0 and inf for a positive left side over a zero right side."""
    if rhs > 0:
        return lhs / rhs
    return 0.0 if lhs <= ABS_TOL else math.inf


@st.composite
def _frozen_case(draw):
    """Draw a frozen perturbation of a small problem: knobs by hypothesis, arrays from a seed.

    The family aims at the step of the proof that needs a normal Hbar: Hbar = B (C kron I) is far
    from normal when cond C = (a_bar + lambda) / lambda is large and the unit Gram matrices differ
    in size. So unit 0 is pushed into saturation (max_i |w_0 . x_i| = ``saturation``, small
    sigma') and carries a large output weight, and either unit 0 alone or every unit is perturbed.
    Arrays are rounded to 3 decimals (6 for the perturbed weights) so that a counterexample file
    stays short; the rounded values are the inputs, exactly. eta(0) is the adversarial direction
    of :func:`lemma61_sides` or a random unit vector.
    """
    n = draw(st.integers(1, 2))
    d = draw(st.integers(1, 2))
    m = draw(st.integers(2, 3))
    activation = draw(st.sampled_from(SMOOTH_ACTIVATIONS))
    saturation = draw(st.sampled_from((3.0, 2.0)))
    a_big = draw(st.sampled_from((10.0, 5.0)))
    a_other = draw(st.sampled_from((1.0, 0.5)))
    kappa = draw(st.sampled_from((0.5, 0.0)))
    lam = draw(st.sampled_from((0.1, 1.0, 0.01)))
    eps = draw(st.sampled_from((1e-3, 1e-2)))
    perturb_all = draw(st.booleans())
    t_mult = 30.0
    adversarial = True
    rng = np.random.default_rng(draw(st.integers(0, 2**20)))
    X = rng.standard_normal((n, d))
    X = np.round(X / np.linalg.norm(X, axis=1, keepdims=True), 3)
    W0 = kappa * rng.standard_normal((m, d)) / math.sqrt(d)
    u = rng.standard_normal(d)
    W0[0] = saturation * u / max(float(np.abs(X @ u).max()), 1e-3)
    W0 = np.round(W0, 3)
    D = eps * rng.standard_normal((m, d))
    if not perturb_all:
        D[1:] = 0.0
    W1 = np.round(W0 + D, 6)
    a = a_other * rng.choice(np.array([-1.0, 1.0]), size=m)
    a[0] = a_big * np.sign(rng.standard_normal())
    eta0 = rng.standard_normal(n * m)
    return {"X": X, "W0": W0, "W1": W1, "a": a, "lam": lam, "activation": activation,
            "t_mult": t_mult, "adversarial": adversarial, "eta0": eta0 / np.linalg.norm(eta0)}


def _lemma61_eval(case, points, which):
    X = case["X"]
    if np.any(np.linalg.norm(X, axis=1) < 1e-3):
        return None
    b0 = eigen_decomposition(gram_blocks(X, case["W0"], case["activation"]), case["a"], case["lam"],
                             vectors=False)
    if b0.zero_count > 0:
        return None
    p = float(b0.nonzero.min())
    eta0 = case["eta0"]
    out = lemma61_sides(X, case["W0"], case["W1"], case["a"], case["lam"], case["activation"], eta0,
                        case["t_mult"] / p, points, case["adversarial"])
    if not out["applicable"]:
        return None
    rhs = out["rhs_printed"] if which == "printed" else out["rhs_corrected"]
    if not np.isfinite(rhs):
        return None  # q >= 1 (or q_C >= 1): outside the lemma's hypothesis
    out["case"] = case
    return _ratio(out["lhs"], rhs), _violates(out["lhs"], rhs, out["quadrature_error"]), out


def _case_inputs(case, out):
    return {
        "X": np.asarray(case["X"]).tolist(), "W0": np.asarray(case["W0"]).tolist(),
        "W1": np.asarray(case["W1"]).tolist(), "a": np.asarray(case["a"]).tolist(),
        "lam": float(case["lam"]), "activation": case["activation"], "eta0": out["eta0"],
        "t_end": out["t_end"],
    }


@register_replay("lemma6.1")
def replay_lemma61(inputs: dict) -> dict:
    """Recompute both sides of Lemma 6.1 (printed and corrected) for a stored frozen perturbation."""
    points = int(inputs.get("points", 4001))
    out = lemma61_sides(np.asarray(inputs["X"], float), np.asarray(inputs["W0"], float),
                        np.asarray(inputs["W1"], float), np.asarray(inputs["a"], float),
                        float(inputs["lam"]), inputs["activation"], np.asarray(inputs["eta0"], float),
                        float(inputs["t_end"]), points)
    return {"printed": {"lhs": out["lhs"], "rhs": out["rhs_printed"]},
            "computed": {"lhs": out["lhs"], "rhs_corrected": out["rhs_corrected"], "q": out["q"],
                         "p": out["p"], "cond_C": out["cond_C"],
                         "quadrature_error": out["quadrature_error"]}}


def _gd_problem_strategy(lambdas=(1.0, 0.1, 10.0, 0.01), activations=SMOOTH_ACTIVATIONS,
                         a_kinds=("pm1", "gauss", "zeros"), teachers=("random", "near", "student")):
    """Strategy of small GD problems: sizes, activation, init scale, a_k, teacher, lambda, seed."""
    return st.fixed_dictionaries({
        "n": st.integers(1, 4), "d": st.integers(1, 4), "m": st.integers(1, 4),
        "activation": st.sampled_from(activations),
        "kappa": st.sampled_from((1.0, 0.3, 0.01, 3.0)),
        "a_kind": st.sampled_from(a_kinds), "teacher": st.sampled_from(teachers),
        "lam": st.sampled_from(lambdas),
        "seed": st.integers(0, 2**16),
        "iterations": st.sampled_from((100, 30, 300)),
    })


def _gd_problem(spec) -> tr.Problem:
    rng = np.random.default_rng(spec["seed"])
    return tr.make_problem(rng, spec["n"], spec["d"], spec["m"], spec["activation"], spec["kappa"],
                           spec["teacher"], spec["a_kind"], gap=0.3)


def lemma61_along_gd(problem: tr.Problem, lam: float, step: float, iterations: int, records: int) -> dict:
    """Evaluate Lemma 6.1 along a real GD run (printed and corrected sides at every record)."""
    chunk = max(iterations // records, 1)
    traj = tr.run_gd(problem, lam, step, [chunk] * records)
    H0 = tr.unit_grams(problem, problem.W0)
    basis = eigen_decomposition(H0, problem.a, lam)
    if basis.zero_count > 0 or traj.status != "ok":
        return {"applicable": False}
    p = float(basis.nonzero.min())
    Finf = unit_final_values(problem.y, problem.Phi, problem.a, lam)  # (m, n)
    etas = np.array([(hidden_features(problem.X, W, problem.activation).T - Finf).reshape(-1)
                     for W in traj.W])
    frozen = modal_solution(basis, etas[0], traj.times)
    Hbar0 = block_matrix(H0, problem.a, lam)
    sups = np.maximum.accumulate([np.linalg.norm(block_matrix(tr.unit_grams(problem, W), problem.a, lam)
                                                 - Hbar0, 2) for W in traj.W])
    gap = np.linalg.norm(etas - frozen, axis=1)
    k = math.sqrt(_c_condition(problem.a, lam))
    norm0 = float(np.linalg.norm(etas[0]))
    worst_printed = worst_corrected = 0.0
    for j in range(2, traj.times.size):
        lhs, _ = tr.trapezoid(gap[: j + 1], traj.times[: j + 1])
        q = sups[j] / p
        if q < 1:
            worst_printed = max(worst_printed, lhs / (q * norm0 / (p * (1 - q)) + ABS_TOL))
        if k * q < 1:
            worst_corrected = max(worst_corrected, lhs / (k * k * q * norm0 / (p * (1 - k * q)) + ABS_TOL))
    return {"applicable": True, "max_ratio_printed": worst_printed, "max_ratio_corrected": worst_corrected,
            "q_end": float(sups[-1] / p), "p": p, "t_end": float(traj.times[-1])}


@register(
    "lemma6.1", "perturbation", "Lemma 6.1: integral bound on the deviation from the frozen kernel",
    "If Hbar is diagonalizable with smallest eigenvalue p > 0 and q = sup_{tau<=t} sigma_max(dHbar(tau)) "
    "/ tau < 1, the solution of d eta/dt = -(Hbar + dHbar(t)) eta obeys int_0^t ||eta(tau) - "
    "exp(-Hbar tau) eta(0)|| dtau <= q ||eta(0)|| / (p (1 - q)).",
)
def check_lemma61(ctx) -> CheckResult:
    budget = int(ctx.get("perturbation.lemma61_examples", 20))
    points = int(ctx.get("perturbation.quadrature_points", 801))
    printed = tr.search(_frozen_case(), lambda c: _lemma61_eval(c, points, "printed"), budget)
    corrected = tr.search(_frozen_case(), lambda c: _lemma61_eval(c, points, "corrected"), budget)

    # Along real GD runs (the setting the proof uses), both forms are evaluated at every record.
    runs = []
    for _ in range(int(ctx.get("perturbation.trajectory_examples", 12)) // 3):
        rng = np.random.default_rng(ctx.rng.integers(2**32))
        # The regime of the proof: near teacher (Assumption 4), n < d so that Hbar(0) is well
        # conditioned and q < 1 along the run.
        m = int(rng.choice([20, 60]))
        problem = tr.make_problem(rng, 3, 8, m, "tanh", 0.1, "near", gap=1.0 / math.sqrt(m))
        lam = float(rng.choice([1.0, 0.3]))
        step = tr.stable_step(problem, lam)
        out = lemma61_along_gd(problem, lam, step, 400, 40)
        if out["applicable"]:
            runs.append({"m": problem.m, "lam": lam, **out})
    gd_printed_ok = all(r["max_ratio_printed"] <= 1 + REL_TOL for r in runs)
    gd_corrected_ok = all(r["max_ratio_corrected"] <= 1 + REL_TOL for r in runs)

    printed_ok = printed.case is None and gd_printed_ok
    corrected_ok = corrected.case is None and gd_corrected_ok
    decidable = printed.examples > 0 and corrected.examples > 0 and not printed.error and not corrected.error
    verdict = decide(printed_ok, corrected_ok, decidable)
    ce = None
    if printed.case is not None:
        info = printed.info
        ce = Counterexample(
            "lemma6.1", "lemma6.1", {**_case_inputs(info["case"], info), "points": points},
            printed={"lhs": info["lhs"], "rhs": info["rhs_printed"]},
            computed={"rhs_corrected": info["rhs_corrected"], "q": info["q"], "p": info["p"],
                      "cond_C": info["cond_C"], "quadrature_error": info["quadrature_error"]},
            note="Frozen perturbation dHbar = Hbar(W1) - Hbar(W0), constant in time; q read as "
                 "sup sigma_max(dHbar) / p. The left side exceeds the printed bound because Hbar is "
                 "not normal, so ||exp(-Hbar t)|| can exceed exp(-p t).",
        )
    evidence = {
        "printed_search": {"examples": printed.examples, "rejected": printed.rejected,
                           "max_lhs_over_rhs": printed.max_score,
                           "violation_found": printed.case is not None},
        "corrected_search": {"examples": corrected.examples, "rejected": corrected.rejected,
                             "max_lhs_over_rhs": corrected.max_score,
                             "violation_found": corrected.case is not None},
        "gd_runs": runs,
        "integrator": tr.integrator_name(),
    }
    if printed.case is not None:
        evidence["shrunk_example"] = {k: printed.info[k] for k in
                                      ("lhs", "rhs_printed", "rhs_corrected", "q", "p", "cond_C",
                                       "quadrature_error", "modal_vs_expm")}
    return CheckResult(
        verdict=verdict,
        computed=(f"targeted hypothesis search over frozen perturbed kernels ({printed.examples} + "
                  f"{corrected.examples} examples), modal solutions cross-checked with expm_multiply; "
                  f"{len(runs)} GD runs evaluated at every record"),
        tolerance=REL_TOL,
        tolerance_reason="relative slack for eigensolver rounding; the trapezoid error estimate "
                         "(grid halving) is added to the threshold of each example",
        evidence=evidence,
        correction=("Read q as sup sigma_max(dHbar) / p. Hbar = blockdiag(H_k)(C kron I) is not normal, "
                    "so ||exp(-Hbar t)||_2 <= sqrt(cond C) exp(-p t) with cond C = (a_bar + lambda) / "
                    "lambda (Hbar is self-adjoint in the C-weighted inner product). Corrected: if "
                    "q_C = sqrt(cond C) q < 1 then int_0^t ||eta - exp(-Hbar tau) eta(0)|| <= "
                    "sqrt(cond C) q_C ||eta(0)|| / (p (1 - q_C))."),
        counterexample=ce,
        reason="" if decidable else (printed.error or corrected.error or "no valid example in the budget"),
    )


# --------------------------------------------------------------------------------------------
# Shared: small GD runs with the weights at a few record times
# --------------------------------------------------------------------------------------------

RECORDS = 10
"""Record times per GD run in the searches: W is kept after each tenth of the run."""


def _gd_run(spec, keep_steps=False):
    """Run GD for a drawn spec; return (problem, lam, trajectory) or None if GD diverged."""
    problem = _gd_problem(spec)
    lam = float(spec["lam"])
    step = tr.stable_step(problem, lam)
    iterations = int(spec["iterations"])
    chunk = max(iterations // RECORDS, 1)
    traj = tr.run_gd(problem, lam, step, [chunk] * RECORDS, keep_steps=keep_steps)
    if traj.status != "ok":
        return None
    return problem, lam, traj


def _gd_inputs(problem, lam, traj, index):
    return {**tr.problem_inputs(problem), "lam": lam, "step": traj.step,
            "iteration": int(traj.iterations[index]), "time": float(traj.times[index]),
            "W_t": traj.W[index].tolist()}


# --------------------------------------------------------------------------------------------
# Lemma 6.2
# --------------------------------------------------------------------------------------------

def lemma62_sides(X, W0, Wt, a, lam, activation) -> dict:
    """Return ||Hbar(t)||, ||dHbar(t)|| and the bound sqrt(2) sqrt(lambda^2 + a_bar^2) max_k ||dH_k||."""
    H0 = gram_blocks(X, W0, activation)
    Ht = gram_blocks(X, Wt, activation)
    c = np.asarray(a, float) / math.sqrt(len(a))
    abar = float(c @ c)
    max_dhk = max(float(np.linalg.norm(Ht[k] - H0[k], 2)) for k in range(len(a)))
    hbar_t = block_matrix(Ht, a, lam)
    return {
        "norm_Hbar_t": float(np.linalg.norm(hbar_t, 2)),
        "norm_dHbar_t": float(np.linalg.norm(hbar_t - block_matrix(H0, a, lam), 2)),
        "rhs": math.sqrt(2.0) * math.sqrt(lam**2 + abar**2) * max_dhk,
        "max_norm_dH_k": max_dhk,
    }


def _lemma62_eval(spec, which):
    run = _gd_run(spec)
    if run is None:
        return None
    problem, lam, traj = run
    key = "norm_Hbar_t" if which == "printed" else "norm_dHbar_t"
    worst = (-math.inf, None)
    for j in range(1, traj.times.size):
        sides = lemma62_sides(problem.X, problem.W0, traj.W[j], problem.a, lam, problem.activation)
        score = _ratio(sides[key], sides["rhs"])
        if score > worst[0]:
            worst = (score, {**sides, "index": j})
    score, sides = worst
    violated = _violates(sides[key], sides["rhs"], 0.0)
    return min(score, 1e300), violated, {**sides, "inputs": _gd_inputs(problem, lam, traj, sides["index"])}


@register_replay("lemma6.2")
def replay_lemma62(inputs: dict) -> dict:
    """Recompute both sides of Lemma 6.2 at the stored weights W(t) (printed and corrected left sides)."""
    out = lemma62_sides(np.asarray(inputs["X"], float), np.asarray(inputs["W0"], float),
                        np.asarray(inputs["W_t"], float), np.asarray(inputs["a"], float),
                        float(inputs["lam"]), inputs["activation"])
    return {"printed": {"lhs": out["norm_Hbar_t"], "rhs": out["rhs"]},
            "computed": {"lhs_corrected": out["norm_dHbar_t"], "rhs": out["rhs"],
                         "max_norm_dH_k": out["max_norm_dH_k"]}}


def _search_evidence(printed, corrected) -> dict:
    """Summarise the searches against the printed and the corrected bound for the evidence."""
    return {
        name: {"examples": found.examples, "max_lhs_over_rhs": found.max_score,
               "violation_found": found.case is not None}
        for name, found in (("printed_search", printed), ("corrected_search", corrected))
    }


@register(
    "lemma6.2", "perturbation", "Lemma 6.2: change of Hbar against the change of the unit kernels",
    "Under Assumption 3, sigma_max(Hbar(t)) <= sqrt(2) sqrt(lambda^2 + (sum_k a_k^2/m)^2) max_k "
    "sigma_max(dH_k(t)), where dH_k(t) = H_k(t) - H_k(0).",
)
def check_lemma62(ctx) -> CheckResult:
    budget = int(ctx.get("perturbation.trajectory_examples", 12))
    strategy = _gd_problem_strategy(lambdas=(1.0, 0.1, 10.0, 0.0, 1e3))
    printed = tr.search(strategy, lambda s: _lemma62_eval(s, "printed"), budget)
    corrected = tr.search(strategy, lambda s: _lemma62_eval(s, "corrected"), budget)
    decidable = printed.examples > 0 and corrected.examples > 0 and not (printed.error or corrected.error)
    verdict = decide(printed.case is None, corrected.case is None, decidable)
    ce = None
    if printed.case is not None:
        info = printed.info
        ce = Counterexample("lemma6.2", "lemma6.2", info["inputs"],
                            printed={"lhs": info["norm_Hbar_t"], "rhs": info["rhs"]},
                            computed={"lhs_corrected": info["norm_dHbar_t"], "rhs": info["rhs"]},
                            note="W_t is the GD iterate at the stored iteration (step and iteration given); "
                                 "the printed left side is the norm of Hbar(t) itself, which does not "
                                 "vanish when the weights barely move.")
    return CheckResult(
        verdict=verdict,
        computed=(f"hypothesis search over GD runs ({printed.examples} + {corrected.examples} runs, "
                  f"{RECORDS} record times each, lambda from 0 to 1e3, a_k with zeros)"),
        tolerance=REL_TOL,
        tolerance_reason="relative slack for rounding in the spectral norms",
        evidence={**_search_evidence(printed, corrected),
                  "integrator": tr.integrator_name()},
        correction=("The left side should be sigma_max(dHbar(t)) = sigma_max(Hbar(t) - Hbar(0)); with it the "
                    "bound holds (the proof's lambda ||delta_k||^2 should read lambda^2 ||delta_k||^2, which "
                    "the final line already uses)."),
        counterexample=ce,
        reason="" if decidable else (printed.error or corrected.error or "no valid GD run in the budget"),
    )


# --------------------------------------------------------------------------------------------
# Lemma 6.3
# --------------------------------------------------------------------------------------------

def lemma63_sides(X, w0, wt, activation) -> dict:
    """Evaluate Lemma 6.3 for one unit: ||H(wt) - H(w0)|| against the printed and corrected bounds.

    Printed: L^2 sigma_x^2 B^2 ||dw|| (||dw|| + 2 ||w0||). Corrected:
    sigma_x^2 L' B ||dw|| (L' B ||dw|| + 2 L0) with L' = Lip(sigma') and L0 = sup |sigma'|.
    """
    act = get_activation(activation)
    if act.lipschitz is None:
        raise InvalidArgumentError(f"Lemma 6.3 needs a Lipschitz sigma'; {act.name!r} has none")
    X = np.asarray(X, float)
    w0 = np.asarray(w0, float).reshape(1, -1)
    wt = np.asarray(wt, float).reshape(1, -1)
    const = tr.data_constants(X, act.name)
    dH = gram_blocks(X, wt, act.name)[0] - gram_blocks(X, w0, act.name)[0]
    dw = float(np.linalg.norm(wt - w0))
    sx, B, L = const["sigma_x"], const["B"], const["L"]
    printed = L**2 * sx**2 * B**2 * dw * (dw + 2.0 * float(np.linalg.norm(w0)))
    corrected = sx**2 * act.lipschitz_dsigma * B * dw * (act.lipschitz_dsigma * B * dw + 2.0 * act.lipschitz_sigma)
    return {"lhs": float(np.linalg.norm(dH, 2)), "rhs_printed": printed, "rhs_corrected": corrected,
            "norm_dw": dw, "sigma_x": sx, "B": B, "L": L}


@st.composite
def _unit_case(draw):
    """Draw one unit: inputs, initial weight and displacement as plain floats that shrink well."""
    n = draw(st.integers(1, 3))
    d = draw(st.integers(1, 3))
    activation = draw(st.sampled_from(SMOOTH_ACTIVATIONS))
    X = draw(hnp.arrays(np.float64, (n, d), elements=st.floats(-1.0, 1.0, width=16)))
    w0 = draw(hnp.arrays(np.float64, (d,), elements=st.floats(-2.0, 2.0, width=16)))
    scale = draw(st.sampled_from((1.0, 0.1, 0.01)))
    dw = draw(hnp.arrays(np.float64, (d,), elements=st.floats(-1.0, 1.0, width=16)))
    return {"X": X, "w0": w0, "wt": w0 + scale * dw, "activation": activation}


def _lemma63_eval(case, which):
    out = lemma63_sides(case["X"], case["w0"], case["wt"], case["activation"])
    rhs = out["rhs_printed"] if which == "printed" else out["rhs_corrected"]
    return min(_ratio(out["lhs"], rhs), 1e300), _violates(out["lhs"], rhs, 0.0), {**out, "case": case}


@register_replay("lemma6.3")
def replay_lemma63(inputs: dict) -> dict:
    """Recompute both sides of Lemma 6.3 (printed and corrected bound) for one stored unit."""
    out = lemma63_sides(inputs["X"], inputs["w0"], inputs["w_t"], inputs["activation"])
    return {"printed": {"lhs": out["lhs"], "rhs": out["rhs_printed"]},
            "computed": {"lhs": out["lhs"], "rhs_corrected": out["rhs_corrected"], "norm_dw": out["norm_dw"],
                         "sigma_x": out["sigma_x"], "B": out["B"], "L": out["L"]}}


def _lemma63_along_gd(spec):
    run = _gd_run(spec)
    if run is None:
        return None
    problem, lam, traj = run
    worst_p = worst_c = 0.0
    for j in range(1, traj.times.size):
        for k in range(problem.m):
            out = lemma63_sides(problem.X, problem.W0[k], traj.W[j][k], problem.activation)
            worst_p = max(worst_p, min(_ratio(out["lhs"], out["rhs_printed"]), 1e300))
            worst_c = max(worst_c, min(_ratio(out["lhs"], out["rhs_corrected"]), 1e300))
    return worst_p, worst_c


@register(
    "lemma6.3", "perturbation", "Lemma 6.3: change of a unit kernel against the change of its weights",
    "sigma_max(dH_k(t)) <= L^2 sigma_x^2 max_i ||x_i||^2 ||w_k(t) - w_k(0)|| (||w_k(t) - w_k(0)|| + "
    "2 ||w_k(0)||), with sigma_x the largest singular value of X and L the larger Lipschitz constant "
    "of sigma and sigma'.",
)
def check_lemma63(ctx) -> CheckResult:
    budget = int(ctx.get("perturbation.search_examples", 60))
    printed = tr.search(_unit_case(), lambda c: _lemma63_eval(c, "printed"), budget)
    corrected = tr.search(_unit_case(), lambda c: _lemma63_eval(c, "corrected"), budget)
    gd = []
    rng = np.random.default_rng(ctx.rng.integers(2**32))
    for _ in range(int(ctx.get("perturbation.trajectory_examples", 12))):
        spec = {"n": int(rng.integers(1, 5)), "d": int(rng.integers(1, 5)), "m": int(rng.integers(1, 5)),
                "activation": str(rng.choice(SMOOTH_ACTIVATIONS)), "kappa": float(rng.choice([1.0, 0.3, 0.01])),
                "a_kind": "pm1", "teacher": str(rng.choice(["random", "near"])),
                "lam": float(rng.choice([1.0, 0.1, 10.0])), "seed": int(rng.integers(2**16)), "iterations": 100}
        out = _lemma63_along_gd(spec)
        if out is not None:
            gd.append({"spec": spec, "max_ratio_printed": out[0], "max_ratio_corrected": out[1]})
    gd_corrected_ok = all(r["max_ratio_corrected"] <= 1 + REL_TOL for r in gd)
    gd_printed_ok = all(r["max_ratio_printed"] <= 1 + REL_TOL for r in gd)
    decidable = printed.examples > 0 and corrected.examples > 0 and not (printed.error or corrected.error)
    verdict = decide(printed.case is None and gd_printed_ok, corrected.case is None and gd_corrected_ok,
                     decidable)
    ce = None
    if printed.case is not None:
        info = printed.info
        case = info["case"]
        ce = Counterexample(
            "lemma6.3", "lemma6.3",
            {"X": np.asarray(case["X"]).tolist(), "w0": np.asarray(case["w0"]).tolist(),
             "w_t": np.asarray(case["wt"]).tolist(), "activation": case["activation"]},
            printed={"lhs": info["lhs"], "rhs": info["rhs_printed"]},
            computed={"rhs_corrected": info["rhs_corrected"], "sigma_x": info["sigma_x"], "B": info["B"],
                      "L": info["L"]},
            note="One unit with weights w0 -> w_t. The proof bounds ||L(w0) delta|| by a multiple of "
                 "||w0||, which needs |sigma'(z)| <= L |z|; it fails when sigma'(0) != 0.")
    return CheckResult(
        verdict=verdict,
        computed=(f"hypothesis search over single units ({printed.examples} + {corrected.examples} examples, "
                  f"smooth activations) and {len(gd)} GD runs with every unit at every record"),
        tolerance=REL_TOL,
        tolerance_reason="relative slack for rounding in the spectral norms",
        evidence={**_search_evidence(printed, corrected),
                  "gd_max_ratio_printed": max((r["max_ratio_printed"] for r in gd), default=None),
                  "gd_max_ratio_corrected": max((r["max_ratio_corrected"] for r in gd), default=None),
                  "gd_runs": len(gd), "integrator": tr.integrator_name(),
                  "relu": "not searched: ReLU' is a step, so L does not exist and the lemma does not apply"},
        correction=("sigma_max(dH_k) <= sigma_x^2 L' B ||dw|| (L' B ||dw|| + 2 L0) with dw = w_k(t) - w_k(0), "
                    "L' = Lip(sigma'), L0 = sup|sigma'|, B = max_i ||x_i||: the term ||L(w_k(0)) delta|| is "
                    "bounded by sigma_x L0, not by a multiple of ||w_k(0)||. With L >= L', L0 this is at most "
                    "L^2 sigma_x^2 B ||dw|| (B ||dw|| + 2)."),
        counterexample=ce,
        reason="" if decidable else (printed.error or corrected.error or "no valid example in the budget"),
    )


# --------------------------------------------------------------------------------------------
# Lemma 6.4
# --------------------------------------------------------------------------------------------

def lemma64_sides(problem: tr.Problem, lam: float, W_end, step_features, step: float) -> dict:
    """Evaluate Lemma 6.4 for every unit after a GD run whose hidden features at each step are given.

    ``step_features`` (R + 1, n, m) holds F at iterations 0..R; the integrals are left Riemann
    sums step * sum_{r < R}, the exact discrete counterpart of the time integral for GD (for
    which w(R) - w(0) = -step sum_r L_k(r) (c_k delta(r) + lambda delta_k(r)) holds exactly).
    Printed: |c_k| L sigma_x B int ||delta_k||. Corrected: L0 sigma_x int ||c_k delta + lambda delta_k||.
    """
    act = get_activation(problem.activation)
    const = tr.data_constants(problem.X, act.name)
    c = problem.c
    Finf = unit_final_values(problem.y, problem.Phi, problem.a, lam)  # (m, n)
    delta_k = step_features[:-1].transpose(0, 2, 1) - Finf[None]  # (R, m, n)
    delta = np.einsum("k,rkn->rn", c, delta_k)
    drive = c[None, :, None] * delta[:, None, :] + lam * delta_k
    int_dk = step * np.linalg.norm(delta_k, axis=2).sum(axis=0)
    int_drive = step * np.linalg.norm(drive, axis=2).sum(axis=0)
    lhs = np.linalg.norm(np.asarray(W_end) - problem.W0, axis=1)
    printed = np.abs(c) * const["L"] * const["sigma_x"] * const["B"] * int_dk
    corrected = act.lipschitz_sigma * const["sigma_x"] * int_drive
    return {"lhs": lhs, "rhs_printed": printed, "rhs_corrected": corrected}


KERNEL_REGIME_POINTS = 4001
"""Time points of the Lemma 6.4 quadrature on the exact kernel-regime solution (trapezoid error of
a sum of exponentials over 10 / p_min at this spacing is below 1e-6 relative)."""


def lemma64_kernel_regime(problem: tr.Problem, lam: float, t_end: float, points: int = KERNEL_REGIME_POINTS) -> dict:
    """Evaluate Lemma 6.4 on the exact kernel-regime solution (frozen L_k(0)) over [0, t_end].

    eta(t) comes from the modal expansion; the linearised weights follow
    w_k(t) - w_k(0) = -int_0^t L_k(0) (c_k delta + lambda delta_k), integrated by the cumulative
    trapezoid rule. Returns the largest lhs / rhs over units and times for both bounds.
    """
    act = get_activation(problem.activation)
    const = tr.data_constants(problem.X, act.name)
    H0 = tr.unit_grams(problem, problem.W0)
    basis = eigen_decomposition(H0, problem.a, lam)
    Finf = unit_final_values(problem.y, problem.Phi, problem.a, lam)
    F0 = hidden_features(problem.X, problem.W0, act.name).T
    times = np.linspace(0.0, t_end, int(points))
    etas = modal_solution(basis, (F0 - Finf).reshape(-1), times).reshape(times.size, problem.m, problem.n)
    c = problem.c
    delta = np.einsum("k,tkn->tn", c, etas)
    drive = c[None, :, None] * delta[:, None, :] + lam * etas
    L0 = act.dsigma(problem.X @ problem.W0.T).T[:, None, :] * problem.X.T[None]  # (m, d, n): L_k(0)
    dw = cumulative_trapezoid(np.einsum("kdn,tkn->tkd", L0, drive), times, axis=0, initial=0.0)
    lhs = np.linalg.norm(dw, axis=2)[1:]
    int_dk = cumulative_trapezoid(np.linalg.norm(etas, axis=2), times, axis=0, initial=0.0)[1:]
    int_drive = cumulative_trapezoid(np.linalg.norm(drive, axis=2), times, axis=0, initial=0.0)[1:]
    printed = np.abs(c)[None] * const["L"] * const["sigma_x"] * const["B"] * int_dk
    corrected = act.lipschitz_sigma * const["sigma_x"] * int_drive
    ratio = lambda l, r: float(np.max(np.where(r > 0, l / np.where(r > 0, r, 1.0), np.where(l > ABS_TOL, np.inf, 0.0))))
    return {"max_ratio_printed": ratio(lhs, printed), "max_ratio_corrected": ratio(lhs, corrected)}


def _lemma64_eval(spec, which):
    if spec["lam"] <= 0:
        return None
    run = _gd_run(spec, keep_steps=True)
    if run is None:
        return None
    problem, lam, traj = run
    out = lemma64_sides(problem, lam, traj.W[-1], traj.step_features, traj.step)
    rhs = out["rhs_printed"] if which == "printed" else out["rhs_corrected"]
    ratios = [min(_ratio(l, r), 1e300) for l, r in zip(out["lhs"], rhs)]
    k = int(np.argmax(ratios))
    violated = bool(_violates(out["lhs"][k], rhs[k], 0.0))
    inputs = {**tr.problem_inputs(problem), "lam": lam, "step": traj.step,
              "iterations": int(traj.iterations[-1])}
    return ratios[k], violated, {"unit": k, "lhs": float(out["lhs"][k]), "rhs_printed": float(out["rhs_printed"][k]),
                                 "rhs_corrected": float(out["rhs_corrected"][k]), "inputs": inputs}


@register_replay("lemma6.4")
def replay_lemma64(inputs: dict) -> dict:
    """Rerun the stored GD run (shared integrator) and recompute both sides of Lemma 6.4 per unit."""
    problem = tr.problem_from_inputs(inputs)
    lam = float(inputs["lam"])
    traj = tr.run_gd(problem, lam, float(inputs["step"]), [int(inputs["iterations"])], keep_steps=True)
    out = lemma64_sides(problem, lam, traj.W[-1], traj.step_features, traj.step)
    return {"printed": {"lhs": out["lhs"].tolist(), "rhs": out["rhs_printed"].tolist()},
            "computed": {"lhs": out["lhs"].tolist(), "rhs_corrected": out["rhs_corrected"].tolist(),
                         "integrator": traj.integrator}}


@register(
    "lemma6.4", "perturbation", "Lemma 6.4: weight change against the integrated unit residual",
    "||w_k(t) - w_k(0)|| <= |a_k|/sqrt(m) L sigma_x max_i ||x_i|| int_0^t ||delta_k(tau)|| dtau.",
)
def check_lemma64(ctx) -> CheckResult:
    budget = int(ctx.get("perturbation.trajectory_examples", 12))
    strategy = _gd_problem_strategy(lambdas=(1.0, 0.1, 10.0, 100.0))
    printed = tr.search(strategy, lambda s: _lemma64_eval(s, "printed"), budget)
    corrected = tr.search(strategy, lambda s: _lemma64_eval(s, "corrected"), budget)
    # The exact kernel-regime solution (frozen kernel), a few random problems with a_k zeros allowed.
    kernel_rows = []
    rng = np.random.default_rng(ctx.rng.integers(2**32))
    for _ in range(max(budget // 3, 2)):
        lam = float(rng.choice([1.0, 10.0, 0.1]))
        problem = tr.make_problem(rng, 3, 5, 4, str(rng.choice(["tanh", "softplus"])), 1.0,
                                  str(rng.choice(["random", "near"])), str(rng.choice(["pm1", "zeros"])), gap=0.3)
        basis = eigen_decomposition(tr.unit_grams(problem, problem.W0), problem.a, lam, vectors=False)
        if basis.zero_count:
            continue
        kernel_rows.append({"lam": lam, **lemma64_kernel_regime(problem, lam, 10.0 / float(basis.nonzero.min()))})
    # Quadrature slack on the kernel-regime ratios (see KERNEL_REGIME_POINTS).
    kernel_corrected_ok = all(r["max_ratio_corrected"] <= 1 + 1e-6 for r in kernel_rows)
    kernel_printed_ok = all(r["max_ratio_printed"] <= 1 + 1e-6 for r in kernel_rows)
    decidable = printed.examples > 0 and corrected.examples > 0 and not (printed.error or corrected.error)
    verdict = decide(printed.case is None and kernel_printed_ok, corrected.case is None and kernel_corrected_ok,
                     decidable)
    ce = None
    if printed.case is not None:
        info = printed.info
        ce = Counterexample("lemma6.4", "lemma6.4", info["inputs"],
                            printed={"unit": info["unit"], "lhs": info["lhs"], "rhs": info["rhs_printed"]},
                            computed={"unit": info["unit"], "rhs_corrected": info["rhs_corrected"]},
                            note="GD run of the stored length; integrals are left Riemann sums over the "
                                 "steps. The printed bound keeps only the data term of the gradient, "
                                 "c_k L_k delta_k, but (9) gives dw_k/dt = -L_k (c_k delta + lambda delta_k).")
    return CheckResult(
        verdict=verdict,
        computed=(f"hypothesis search over GD runs ({printed.examples} + {corrected.examples} runs, every "
                  "step kept, lambda from 0.1 to 100, a_k with zeros, remote/near/equal teacher)"),
        tolerance=REL_TOL,
        tolerance_reason="relative slack for rounding; the Riemann sum is the exact discrete integral for GD",
        evidence={**_search_evidence(printed, corrected),
                  "kernel_regime": kernel_rows,
                  "integrator": tr.integrator_name()},
        correction=("From (9), w_k(t) - w_k(0) = -int_0^t L_k (c_k delta + lambda delta_k), so "
                    "||w_k(t) - w_k(0)|| <= sup|sigma'| sigma_x int_0^t ||c_k delta + lambda delta_k|| dtau "
                    "(no factor B is needed)."),
        counterexample=ce,
        reason="" if decidable else (printed.error or corrected.error or "no valid GD run in the budget"),
    )


# --------------------------------------------------------------------------------------------
# Kernel hypothesis
# --------------------------------------------------------------------------------------------

KH_SHAPE = (8, 16)
"""(n, d) of the width sweeps: n <= d keeps every H_k and H(0) well conditioned at moderate cost."""

KH_MAX_TIME = 60.0
"""Cap on the horizon 6 / p_min of a sweep run (gradient-flow time): most of the kernel change
happens while the residual is large, early in the run."""

KH_MAX_ITERATIONS = 5000
"""Cap on GD iterations per sweep run (about 6 / p_min at step 1 / p_max in these shapes)."""


def kernel_change_run(m: int, seed: int, lam: float, teacher: str, activation: str = "relu",
                      kappa: float = 1.0, records: int = 20) -> dict:
    """Run GD at width m to time min(6 / p_min, KH_MAX_TIME) and return sup_t of the kernel changes.

    Returns the relative change of the network kernel H = sum_k c_k^2 H_k and the largest unit
    change max_k ||H_k(t) - H_k(0)||, each as a sup over the ``records`` record times. For teacher "near" the gap ||phi_k - f_k(0)|| is 1 / sqrt(m),
    the scaling of Assumption 4.
    """
    n, d = KH_SHAPE
    rng = np.random.default_rng([seed, m])
    problem = tr.make_problem(rng, n, d, m, activation, kappa, teacher, gap=1.0 / math.sqrt(m))
    H0 = tr.unit_grams(problem, problem.W0)
    K0 = network_kernel(H0, problem.a)
    if lam == 0:
        w = np.linalg.eigvalsh(K0)
        p_min, p_max = float(w[0]), float(w[-1])
    else:
        # Cheap bounds instead of an (m n)-sized eigensolve: p_min >= lambda sigma_0 (the pole bound
        # of Theorem 3.3, checked elsewhere in the ledger) sets the horizon and
        # max_k ||H_k|| (a_bar + lambda) >= p_max sets the step.
        bounds = pole_bounds(H0, problem.a, lam)
        p_min, p_max = float(bounds["lower"]), float(bounds["upper"])
    step = 1.0 / p_max
    horizon = min(6.0 / p_min, KH_MAX_TIME)
    iterations = int(min(math.ceil(horizon / step), KH_MAX_ITERATIONS))
    chunk = max(iterations // records, 1)
    traj = tr.run_gd(problem, lam, step, [chunk] * records)
    rel_h = max_unit = 0.0
    norm_k0 = float(np.linalg.norm(K0, 2))
    for W in traj.W[1:]:
        Ht = tr.unit_grams(problem, W)
        rel_h = max(rel_h, float(np.linalg.norm(network_kernel(Ht, problem.a) - K0, 2)) / norm_k0)
        max_unit = max(max_unit, max(float(np.linalg.norm(Ht[k] - H0[k], 2)) for k in range(m)))
    return {"m": m, "seed": seed, "relative_kernel_change": rel_h, "max_unit_change": max_unit,
            "time": float(traj.times[-1]),
            "iterations": int(traj.iterations[-1]), "status": traj.status, "p_min": p_min}


def _sweep_fit(rows, key):
    xs = [r["m"] for r in rows if r["status"] == "ok"]
    ys = [r[key] for r in rows if r["status"] == "ok"]
    try:
        return tr.loglog_fit(xs, ys).as_dict()
    except InvalidArgumentError as exc:
        return {"error": str(exc)}


@register(
    "kernel-hypothesis", "perturbation", "Kernel hypothesis: the kernel stays at its initial value as m grows",
    "In the asymptotic case m -> infinity the dynamics of H(t) has a negligible effect, such that it may "
    "be replaced by H(0), resulting in a linear dynamics (Section 4; proved for the transfer loss in "
    "Section 6).",
)
def check_kernel_hypothesis(ctx) -> CheckResult:
    widths = [int(m) for m in ctx.get("perturbation.kh_widths", [10, 30, 100])]
    seeds = int(ctx.get("perturbation.kh_seeds", 3))
    base = int(ctx.rng.integers(2**31))
    regimes = {
        # The setting of Section 4 (and of Du et al.): lambda = 0, ReLU, w ~ N(0, I).
        "lambda0-relu": {"lam": 0.0, "teacher": "random", "activation": "relu", "key": "relative_kernel_change"},
        # The transfer loss under Assumption 4: teacher within 1/sqrt(m) of the student's features.
        "transfer-near-teacher": {"lam": 1.0, "teacher": "near", "activation": "tanh", "key": "max_unit_change"},
        # The transfer loss with a remote teacher (outside Assumption 4).
        "transfer-remote-teacher": {"lam": 1.0, "teacher": "random", "activation": "tanh", "key": "max_unit_change"},
    }
    evidence = {"widths": widths, "seeds": seeds, "shape_n_d": list(KH_SHAPE), "integrator": tr.integrator_name()}
    fits = {}
    for name, reg in regimes.items():
        rows = [kernel_change_run(m, base + s, reg["lam"], reg["teacher"], reg["activation"])
                for m in widths for s in range(seeds)]
        fits[name] = _sweep_fit(rows, reg["key"])
        evidence[name] = {"measured": reg["key"], "fit": fits[name],
                          "runs": [{k: r[k] for k in ("m", "seed", reg["key"], "iterations", "status")}
                                   for r in rows]}
    main = fits["lambda0-relu"]
    decidable = "slope" in main and "slope" in fits["transfer-near-teacher"]
    printed_ok = decidable and main["ci"][1] < 0 and fits["transfer-near-teacher"]["ci"][1] < 0
    if decidable and not printed_ok and (main["slope"] < 0 and main["ci"][1] >= 0):
        decidable = False  # decreasing estimate whose interval still reaches zero: budget too small
    verdict = decide(printed_ok, None, decidable)
    note = "" if max(widths) >= 1000 else f" (widths up to {max(widths)} only; the paper profile goes to 3000)"
    return CheckResult(
        verdict=verdict,
        computed=(f"GD to time min(6/p_min, {KH_MAX_TIME:g}) at each width and seed; sup over 20 record times of "
                  "||H(t) - H(0)|| / ||H(0)|| (lambda = 0, ReLU) and max_k ||H_k(t) - H_k(0)|| (transfer "
                  f"loss, lambda = 1, tanh); log-log slope against m with a {int(tr.CI_LEVEL * 100)}% t interval"
                  + note),
        tolerance=None,
        tolerance_reason="the verdict needs the whole confidence interval of the slope below 0",
        evidence=evidence,
        reason="" if decidable else "slope interval reaches 0 or a fit failed; raise widths or seeds",
    )
