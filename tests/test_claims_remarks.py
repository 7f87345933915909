"""Tests of the remark claim checks: verdicts, replayed counterexamples, flipped formula, truths."""

import numpy as np
import pytest

from ktheory import theory
from ktheory.claims import VERDICTS, base
from ktheory.claims import remarks  # noqa: F401  (registers the claims)

from _claims_helpers import replay_inline, run

REMARK_IDS = [cid for cid, claim in base.CLAIMS.items() if claim.group == "remarks"]


@pytest.mark.parametrize("claim_id", REMARK_IDS)
def test_claim_returns_valid_verdict(claim_id):
    row = run(claim_id)
    assert row["verdict"] in VERDICTS
    if row["verdict"] in ("fails", "holds-corrected"):
        assert row["counterexample_data"] is not None


SINGULAR_CASE = {"X": [[1.0], [-1.0]], "W": [[0.64]], "a": [-1.0], "y": [-1.0, -1.0], "Phi": [[0.634], [-0.634]],
                 "activation": "tanh"}
RANK_TWO_CASE = {"X": [[0.689, -0.724], [0.987, 0.162], [-0.829, 0.559]], "W": [[1.304, 0.947]], "a": [1.0],
                 "y": [1.0, 1.0, 1.0], "Phi": [[0.075], [0.85], [-0.371]], "activation": "tanh", "lam": 1.0}


def test_thm31_counterexample(tmp_path):
    out = replay_inline(tmp_path, "thm3.1-kernel", {**SINGULAR_CASE, "lam": 1.0})
    assert out["relative_difference"] > out["tolerance"]


def test_lambda_zero_counterexample(tmp_path):
    out = replay_inline(tmp_path, "lambda-zero", {**SINGULAR_CASE, "lam": 0.0})
    assert out["relative_difference"] > out["tolerance"]
    # The nonzero pole still equals the singular value of H (relative 1e-12: eigensolver rounding).
    nonzero = [p for p in out["computed"]["poles"] if p > 1e-12]
    np.testing.assert_allclose(nonzero, out["printed"]["poles"], rtol=1e-12)


def test_lambda_infinity_counterexample(tmp_path):
    out = replay_inline(tmp_path, "lambda-infinity", RANK_TWO_CASE)
    distances = out["computed"]["relative_distance_to_phi"]
    # The distance to phi stops shrinking like 1/lambda: the last decade gains less than a factor 2.
    assert distances[-2] / distances[-1] < 2.0
    assert out["relative_difference"] > out["tolerance"]


def test_teacher_average_counterexample(tmp_path):
    out = replay_inline(tmp_path, "teacher-weighted-average", RANK_TWO_CASE)
    assert out["relative_difference"] > out["tolerance"]


def test_tradeoff_counterexample(tmp_path):
    inputs = {"X": [[1.0]], "W": [[-0.132], [0.64]], "a": [-1.0, -1.0], "y": [-1.0], "Phi": [[-0.024, 0.774]],
              "lam": 1.0, "activation": "tanh"}
    out = replay_inline(tmp_path, "tradeoff-error", inputs)
    assert out["relative_difference"] > out["tolerance"]
    # The corrected formula matches ||f_inf - y|| (relative 1e-12: rounding of the limit).
    assert abs(out["corrected"] - out["computed"]) <= 1e-12 * out["computed"]


def test_assumption3_counterexample(tmp_path):
    out = replay_inline(tmp_path, "assumption3", {"activation": "relu", "x": 0.0, "h": 1e-9})
    assert out["printed"] is None  # the registry already marks ReLU' as not Lipschitz
    assert out["computed"]["difference_quotient_of_dsigma"] > 1e8


def test_thm31_verdict_flips_with_sign_error(monkeypatch):
    baseline = run("thm3.1-kernel")
    assert baseline["verdict"] == "holds-corrected"
    original = theory.final_value
    monkeypatch.setattr(theory, "final_value", lambda *args: -original(*args))
    flipped = run("thm3.1-kernel")
    assert flipped["verdict"] == "fails"


@pytest.mark.parametrize("claim_id", ["tradeoff-error-monotone", "lambda-speed"])
def test_true_statement_survives_search(claim_id):
    row = run(claim_id, remarks_instances=8, remarks_search_examples=40)
    assert row["verdict"] == "holds"
