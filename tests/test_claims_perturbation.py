"""Tests of the perturbation-lemma claims: shrunk counterexamples, formula flips, true bounds."""

import math

import numpy as np
import pytest

from ktheory.claims import CLAIMS, default_settings, load_all
from ktheory.claims import perturbation as P
from ktheory.claims.base import run_claim

load_all()

# Replays compare recomputed sides; 1e-9 relative covers eigensolver and quadrature rounding,
# far below the violations (5 % to 50 %) these examples show.
RTOL = 1e-9


def test_lemma61_counterexample_replays():
    """Shrunk example of the search: a saturated unit with a large output weight, lambda = 0.1."""
    inputs = {"X": [[1.0]], "W0": [[3.0], [0.32]], "W1": [[2.999464], [0.32]], "a": [10.0, 1.0],
              "lam": 0.1, "activation": "tanh", "eta0": [1.0, 0.0], "t_end": 36848.37174338572, "points": 2001}
    out = P.replay_lemma61(inputs)
    lhs, rhs = out["printed"]["lhs"], out["printed"]["rhs"]
    # The trapezoid error estimate bounds the quadrature error of lhs; the gap is 30 % of rhs.
    assert lhs - rhs > 0.2 * rhs + out["computed"]["quadrature_error"]
    assert lhs <= out["computed"]["rhs_corrected"]


def test_lemma62_counterexample_replays():
    inputs = {"X": [[1.0]], "W0": [[0.6404226504432821]], "W_t": [[-0.48187188279171705]], "a": [-1.0],
              "lam": 1.0, "activation": "tanh"}
    out = P.replay_lemma62(inputs)
    assert out["printed"]["lhs"] > 3 * out["printed"]["rhs"]
    assert out["computed"]["lhs_corrected"] <= out["computed"]["rhs"] * (1 + RTOL)


def test_lemma63_counterexample_replays():
    """tanh, w(0) = 0: ||dH|| = 0.0954 against the printed 0.0625."""
    out = P.replay_lemma63({"X": [[0.5]], "w0": [0.0], "w_t": [1.0], "activation": "tanh"})
    assert out["printed"]["lhs"] > 1.4 * out["printed"]["rhs"]
    assert out["printed"]["lhs"] <= out["computed"]["rhs_corrected"]


def test_lemma63_softplus_first_order_violation():
    """softplus has sigma''(0) = 1/4: ||dH|| = O(||dw||) while the printed bound is O(||dw||^2)."""
    for size in (1e-2, 1e-3):
        out = P.lemma63_sides([[1.0]], [0.0], [size], "softplus")
        assert out["lhs"] > 10 * out["rhs_printed"]
        assert out["lhs"] <= out["rhs_corrected"]


def test_lemma64_counterexample_replays():
    inputs = {"X": [[1.0]], "y": [1.0], "a": [-1.0], "W0": [[0.6404226504432821]], "Phi": [[0.10451702843450615]],
              "activation": "tanh", "lam": 1.0, "step": 0.25, "iterations": 100}
    out = P.replay_lemma64(inputs)
    assert out["printed"]["lhs"][0] > 1.5 * out["printed"]["rhs"][0]
    assert out["computed"]["lhs"][0] <= out["computed"]["rhs_corrected"][0] * (1 + RTOL)


def test_lemma64_zero_output_weight_moves():
    """A unit with a_k = 0 has a zero printed bound but still moves towards its teacher feature."""
    rng = np.random.default_rng(3)
    problem = P.tr.make_problem(rng, 3, 4, 2, "tanh", 1.0, "random", a_kind="zeros")
    step = P.tr.stable_step(problem, 1.0)
    traj = P.tr.run_gd(problem, 1.0, step, [50], keep_steps=True)
    out = P.lemma64_sides(problem, 1.0, traj.W[-1], traj.step_features, step)
    assert out["rhs_printed"][0] == 0.0
    assert out["lhs"][0] > 1e-3


def _settings(**over):
    s = default_settings("quick")
    s.update({"perturbation.search_examples": 15, "perturbation.lemma61_examples": 15,
              "perturbation.trajectory_examples": 4, "perturbation.quadrature_points": 401, **over})
    return s


@pytest.mark.parametrize("claim_id", ["lemma6.2", "lemma6.3", "lemma6.4"])
def test_claim_runs_with_valid_verdict(claim_id):
    row = run_claim(CLAIMS[claim_id], _settings(), 0, None)
    assert row["verdict"] in ("holds", "holds-corrected", "fails", "inconclusive")
    assert row["verdict"] == "holds-corrected"
    assert row["counterexample_data"] is not None


def test_lemma63_verdict_flips_with_formula(monkeypatch):
    """Replacing the printed bound by the corrected one makes the search find nothing: verdict holds."""
    original = P.lemma63_sides

    def corrected_as_printed(X, w0, wt, activation):
        out = original(X, w0, wt, activation)
        return {**out, "rhs_printed": out["rhs_corrected"]}

    monkeypatch.setattr(P, "lemma63_sides", corrected_as_printed)
    row = run_claim(CLAIMS["lemma6.3"], _settings(), 0, None)
    assert row["verdict"] == "holds"


def test_lemma63_dropped_factor_fails(monkeypatch):
    """Dropping the factor 2 sup|sigma'| from the corrected bound makes it fail too: verdict fails."""
    original = P.lemma63_sides

    def weakened(X, w0, wt, activation):
        out = original(X, w0, wt, activation)
        return {**out, "rhs_corrected": out["rhs_corrected"] * 1e-3}

    monkeypatch.setattr(P, "lemma63_sides", weakened)
    row = run_claim(CLAIMS["lemma6.3"], _settings(), 0, None)
    assert row["verdict"] == "fails"


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", ["lemma6.1", "kernel-hypothesis"])
def test_slow_claims_run(claim_id):
    row = run_claim(CLAIMS[claim_id], _settings(**{"perturbation.kh_widths": [10, 30, 100], "perturbation.kh_seeds": 2}),
                    0, None)
    assert row["verdict"] in ("holds", "holds-corrected")


def test_lemma61_search_finds_printed_violation():
    out = P.tr.search(P._frozen_case(), lambda c: P._lemma61_eval(c, 401, "printed"), 20)
    assert out.case is not None
    assert out.info["lhs"] > out.info["rhs_printed"]
    assert math.isfinite(out.info["rhs_corrected"])
