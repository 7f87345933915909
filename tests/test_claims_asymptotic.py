"""Tests of the asymptotic claims: subset variances, sigma_0 sweeps, counterexample replays."""

import numpy as np
import pytest

from ktheory.claims import CLAIMS, default_settings, load_all
from ktheory.claims import asymptotic as A
from ktheory.claims.base import run_claim

load_all()


def test_subset_variance_formulas_match_enumeration(rng):
    U = rng.standard_normal((4, 3))
    V = A.subset_variances(U)["V"]
    for m in (2, 3, 4):
        # Enumeration is exact; 1e-12 covers summation rounding.
        assert A.enumerate_variance(U, m, True) == pytest.approx(A.exact_variance(V, 4, m, True), rel=1e-12)
        assert A.enumerate_variance(U, m, False) == pytest.approx(A.exact_variance(V, 4, m, False), rel=1e-12, abs=1e-14)


def test_subset_counterexample_replays():
    inputs = {"abar": [1.0, -1.0, 1.0], "m": 3,
              "Phi_teacher": [[0.46211715726000974, 0.7615941559557649, -0.6043677771171634],
                              [-0.46211715726000974, 0.6858090622290945, -0.2542955326263911]]}
    out = A.replay_subset(inputs)
    assert out["printed"]["mbar_over_m_minus_1"] == 0.0
    assert out["printed"]["variance"] > 0.3
    assert out["computed"]["variance_without_replacement"] < 1e-12  # every draw is the whole teacher


def test_subset_claim_and_flip(monkeypatch):
    row = run_claim(CLAIMS["random-teacher-subset"], default_settings("quick"), 0, None)
    assert row["verdict"] == "holds-corrected"
    # With the printed "independent" draws replaced by draws without replacement, the claim holds.
    original = A.monte_carlo_subset
    monkeypatch.setattr(A, "monte_carlo_subset", lambda U, m, replace, draws, rng: original(U, m, False, draws, rng))
    monkeypatch.setattr(A, "exact_variance", lambda V, mbar, m, replace: V * mbar * (mbar / m - 1) / (mbar - 1))
    assert run_claim(CLAIMS["random-teacher-subset"], default_settings("quick"), 0, None)["verdict"] == "holds"


def test_sigma0_claim_runs():
    row = run_claim(CLAIMS["sigma0-order"], default_settings("quick"), 0, None)
    assert row["verdict"] in ("holds", "holds-corrected", "fails", "inconclusive")
    assert row["evidence"]["relu-kappa1"]["fit_in_m"]["ci"][1] > -0.05


@pytest.mark.slow
def test_assumption4_claim_runs():
    row = run_claim(CLAIMS["assumption4-consistency"], default_settings("quick"), 0, None)
    assert row["verdict"] in ("holds", "inconclusive")


def test_sigma0_counterexample_replays():
    """tanh with kappa = 1: the stored minimising units show sigma_0 falling as the width grows."""
    row = run_claim(CLAIMS["sigma0-order"], default_settings("quick"), 0, None)
    assert row["verdict"] == "holds-corrected"
    out = A.replay_sigma0(row["counterexample_data"]["inputs"])
    values = out["computed"]["sigma0_of_stored_minimising_units"]
    # sigma_0(m) is at most the stored unit's value; a tenfold drop is far above rounding.
    assert values[-1] < values[0] / 10
