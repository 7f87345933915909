"""Tests of the spectral claim checks: valid verdicts, replayed counterexamples, surviving truths."""

import numpy as np
import pytest

from ktheory import spectral
from ktheory.claims import VERDICTS, base
from ktheory.claims import _modal
from ktheory.claims._cases import KernelCase, make_case
from ktheory.claims import spectral_claims  # noqa: F401  (registers the claims)

from _claims_helpers import replay_inline, run

SPECTRAL_IDS = [cid for cid, claim in base.CLAIMS.items() if claim.group == "spectral"]


@pytest.mark.parametrize("claim_id", SPECTRAL_IDS)
def test_claim_returns_valid_verdict(claim_id):
    row = run(claim_id)
    assert row["verdict"] in VERDICTS
    assert row["evidence"]
    if row["verdict"] in ("fails", "holds-corrected"):
        assert row["counterexample_data"] is not None


def test_spectral_ids_cover_the_brief():
    expected = {"thm3.2", "thm3.3", "thm3.3-proof", "lemma6.5", "complex-poles", "tsym",
                "assumption-equivalence", "assumption2-index", "secular-poles", "mode-count"}
    assert expected <= set(SPECTRAL_IDS)


# Counterexamples as shrunk by the quick-profile search. The inputs are written out here, so a
# change in the search cannot silently drop them.

def test_thm32_counterexample(tmp_path):
    inputs = {"X": [[1.0]], "W": [[-0.132]], "a": [0.64], "y": [-1.0], "Phi": [[-0.285]], "lam": 1.0,
              "activation": "tanh"}
    out = replay_inline(tmp_path, "thm3.2", inputs)
    assert out["relative_difference"] > out["tolerance"]
    # The derived expansion reproduces the exact solution at the same tolerance.
    derived, exact = np.array(out["derived"]), np.array(out["computed"])
    assert np.abs(derived - exact).max() <= out["tolerance"] * (np.abs(exact).max() + 1)


def test_thm33_counterexample(tmp_path):
    inputs = {"X": [[1.0], [-1.0]], "W": [[0.64]], "a": [-1.0], "y": [-1.0, -1.0], "Phi": [[0.634], [-0.634]],
              "lam": 1.0, "activation": "tanh"}
    out = replay_inline(tmp_path, "thm3.3", inputs)
    assert out["computed"]["zero_poles"] == 1
    assert out["relative_difference"] > out["tolerance"]


def test_thm33_proof_counterexample(tmp_path):
    inputs = {"X": [[1.0]], "W": [[-0.132]], "a": [-1.0], "y": [-1.0], "Phi": [[-0.1]], "lam": 1.0,
              "activation": "tanh"}
    out = replay_inline(tmp_path, "thm3.3-proof", inputs)
    assert out["relative_difference"] > out["tolerance"]
    # The corrected identity gives -1 (tolerance: the replay's own bound).
    assert abs(out["computed"][0] + 1.0) <= out["tolerance"]


def test_complex_poles_counterexample(tmp_path):
    inputs = {"X": [[1.0]], "W": [[-0.132], [0.64]], "a": [-1.0, -1.0], "y": [-1.0], "Phi": [[-0.024, 0.774]],
              "lam": 1.0, "activation": "tanh"}
    out = replay_inline(tmp_path, "complex-poles", inputs)
    assert out["printed"]["asymmetry_of_Hbar"] > 0.1
    assert out["printed"]["max_abs_imag_general_eigensolver"] <= out["tolerance"]
    assert out["computed"]["max_abs_difference_between_routes"] <= out["tolerance"]


def test_assumption_equivalence_counterexample(tmp_path):
    inputs = {"X": [[1.0], [-1.0]], "W": [[0.64], [0.105]], "a": [-1.0, 1.0], "y": [1.0, 1.0],
              "Phi": [[0.774, 0.371], [-0.774, -0.371]], "lam": 1.0, "activation": "tanh"}
    out = replay_inline(tmp_path, "assumption-equivalence", inputs)
    assert out["printed"]["assumption1_and_assumption2"] is True
    assert out["computed"]["distinct_eigenvalues_of_Hbar"] is False


def test_assumption_equivalence_note_names_zero_poles():
    from ktheory.claims.spectral_claims import _equivalence_note

    flags = {"assumption1": True, "assumption2": True, "poles": [0.0, 0.0, 1.14, 3.19]}
    assert "2 zero eigenvalues" in _equivalence_note(flags)
    flags["poles"] = [0.5, 1.14, 1.14, 3.19]
    assert "nonzero eigenvalues of Hbar coincide" in _equivalence_note(flags)
    flags["assumption1"] = False
    assert "Assumption 1 or 2 fails" in _equivalence_note(flags)


def test_assumption2_index_counterexample(tmp_path):
    inputs = {"X": [[1.0]], "W": [[-0.132], [-0.132]], "a": [-1.0, -1.0], "y": [-1.0], "Phi": [[-0.024, 0.254]],
              "lam": 0.1, "activation": "tanh"}
    out = replay_inline(tmp_path, "assumption2-index", inputs)
    assert out["printed"]["assumption2_as_printed_holds"] is True
    assert out["printed"]["lemma65_vectors_defined"] is False
    # One pole equals lambda times a unit eigenvalue (relative 1e-12: rounding of the eigensolvers).
    poles, scaled = np.array(out["computed"]["poles"]), np.array(out["computed"]["lambda_times_unit_eigenvalues"])
    assert np.min(np.abs(poles[:, None] - scaled[None, :]) / poles[:, None]) < 1e-12


def test_secular_poles_counterexample(tmp_path):
    inputs = {"X": [[1.0]], "W": [[-0.132], [0.64], [0.105]], "a": [-1.0, 1.0, 0.0], "y": [1.0],
              "Phi": [[0.254, 0.728, -0.106]], "lam": 1.0, "activation": "tanh"}
    out = replay_inline(tmp_path, "secular-poles", inputs)
    assert len(out["computed"]) == len(out["printed"]) + 1


def test_mode_count_counterexample(tmp_path):
    inputs = {"X": [[0.689, -0.724], [0.987, 0.162]], "W": [[-0.536, 0.362]], "a": [1.0], "y": [1.0, 1.0],
              "Phi": [[-0.464], [-0.629]], "lam": 1.0, "activation": "tanh"}
    out = replay_inline(tmp_path, "mode-count", inputs)
    assert out["computed"]["modes_with_nonzero_vector"] > out["printed"]["vectors_u_1_to_u_m"]


def test_tsym_survives_search():
    row = run("tsym", spectral_instances=10, spectral_search_examples=60)
    assert row["verdict"] == "holds"


def test_lemma65_survives_search():
    row = run("lemma6.5", spectral_instances=10, spectral_search_examples=60)
    assert row["verdict"] == "holds"


def test_derived_expansion_matches_library_modal_solution(rng):
    # Cross-check of the claim's own Lemma 6.5 route against ktheory.spectral.modal_solution.
    case = make_case(rng, 3, 4, 2, 0.5, "tanh", 1.0, "gauss", decimals=None)
    basis = spectral.eigen_decomposition(case.blocks(), case.a, case.lam)
    times = np.array([0.0, 1.0, 5.0]) / basis.nonzero[0]
    eta0 = (case.features() - _modal.particular(case)).reshape(-1)
    library = spectral.modal_solution(basis, eta0, times).reshape(3, case.m, case.n)
    library_f = np.einsum("k,tkn->tn", case.c, library + _modal.particular(case)[None])
    derived = _modal.derived_modal_outputs(case, times)
    # 1e-9: eigenvector condition times the pole spread, far above eps for this well-separated case.
    assert np.abs(derived - library_f).max() < 1e-9


def test_lemma65_clusters_reject_identical_units(rng):
    case = make_case(rng, 2, 3, 2, 0.5, "tanh", 1.0, "pm1", degeneracy="identical-units")
    with pytest.raises(_modal.NotApplicable):
        _modal.lemma65_clusters(case)


def test_case_roundtrip_through_inputs(rng):
    case = make_case(rng, 3, 2, 2, 0.1, "sigmoid")
    again = KernelCase.from_inputs(case.to_inputs())
    np.testing.assert_array_equal(again.blocks(), case.blocks())
    assert again.lam == case.lam
