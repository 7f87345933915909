"""Tests of the Laplace-domain claim checks: verdicts, replayed counterexamples, a flipped formula."""

import numpy as np
import pytest

from ktheory import laplace
from ktheory.claims import VERDICTS, base
from ktheory.claims import laplace_claims  # noqa: F401  (registers the claims)

from _claims_helpers import replay_inline, run

LAPLACE_IDS = [cid for cid, claim in base.CLAIMS.items() if claim.group == "laplace"]


@pytest.mark.parametrize("claim_id", LAPLACE_IDS)
def test_claim_returns_valid_verdict(claim_id):
    row = run(claim_id)
    assert row["verdict"] in VERDICTS
    if row["verdict"] in ("fails", "holds-corrected"):
        assert row["counterexample_data"] is not None


def _complex(values):
    return np.array([[complex(z["re"], z["im"]) for z in row] for row in values])


def test_eq14_counterexample(tmp_path):
    inputs = {"X": [[1.0]], "W": [[-0.132]], "a": [-1.0], "y": [-1.0], "Phi": [[-0.1]], "lam": 1.0,
              "activation": "tanh", "s": [[0.9658494853816079, 0.0], [3.8633979415264315, 0.0],
                                          [0.5795096912289647, 1.9316989707632157]]}
    out = replay_inline(tmp_path, "eq14", inputs)
    assert out["relative_difference"] > out["tolerance"]
    # With m = 1 and a = -1, c_1 = -1: the printed transform is the negative of the true one.
    np.testing.assert_allclose(_complex(out["printed"]), -_complex(out["computed"]), rtol=1e-12)


def test_singular_points_counterexample(tmp_path):
    inputs = {"X": [[1.0]], "W": [[-0.132]], "a": [-1.0], "y": [-1.0], "Phi": [[-0.1]], "lam": 0.1,
              "activation": "tanh"}
    out = replay_inline(tmp_path, "poles-are-singular-points", inputs)
    assert min(out["printed"]["relative_sigma_min_of_sI_plus_lambda_Hk_at_s_eq_h"]) > out["tolerance"]
    assert max(out["computed"]["relative_sigma_min_at_s_eq_minus_lambda_h"]) <= out["tolerance"]
    # Removable: the residue estimate falls tenfold with the offset (0.2 = laplace_claims.REMOVABLE_RATIO).
    assert max(out["computed"]["residue_ratio_at_minus_lambda_h"]) < laplace_claims.REMOVABLE_RATIO


def test_delta0_sign_counterexample(tmp_path):
    inputs = {"X": [[1.0]], "W": [[-0.132]], "a": [-1.0], "y": [-1.0], "Phi": [[-0.1]], "lam": 1.0,
              "activation": "tanh"}
    out = replay_inline(tmp_path, "delta0-sign", inputs)
    assert out["relative_difference"] > out["tolerance"]
    np.testing.assert_allclose(np.array(out["printed"]), -np.array(out["computed"]), rtol=1e-12)


def test_eq14_verdict_flips_without_factor(monkeypatch):
    baseline = run("eq14")
    assert baseline["verdict"] == "holds-corrected"
    # Dropping c_k from the derived transform makes it the printed one, which the resolvent contradicts.
    monkeypatch.setattr(laplace, "delta_transform", laplace.delta_transform_printed)
    flipped = run("eq14")
    assert flipped["verdict"] == "fails"


def test_delta0_verdict_holds_for_its_corrected_sign():
    row = run("delta0-sign", laplace_instances=10, laplace_search_examples=40)
    assert row["verdict"] == "holds-corrected"
    assert row["evidence"]["max_negated_relative_error"] <= row["tolerance"]
