"""Teacher and student set-ups: unit subsets, output-weight scaling, the three initialisations."""

import numpy as np
import pytest

from ktheory import InvalidArgumentError
from ktheory.integrate import gradient_descent, gradient_descent_many, make_student, select_units, train_teacher


@pytest.fixture
def teacher_setup(rng):
    n, d = 30, 25
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.choice([-1.0, 1.0], size=n)
    teacher = train_teacher(X, y, 12, "relu", 0.5, 60, rng, kappa=0.3, checkpoints=(10,), record_every=10)
    return X, y, teacher


def test_teacher_trained_with_lambda_zero(teacher_setup):
    X, y, teacher = teacher_setup
    assert teacher.result.lam == 0.0
    loss = teacher.result.history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert set(teacher.snapshots) == {10}
    assert not np.array_equal(teacher.snapshots[10], teacher.W)


def test_student_features_and_output_weights(teacher_setup, rng):
    X, y, teacher = teacher_setup
    student = make_student(teacher, X, 5, rng, init="random", X_test=X[:4])
    idx = student.indices
    assert len(np.unique(idx)) == 5
    np.testing.assert_array_equal(student.a, np.sqrt(12 / 5) * teacher.a[idx])
    np.testing.assert_array_equal(student.Phi, np.maximum(X @ teacher.W[idx].T, 0.0))
    np.testing.assert_array_equal(student.Phi_test, student.Phi[:4])
    assert student.W0.shape == (5, X.shape[1])
    assert not np.array_equal(student.W0, teacher.W[idx])


def test_perfect_student_stays_put_at_infinite_lambda(teacher_setup, rng):
    X, y, teacher = teacher_setup
    student = make_student(teacher, X, 5, rng, init="perfect")
    np.testing.assert_array_equal(student.W0, teacher.W[student.indices])
    res = gradient_descent(X, y, student.a, student.W0, student.Phi, np.inf, "relu", 0.5, 20)
    # phi_k = f_k exactly at a perfect init, so the lambda = inf gradient is exactly zero.
    assert res.history["loss"][0] == 0.0
    np.testing.assert_array_equal(res.W, student.W0)


def test_imperfect_student_uses_checkpoint(teacher_setup, rng):
    X, y, teacher = teacher_setup
    student = make_student(teacher, X, 4, rng, init="imperfect", checkpoint=10)
    W10 = teacher.snapshots[10][student.indices]
    np.testing.assert_array_equal(student.W0, W10)
    np.testing.assert_array_equal(student.Phi, np.maximum(X @ W10.T, 0.0))
    with pytest.raises(InvalidArgumentError, match="checkpoint"):
        make_student(teacher, X, 4, rng, init="imperfect", checkpoint=11)
    with pytest.raises(InvalidArgumentError, match="checkpoint"):
        make_student(teacher, X, 4, rng, init="imperfect")


def test_subset_with_and_without_replacement(rng):
    draws = np.array([select_units(6, 6, rng, replace=True) for _ in range(200)])
    assert any(len(np.unique(row)) < 6 for row in draws)
    assert len(select_units(3, 5, rng, replace=True)) == 5
    np.testing.assert_array_equal(select_units(6, 6, rng), np.arange(6))
    with pytest.raises(InvalidArgumentError, match="distinct"):
        select_units(3, 5, rng)


@pytest.mark.parametrize("replace", [False, True])
def test_student_prediction_unbiased(teacher_setup, rng, replace):
    X, y, teacher = teacher_setup
    f_teacher = np.maximum(X @ teacher.W.T, 0.0) @ teacher.a / np.sqrt(teacher.mbar)
    draws = 3000
    bs = []
    for _ in range(draws):
        st = make_student(teacher, X, 4, rng, init="perfect", replace=replace)
        bs.append(st.Phi @ st.a / np.sqrt(4))
    bs = np.array(bs)
    # E[b] = f_teacher; Monte Carlo error of the mean is std / sqrt(draws); 5 sigma per entry.
    se = bs.std(axis=0) / np.sqrt(draws)
    assert np.all(np.abs(bs.mean(axis=0) - f_teacher) <= 5 * se + 1e-12)


def test_teacher_and_students_in_one_pass(teacher_setup, rng):
    X, y, teacher = teacher_setup
    students = [make_student(teacher, X, 4, rng, init=init, checkpoint=10 if init == "imperfect" else None)
                for init in ["random", "perfect", "imperfect"]]
    specs = [st.spec(y, 0.01, 0.5) for st in students]
    many = gradient_descent_many(X, specs, 30, record_every=10)
    for st, res in zip(students, many):
        one = gradient_descent(X, y, st.a, st.W0, st.Phi, 0.01, "relu", 0.5, 30, record_every=10)
        # Same iteration, stacked or not: rounding-level differences only.
        assert np.abs(res.W - one.W).max() <= 1e-12 * np.abs(one.W).max()
