"""Tests of the Section 5 statement verdicts (ktheory.claims.section5).

The paired comparison is checked against scipy's one-sample t test, and every verdict path
(holds, fails with a replayable counterexample file, inconclusive, skipped, excluded speed) is reached
from hand-built numbers in the format of figures/figN_numbers.json.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from ktheory.claims import replay
from ktheory.claims.section5 import FROZEN_CHANGE, STATEMENTS, compare, judge_statements
from ktheory.errors import InvalidArgumentError

SETTINGS = {"loss_level": 0.5, "record_every": 100, "iterations": 1000, "seeds": [0, 1, 2]}


def run(train, test, reach, change=0.5, status="ok"):
    """Per-seed numbers of one run, as RunRecord.summary writes them."""
    k = len(train)
    return {"final_train_mse": list(train), "final_test_mse": list(test), "iterations_to_level": list(reach),
            "train_mse_change": [change] * k, "initial_train_mse": [1.0] * k, "status": [status] * k,
            "predicted_final_train_mse": list(train)}


def fig1ab(teacher_train, teacher_test):
    return {"teacher": run(teacher_train, teacher_test, [600, 600, 600]),
            "no_teacher": run([0.40, 0.41, 0.42], [0.54, 0.55, 0.53], [900, 800, 1000]),
            "student": run([0.25, 0.24, 0.26], [0.45, 0.46, 0.44], [200, 200, 200])}


def test_interval_matches_scipy_t_test():
    a = np.array([0.20, 0.25, 0.22, 0.21])
    b = np.array([0.40, 0.38, 0.45, 0.41])
    out = compare(a, b, "lower")
    delta = (b - a) / np.maximum(a, b)
    ci = stats.ttest_1samp(delta, 0.0).confidence_interval(0.95)
    # Same formula through two codes (t quantile times the standard error): rounding only.
    np.testing.assert_allclose(out["interval"], [ci.low, ci.high], rtol=1e-12)
    assert out["outcome"] == "better"


def test_direction_and_order_are_symmetric():
    a, b = [0.2, 0.21, 0.19], [0.4, 0.41, 0.43]
    assert compare(a, b, "lower")["outcome"] == "better"
    assert compare(b, a, "lower")["outcome"] == "worse"
    assert compare(a, b, "higher")["outcome"] == "worse"


def test_equal_and_unresolved():
    same = [0.3, 0.31, 0.29]
    assert compare(same, [x * 1.001 for x in same], "lower")["outcome"] == "equal"
    assert compare([0.3, 0.2, 0.4], [0.31, 0.35, 0.25], "lower")["outcome"] == "unresolved"
    one = compare([0.1], [0.9], "lower")
    assert one["outcome"] == "unresolved"
    assert "one seed" in one["reason"]


def test_interval_stays_within_possible_advantage():
    # 0 against 800 iterations: delta = 1 on each seed, and widening by 200 / 800 would pass 1.
    out = compare([0, 0, 0], [800, 800, 800], "lower", resolution=200)
    assert out["interval"][1] == 1.0
    assert out["outcome"] == "better"


def test_speed_note_for_runs_starting_at_level():
    numbers = {"perfect": run([0.2, 0.21, 0.2], [0.5, 0.5, 0.5], [0, 0, 0]),
               "imperfect": run([0.25, 0.26, 0.25], [0.5, 0.5, 0.5], [500, 450, 500]),
               "random_init": run([0.3, 0.3, 0.31], [0.5, 0.5, 0.5], [700, 650, 700])}
    for name, rate in (("perfect", 0.05), ("imperfect", 0.07), ("random_init", 0.06)):
        numbers[name]["fitted_rate"] = [rate] * 3
    row = rows_by_id(judge_statements({"fig2": numbers}, SETTINGS))["s5-perfect-teacher-best"]
    item = row["evidence"]["perfect vs imperfect: iterations_to_level"]
    assert "starting point" in item["note"]
    assert item["fitted rate (per seed)"]["perfect"] == [0.05] * 3


def test_resolution_widens_the_interval():
    # 800 against 800 iterations on every seed: the difference is 0, but the recording interval
    # of 200 iterations (25 % of the value) hides any difference below it.
    out = compare([800, 800], [800, 800], "lower", resolution=200)
    assert out["outcome"] == "unresolved"
    assert out["interval"] == pytest.approx([-0.25, 0.25])
    assert compare([800, 800], [800, 800], "lower")["outcome"] == "equal"


@pytest.mark.parametrize("kwargs, word", [
    ({"a": [1.0, 2.0], "b": [1.0]}, "shapes"),
    ({"a": [1.0, np.nan], "b": [1.0, 2.0]}, "finite"),
    ({"a": [1.0, 2.0], "b": [1.0, 2.0], "direction": "up"}, "direction"),
])
def test_compare_rejects_bad_input(kwargs, word):
    kwargs.setdefault("direction", "lower")
    with pytest.raises(InvalidArgumentError, match=word):
        compare(**kwargs)


def rows_by_id(rows):
    return {row["id"]: row for row in rows}


def test_teacher_best_holds_and_fails_with_replay(tmp_path):
    good = rows_by_id(judge_statements({"fig1ab": fig1ab([0.10, 0.11, 0.09], [0.30, 0.31, 0.29])}, SETTINGS,
                                       tmp_path / "good"))
    assert good["s5-teacher-best"]["verdict"] == "holds"
    assert good["s5-student-beats-no-teacher"]["verdict"] == "holds"
    assert good["s5-student-faster"]["verdict"] == "holds"
    assert not (tmp_path / "good").exists()  # no counterexample without a failure

    # Flip the teacher to the worst loss: the verdict must turn to "fails", with a replayable file.
    bad = rows_by_id(judge_statements({"fig1ab": fig1ab([0.60, 0.61, 0.62], [0.70, 0.69, 0.71])}, SETTINGS,
                                      tmp_path / "bad"))
    row = bad["s5-teacher-best"]
    assert row["verdict"] == "fails"
    assert row["counterexample"] == "s5-teacher-best.json"
    again = replay(tmp_path / "bad" / row["counterexample"])
    assert again["recomputed"]["computed"] == json.loads(json.dumps(again["stored"]["computed"]))
    assert {c["outcome"] for c in again["recomputed"]["computed"]} == {"worse"}
    assert {c["claimed_better"] for c in again["recomputed"]["computed"]} == {"teacher"}


def test_no_difference_fails_and_noise_is_inconclusive():
    numbers = fig1ab([0.10, 0.11, 0.09], [0.30, 0.31, 0.29])
    numbers["student"]["final_test_mse"] = numbers["no_teacher"]["final_test_mse"]
    row = rows_by_id(judge_statements({"fig1ab": numbers}, SETTINGS))["s5-student-beats-no-teacher"]
    assert row["verdict"] == "fails"
    assert "equal" in row["reason"]

    numbers["student"]["final_test_mse"] = [0.40, 0.60, 0.50]  # straddles the other run's 0.53-0.55
    row = rows_by_id(judge_statements({"fig1ab": numbers}, SETTINGS))["s5-student-beats-no-teacher"]
    assert row["verdict"] == "inconclusive"


def test_frozen_run_is_left_out_of_speed():
    student = run([0.20, 0.21, 0.22], [0.40, 0.41, 0.42], [200, 200, 200])
    numbers = {"student": student,
               "lam_zero": run([0.30, 0.31, 0.32], [0.50, 0.51, 0.52], [500, 600, 500]),
               "lam_inf": run([0.45, 0.45, 0.45], [0.60, 0.61, 0.60], [0, 0, 0], change=FROZEN_CHANGE / 2)}
    row = rows_by_id(judge_statements({"fig1cd": numbers}, SETTINGS))["s5-finite-lambda-best"]
    assert row["verdict"] == "holds"
    assert row["evidence"]["student vs lam_inf: iterations_to_level"]["outcome"] == "excluded"

    # The same numbers with a moving lambda -> inf run: reaching the level at 0 makes it faster.
    numbers["lam_inf"]["train_mse_change"] = [0.1] * 3
    row = rows_by_id(judge_statements({"fig1cd": numbers}, SETTINGS))["s5-finite-lambda-best"]
    assert row["verdict"] == "fails"


def test_never_reaching_the_level():
    numbers = fig1ab([0.10, 0.11, 0.09], [0.30, 0.31, 0.29])
    numbers["no_teacher"]["iterations_to_level"] = [None, None, None]
    row = rows_by_id(judge_statements({"fig1ab": numbers}, SETTINGS))["s5-student-faster"]
    assert row["verdict"] == "holds"  # 200 against at least 1100 (censored one interval after the end)
    numbers["student"]["iterations_to_level"] = [None, 200, 200]
    row = rows_by_id(judge_statements({"fig1ab": numbers}, SETTINGS))["s5-student-faster"]
    assert row["verdict"] == "inconclusive"
    assert "neither run" in row["reason"]


def test_diverged_run_is_unresolved():
    numbers = fig1ab([0.10, 0.11, 0.09], [0.30, 0.31, 0.29])
    numbers["teacher"]["status"] = ["ok", "diverged", "ok"]
    row = rows_by_id(judge_statements({"fig1ab": numbers}, SETTINGS))["s5-teacher-best"]
    assert row["verdict"] == "inconclusive"
    assert "diverged" in row["reason"]


def test_overlap_statements():
    numbers = {"mean": {"teacher_perfect": [0.21, 0.20, 0.22], "teacher_imperfect": [0.15, 0.16, 0.15],
                        "student_perfect": [0.19, 0.20, 0.19], "student_imperfect": [0.1902, 0.1999, 0.1901]}}
    rows = rows_by_id(judge_statements({"fig4": numbers}, SETTINGS))
    assert rows["s5-overlap-perfect-teacher"]["verdict"] == "holds"
    assert rows["s5-overlap-inherited"]["verdict"] == "fails"  # within 1 %: equal


def test_missing_figures_are_skipped_and_bad_numbers_named():
    rows = judge_statements({}, SETTINGS, skipped={"fig2": "no CIFAR-10 data in /nowhere"})
    assert [r["id"] for r in rows] == [st.id for st in STATEMENTS]
    assert {r["verdict"] for r in rows} == {"skipped"}
    assert rows_by_id(rows)["s5-perfect-teacher-best"]["reason"] == "no CIFAR-10 data in /nowhere"
    with pytest.raises(InvalidArgumentError, match="'teacher'"):
        judge_statements({"fig1ab": {"student": run([0.2], [0.3], [1])}}, SETTINGS)
    with pytest.raises(InvalidArgumentError, match="loss_level"):
        judge_statements({}, {"record_every": 1, "iterations": 2})


def test_lambda_inf_unchanged_holds_and_fails(tmp_path):
    frozen = run([0.45, 0.46, 0.44], [0.6, 0.6, 0.6], [0, 0, 0], change=0.0)
    numbers = {"student": run([0.2, 0.21, 0.22], [0.4, 0.41, 0.42], [200, 200, 200]),
               "lam_zero": run([0.3, 0.31, 0.32], [0.5, 0.51, 0.52], [500, 600, 500]), "lam_inf": frozen}
    row = rows_by_id(judge_statements({"fig1cd": numbers}, SETTINGS, tmp_path))["s5-lambda-inf-unchanged"]
    assert row["verdict"] == "holds"

    # A run that drifts by 1e-6 of its loss is no longer "unchanged" at sqrt(eps) = 1.5e-8.
    frozen["train_mse_change"] = [0.0, 1e-6, 0.0]
    row = rows_by_id(judge_statements({"fig1cd": numbers}, SETTINGS, tmp_path))["s5-lambda-inf-unchanged"]
    assert row["verdict"] == "fails"
    again = replay(tmp_path / row["counterexample"])
    assert again["recomputed"]["computed"]["unchanged"] is False

    # Unchanged, but away from the predicted value.
    frozen["train_mse_change"] = [0.0] * 3
    frozen["predicted_final_train_mse"] = [0.45, 0.47, 0.44]
    row = rows_by_id(judge_statements({"fig1cd": numbers}, SETTINGS))["s5-lambda-inf-unchanged"]
    assert row["verdict"] == "fails"
    assert row["evidence"]["at_prediction"] is False
