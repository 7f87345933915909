"""Ctrl-C during a checkpointed training group: the group stops, and the next run resumes."""

import numpy as np
import pytest

from ktheory.experiments.scenarios import NetworkSpec, Problem, resolve_settings, train_group
from ktheory.integrate import gd

ITERATIONS = 60
EVERY = 20
STOP_AFTER = 47  # update calls before the simulated Ctrl-C: past the checkpoint at 40


def _problem():
    rng = np.random.default_rng(11)
    X = np.abs(rng.standard_normal((30, 8)))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Xt = np.abs(rng.standard_normal((10, 8)))
    Xt /= np.linalg.norm(Xt, axis=1, keepdims=True)
    y = np.where(X[:, 0] > X[:, 1], 1.0, -1.0)
    yt = np.where(Xt[:, 0] > Xt[:, 1], 1.0, -1.0)
    specs = [NetworkSpec("net", rng.choice([-1.0, 1.0], 5), 0.3 * rng.standard_normal((5, 8)), None, 0.0)]
    settings = resolve_settings({"iterations": ITERATIONS, "record_every": 10, "imperfect_iteration": 10,
                                 "checkpoint_every": EVERY, "step": 0.05, "spectral_rows": 10,
                                 "gd_form": "weight"})
    return Problem(X, y, Xt, yt), specs, settings


def _count_updates(monkeypatch, stop_after=None):
    """Wrap the weight-form update and raise KeyboardInterrupt on call ``stop_after + 1``."""
    calls = []
    original = gd._WeightState.update

    def update(self):
        if stop_after is not None and len(calls) == stop_after:
            raise KeyboardInterrupt
        calls.append(1)
        original(self)

    monkeypatch.setattr(gd._WeightState, "update", update)
    return calls


def test_interrupt_stops_without_caching(tmp_path, monkeypatch):
    problem, specs, settings = _problem()
    _count_updates(monkeypatch, STOP_AFTER)
    with pytest.raises(KeyboardInterrupt):
        train_group("grp", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)
    assert not (tmp_path / "net.npz").exists()  # no finished-run cache of a partial run
    assert len(list(tmp_path.glob("grp.*.gd.npz"))) == 1  # the integrator checkpoint stays for the resume


def test_rerun_resumes_and_matches_uninterrupted(tmp_path, monkeypatch):
    problem, specs, settings = _problem()
    calls = _count_updates(monkeypatch)
    ref, _ = train_group("grp", problem, specs, settings, checkpoint_dir=tmp_path / "ref", progress=False)
    assert len(calls) == ITERATIONS

    monkeypatch.undo()
    _count_updates(monkeypatch, STOP_AFTER)
    with pytest.raises(KeyboardInterrupt):
        train_group("grp", problem, specs, settings, checkpoint_dir=tmp_path / "int", progress=False)
    monkeypatch.undo()
    calls = _count_updates(monkeypatch)
    res, _ = train_group("grp", problem, specs, settings, checkpoint_dir=tmp_path / "int", progress=False)
    last_checkpoint = STOP_AFTER // EVERY * EVERY
    assert len(calls) == ITERATIONS - last_checkpoint  # resumed at 40, not restarted at 0
    # Exact equality: the fused weight kernel sums in a fixed order for any thread count, and the
    # resumed run starts from the saved W bit for bit, so both runs do the same float operations.
    np.testing.assert_array_equal(res["net"].W, ref["net"].W)
    np.testing.assert_array_equal(res["net"].train_mse, ref["net"].train_mse)
    np.testing.assert_array_equal(res["net"].iteration, ref["net"].iteration)
    assert res["net"].status == "ok"


def test_rerun_reuses_cached_predictions(tmp_path, monkeypatch):
    """The poles at initialisation are computed once per group; an interrupted group's rerun loads them."""
    from ktheory.experiments import scenarios

    problem, specs, settings = _problem()
    computed = []
    original = scenarios._compute_predictions

    def counting(*args, **kwargs):
        computed.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(scenarios, "_compute_predictions", counting)
    _count_updates(monkeypatch, STOP_AFTER)
    with pytest.raises(KeyboardInterrupt):
        train_group("grp", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)
    assert len(computed) == 1
    assert len(list(tmp_path.glob("grp.*.pred.json"))) == 1

    monkeypatch.undo()  # restores the real update and _compute_predictions
    monkeypatch.setattr(scenarios, "_compute_predictions", counting)
    res, _ = train_group("grp", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)
    assert len(computed) == 1  # loaded, not recomputed
    fresh = original(problem, specs, settings, False, "grp")
    # The cache stores the numbers as JSON doubles, which round-trip exactly.
    assert res["net"].prediction["p_min"] == fresh["net"]["p_min"]
    assert res["net"].prediction["bound"] == fresh["net"]["bound"]


def test_cli_interrupt_prints_resume_hint(tmp_path, monkeypatch, capsys):
    """Ctrl-C during a report run ends with exit status 130 and one line on how to continue."""
    import verify.cli as cli

    def interrupted(args, argv):
        (tmp_path / "out" / "checkpoints").mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run", interrupted)
    code = cli.main(["--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INTERRUPTED
    assert "rerun the same command" in err
    assert str(tmp_path / "out" / "checkpoints") in err
    assert "Traceback" not in err


def test_changed_setting_starts_new_checkpoint(tmp_path, monkeypatch):
    """Another step with the same output folder trains afresh instead of rejecting the old checkpoint."""
    problem, specs, settings = _problem()
    _count_updates(monkeypatch, STOP_AFTER)
    with pytest.raises(KeyboardInterrupt):
        train_group("grp", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)
    monkeypatch.undo()

    calls = _count_updates(monkeypatch)
    train_group("grp", problem, specs, {**settings, "step": 0.04}, checkpoint_dir=tmp_path, progress=False)
    assert len(calls) == ITERATIONS  # from iteration 0, not from the other step's checkpoint
    assert len(list(tmp_path.glob("grp.*.gd.npz"))) == 2


def test_more_iterations_continue_the_checkpoint(tmp_path, monkeypatch):
    """A rerun with a larger iteration count resumes the same checkpoint file."""
    problem, specs, settings = _problem()
    train_group("grp", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)
    calls = _count_updates(monkeypatch)
    longer = {**settings, "iterations": ITERATIONS + EVERY}
    train_group("grp", problem, specs, longer, checkpoint_dir=tmp_path, progress=False)
    assert len(calls) == EVERY  # only the new iterations
    assert len(list(tmp_path.glob("grp.*.gd.npz"))) == 1
