"""Gradient descent: reference loop, both forms, batched models, checkpoints, divergence, arguments."""

import numpy as np
import pytest

import ktheory
from ktheory import InvalidArgumentError, gram_blocks, init_params, poles
from ktheory.integrate import ModelSpec, gradient_descent, gradient_descent_many, stability_bound
from ktheory.integrate.reference import reference_step

EPS = np.finfo(float).eps


def problem(rng, n=24, d=40, m=6, kappa=0.3):
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.choice([-1.0, 1.0], size=n)
    a, W0 = init_params(rng, m, d, kappa)
    Phi = 0.3 * rng.standard_normal((n, m))
    return X, y, a, W0, Phi


def reference_loop(X, y, a, W0, Phi, lam, name, step, iterations):
    """Hand-written GD with the NumPy step: returns the final W and the loss at every iterate."""
    W = W0.copy()
    losses = []
    for r in range(iterations + 1):
        _, _, direction, data, reg = reference_step(X, y, a, W, Phi, lam, name)
        if np.isinf(lam):
            losses.append(reg)
        else:
            losses.append(data + lam * reg)
        if r < iterations:
            W = W + step * direction
    return W, np.array(losses)


@pytest.mark.parametrize("form", ["weight", "kernel"])
@pytest.mark.parametrize("lam", [0.0, 0.4, np.inf])
def test_gd_matches_reference_loop(rng, form, lam):
    X, y, a, W0, Phi = problem(rng)
    step, iterations = 0.1, 60
    res = gradient_descent(X, y, a, W0, Phi, lam, "tanh", step, iterations, form=form, record_every=1)
    W_ref, loss_ref = reference_loop(X, y, a, W0, Phi, lam, "tanh", step, iterations)
    assert res.status == "ok"
    assert res.iterations == iterations
    # 60 contracting steps, each exact to ~ d eps relative: 1e-12 leaves a 100x margin.
    np.testing.assert_allclose(res.W, W_ref, rtol=0, atol=1e-12 * np.abs(W_ref).max())
    np.testing.assert_allclose(res.history["loss"], loss_ref, rtol=1e-12)
    np.testing.assert_array_equal(res.history["iteration"], np.arange(iterations + 1))
    np.testing.assert_allclose(res.history["time"], step * np.arange(iterations + 1), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["relu", "erf"])
def test_weight_and_kernel_forms_agree(rng, name):
    X, y, a, W0, Phi = problem(rng, n=30, d=50, m=7)
    X_test = rng.standard_normal((9, 50))
    kw = dict(X_test=X_test, y_test=np.ones(9), record_every=50)
    rw = gradient_descent(X, y, a, W0, Phi, 0.2, name, 0.05, 400, form="weight", **kw)
    rk = gradient_descent(X, y, a, W0, Phi, 0.2, name, 0.05, 400, form="kernel", **kw)
    assert rw.form == "weight"
    assert rk.form == "kernel"
    # The forms only round differently (one n-term vs one d-term sum per step); 1e-10 relative.
    assert np.abs(rw.W - rk.W).max() <= 1e-10 * np.abs(rw.W).max()
    for key in ["loss", "f_train", "f_test", "test_loss", "unit_distance", "weight_distance"]:
        scale = np.abs(rw.history[key]).max()
        assert np.abs(rw.history[key] - rk.history[key]).max() <= 1e-10 * scale, key


def test_history_contents(rng):
    X, y, a, W0, Phi = problem(rng)
    res = gradient_descent(X, y, a, W0, Phi, 0.5, "sigmoid", 0.2, 23, record_every=5, form="weight")
    h = res.history
    np.testing.assert_array_equal(h["iteration"], [0, 5, 10, 15, 20, 23])
    T, n, m = len(h["iteration"]), X.shape[0], W0.shape[0]
    assert h["f_train"].shape == (T, n)
    assert h["features"].shape == (T, n, m)
    assert h["unit_distance"].shape == (T, m)
    # Independent recomputation of the last record from the returned W.
    act = ktheory.get_activation("sigmoid")
    F = act.sigma(X @ res.W.T)
    c = a / np.sqrt(m)
    np.testing.assert_allclose(h["features"][-1], F, rtol=1e-13)
    np.testing.assert_allclose(h["f_train"][-1], F @ c, rtol=1e-13)
    assert h["data_loss"][-1] == pytest.approx(0.5 * np.sum((y - F @ c) ** 2), rel=1e-13)
    assert h["reg_loss"][-1] == pytest.approx(0.25 * np.sum((Phi - F) ** 2), rel=1e-13)
    assert h["loss"][-1] == pytest.approx(h["data_loss"][-1] + h["reg_loss"][-1], rel=1e-15)
    np.testing.assert_allclose(h["unit_distance"][-1], np.sum((res.W - W0) ** 2, axis=1), rtol=1e-13)
    assert h["weight_distance"][-1] == pytest.approx(np.sum((res.W - W0) ** 2), rel=1e-13)
    assert h["loss"][-1] < h["loss"][0]


def test_kernel_change_record_matches_dense(rng):
    X, y, a, W0, Phi = problem(rng, n=20, d=30, m=4, kappa=1.0)
    res = gradient_descent(X, y, a, W0, Phi, 0.1, "tanh", 0.2, 40, record_every=20, record_kernel_change=True)
    H0 = gram_blocks(X, W0, "tanh")
    H1 = gram_blocks(X, res.W, "tanh")
    dense = np.array([np.abs(np.linalg.eigvalsh(H1[k] - H0[k])).max() for k in range(4)])
    assert res.history["kernel_change"].shape == (3, 4)
    assert np.all(res.history["kernel_change"][0] == 0)
    # eigvalsh on both sides of the same 20 x 20 matrices: ~ n eps ||H||.
    np.testing.assert_allclose(res.history["kernel_change"][-1], dense, rtol=1e-10, atol=1e-13)


def test_batched_models_match_separate_runs(rng):
    X, y, a, W0, Phi = problem(rng, n=40, d=30, m=5)
    a2, W2 = init_params(rng, 7, 30, 0.3)
    specs = [
        ModelSpec(y=y, a=a, W0=W0, Phi=Phi, lam=0.3, activation="tanh", step=0.1),
        ModelSpec(y=-y, a=a2, W0=W2, Phi=None, lam=0.0, activation="relu", step=0.05),
        ModelSpec(y=y, a=a, W0=W0, Phi=Phi, lam=np.inf, activation="gelu", step=0.2),
    ]
    for form in ["weight", "kernel"]:
        many = gradient_descent_many(X, specs, 50, form=form, record_every=10)
        for spec, res in zip(specs, many):
            one = gradient_descent(X, spec.y, spec.a, spec.W0, spec.Phi, spec.lam, spec.activation, spec.step, 50,
                                   form=form, record_every=10)
            # Stacking changes only which units share a register block: rounding-level differences.
            assert np.abs(res.W - one.W).max() <= 1e-12 * np.abs(one.W).max()
            np.testing.assert_allclose(res.history["loss"], one.history["loss"], rtol=1e-12)


@pytest.mark.parametrize("form", ["weight", "kernel"])
def test_checkpoint_resume_is_bit_identical(rng, tmp_path, form):
    X, y, a, W0, Phi = problem(rng)
    X_test = rng.standard_normal((5, X.shape[1]))
    kw = dict(form=form, record_every=7, X_test=X_test, y_test=np.ones(5), weight_snapshots=(14, 28))
    full = gradient_descent(X, y, a, W0, Phi, 0.3, "tanh", 0.1, 45, **kw)
    path = tmp_path / "run.npz"
    first = gradient_descent(X, y, a, W0, Phi, 0.3, "tanh", 0.1, 45, checkpoint_path=path, checkpoint_every=10,
                             stop_at=23, **kw)
    assert first.status == "stopped"
    assert first.iterations == 23
    assert path.exists()
    assert not list(tmp_path.glob("*.tmp"))
    resumed = gradient_descent(X, y, a, W0, Phi, 0.3, "tanh", 0.1, 45, checkpoint_path=path, checkpoint_every=10,
                               **kw)
    assert resumed.status == "ok"
    assert np.array_equal(resumed.W, full.W)
    assert resumed.history.keys() == full.history.keys()
    for key in full.history:
        assert np.array_equal(resumed.history[key], full.history[key]), key
    assert resumed.snapshots.keys() == full.snapshots.keys()
    for it in full.snapshots:
        assert np.array_equal(resumed.snapshots[it], full.snapshots[it])


def test_checkpoint_of_other_problem_rejected(rng, tmp_path):
    X, y, a, W0, Phi = problem(rng)
    path = tmp_path / "run.npz"
    gradient_descent(X, y, a, W0, Phi, 0.3, "tanh", 0.1, 10, checkpoint_path=path, checkpoint_every=5)
    with pytest.raises(InvalidArgumentError, match="different problem"):
        gradient_descent(X, y, a, W0, Phi, 0.3, "tanh", 0.11, 10, checkpoint_path=path, checkpoint_every=5)


def test_stability_bound_equals_largest_pole(rng):
    X, y, a, W0, Phi = problem(rng, n=15, d=20, m=3, kappa=1.0)
    for lam in [0.0, 0.5]:
        got = stability_bound(X, W0, a, lam > 0, lam, "tanh", tol=1e-12)
        p_max = poles(gram_blocks(X, W0, "tanh"), a, lam)[-1]
        # Lanczos to tol 1e-12 against a dense symmetric eigensolve of Hbar's similar form.
        assert got["lambda_max"] == pytest.approx(p_max, rel=1e-9)
        assert got["bound"] == pytest.approx(2.0 / p_max, rel=1e-9)


def test_divergence_detected_above_bound(rng):
    X, y, a, W0, Phi = problem(rng, n=20, d=30, m=4, kappa=1.0)
    bound = stability_bound(X, W0, a, True, 0.5, "relu")["bound"]
    step = 20 * bound
    res = gradient_descent(X, y, a, W0, Phi, 0.5, "relu", step, 500)
    assert res.status == "diverged"
    assert res.iterations < 500
    assert f"{step:.6g}" in res.message
    assert f"iteration {res.iterations}" in res.message
    assert "Stability bound 2/lambda_max" in res.message
    ok = gradient_descent(X, y, a, W0, Phi, 0.5, "relu", 0.5 * bound, 200)
    assert ok.status == "ok"


def test_same_inputs_same_trajectory(rng):
    X, y, a, W0, Phi = problem(rng)
    one = gradient_descent(X, y, a, W0, Phi, 0.3, "relu", 0.1, 30, form="weight")
    two = gradient_descent(X, y, a, W0, Phi, 0.3, "relu", 0.1, 30, form="weight")
    assert np.array_equal(one.W, two.W)


def test_progress_bar_shown_on_request(rng, capsys):
    X, y, a, W0, Phi = problem(rng)
    gradient_descent(X, y, a, W0, Phi, 0.3, "relu", 0.1, 5, progress=True)
    assert "gradient descent" in capsys.readouterr().err
    gradient_descent(X, y, a, W0, Phi, 0.3, "relu", 0.1, 5)  # stderr is captured, not a terminal
    assert capsys.readouterr().err == ""


def test_stable_entry_point(rng):
    X, y, a, W0, Phi = problem(rng)
    res = ktheory.gradient_descent(X, y, a, W0, None, 0.0, "relu", 0.1, 3)
    assert res.W.shape == W0.shape
    assert res.history["reg_loss"].tolist() == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(step=-0.1), "step"),
        (dict(step=0.0), "step"),
        (dict(lam=-1.0), "lam"),
        (dict(lam=0.5, Phi=None), "Phi .*missing"),
        (dict(W0="short"), "W0"),
        (dict(y="bad-n"), "y .*length"),
        (dict(Phi="bad-shape"), "Phi .*shape"),
        (dict(X="nan"), "X contains"),
        (dict(activation="swish"), "activation"),
        (dict(iterations=-1), "iterations"),
        (dict(a="short"), "a .*length"),
    ],
)
def test_bad_arguments_raise(rng, change, match):
    X, y, a, W0, Phi = problem(rng)
    args = dict(X=X, y=y, a=a, W0=W0, Phi=Phi, lam=0.3, activation="tanh", step=0.1, iterations=3)
    replacements = {"short": lambda v: v[:-1], "bad-n": lambda v: v[:-2], "bad-shape": lambda v: v[:, :-1],
                    "nan": lambda v: np.where(np.arange(v.size).reshape(v.shape) == 3, np.nan, v)}
    for key, value in change.items():
        args[key] = replacements[value](args[key]) if isinstance(value, str) and value in replacements else value
    with pytest.raises(InvalidArgumentError, match=match):
        gradient_descent(**args)
