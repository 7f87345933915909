"""Result cache of the experiments: code fingerprint, reuse for the same code, invalidation by a change."""

import shutil
from pathlib import Path

import numpy as np
import pytest

import ktheory
import ktheory.integrate.gd as gd
from ktheory.errors import InvalidArgumentError
from ktheory.experiments import scenarios
from ktheory.experiments.scenarios import (FINGERPRINT_SOURCES, NetworkSpec, Problem, code_fingerprint,
                                           resolve_settings, source_fingerprint, train_group)
from ktheory.model import init_params

PACKAGE_DIR = Path(ktheory.__file__).resolve().parent
# 20 iterations with an integrator checkpoint every 10, so the last checkpoint is at the final iteration.
SETTINGS = {"iterations": 20, "record_every": 5, "imperfect_iteration": 5, "checkpoint_every": 10,
            "spectral_rows": 12, "step": 0.05}


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the ktheory sources, without bytecode."""
    copy = tmp_path / "ktheory"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def covered_files(package_dir: Path) -> list[Path]:
    return sorted({path for pattern in FINGERPRINT_SOURCES for path in package_dir.glob(pattern)})


def test_fingerprint_of_copy_matches(package_copy):
    assert source_fingerprint(package_copy) == code_fingerprint()


def test_fingerprint_changes_with_each_source(package_copy):
    baseline = source_fingerprint(package_copy)
    files = covered_files(package_copy)
    names = {path.relative_to(package_copy).as_posix() for path in files}

    assert {"model.py", "activations.py", "ntk.py", "spectral.py", "theory.py", "experiments/scenarios.py",
            "integrate/gd.py", "integrate/checkpoint.py"} <= names
    for path in files:
        original = path.read_bytes()
        path.write_bytes(original + b"# edited\n")
        assert source_fingerprint(package_copy) != baseline, path.name
        path.write_bytes(original)
    assert source_fingerprint(package_copy) == baseline


def test_fingerprint_ignores_other_sources(package_copy):
    baseline = source_fingerprint(package_copy)
    for name in ("claims/base.py", "errors.py", "data/cifar.py"):
        path = package_copy / name
        path.write_bytes(path.read_bytes() + b"# edited\n")

    assert source_fingerprint(package_copy) == baseline


def test_fingerprint_changes_with_new_file(package_copy):
    baseline = source_fingerprint(package_copy)
    (package_copy / "integrate" / "extra.py").write_text("X = 1\n")

    assert source_fingerprint(package_copy) != baseline


def test_fingerprint_rejects_folder_without_sources(tmp_path):
    with pytest.raises(InvalidArgumentError, match="no ktheory source file"):
        source_fingerprint(tmp_path)


def tiny_group(rng):
    """Return (problem, specs, settings) of a group of one network on 12 inputs in 4 dimensions."""
    X = rng.standard_normal((12, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X_test = rng.standard_normal((6, 4))
    X_test /= np.linalg.norm(X_test, axis=1, keepdims=True)
    problem = Problem(X, np.sign(X[:, 0]), X_test, np.sign(X_test[:, 0]))
    a, W0 = init_params(rng, 5, 4, 0.1)
    return problem, [NetworkSpec("teacher", a, W0, None, 0.0)], resolve_settings(SETTINGS)


@pytest.fixture
def integrator_calls(monkeypatch):
    """Record each call of the integrator with whether its checkpoint file existed beforehand."""
    calls = []
    real = gd.gradient_descent_many

    def spy(*args, **kwargs):
        path = kwargs.get("checkpoint_path")
        calls.append({"checkpoint_path": path, "existed": path is not None and Path(path).exists()})
        return real(*args, **kwargs)

    monkeypatch.setattr(gd, "gradient_descent_many", spy)
    return calls


def test_cache_reused_for_same_code(tmp_path, rng, integrator_calls):
    problem, specs, settings = tiny_group(rng)
    first, _ = train_group("teacher", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)
    again, _ = train_group("teacher", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)

    assert len(integrator_calls) == 1  # the second call loads the finished run from the cache
    np.testing.assert_array_equal(again["teacher"].train_mse, first["teacher"].train_mse)
    np.testing.assert_array_equal(again["teacher"].W, first["teacher"].W)


def test_integrator_checkpoint_resumed_for_same_code(tmp_path, rng, integrator_calls):
    problem, specs, settings = tiny_group(rng)
    first, _ = train_group("teacher", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)
    (tmp_path / "teacher.npz").unlink()  # drop the finished-run cache, keep the integrator checkpoint
    again, _ = train_group("teacher", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)

    assert len(integrator_calls) == 2
    assert integrator_calls[1]["checkpoint_path"] == integrator_calls[0]["checkpoint_path"]
    assert integrator_calls[1]["existed"]
    np.testing.assert_array_equal(again["teacher"].W, first["teacher"].W)


def test_code_change_invalidates_cache(tmp_path, rng, integrator_calls, monkeypatch):
    problem, specs, settings = tiny_group(rng)
    train_group("teacher", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)
    old_checkpoint = integrator_calls[0]["checkpoint_path"]
    assert old_checkpoint.is_file()  # the integrator left a checkpoint at the final iteration

    monkeypatch.setattr(scenarios, "code_fingerprint", lambda: "f" * 64)  # as after an edit of gd.py
    train_group("teacher", problem, specs, settings, checkpoint_dir=tmp_path, progress=False)

    assert len(integrator_calls) == 2  # the cached run of the old code was not reused
    assert integrator_calls[1]["checkpoint_path"] != old_checkpoint
    assert not integrator_calls[1]["existed"]  # nor was the old code's integrator checkpoint resumed


RUN_GROUP = """
import sys
from pathlib import Path

import numpy as np

import ktheory
from ktheory.experiments.scenarios import NetworkSpec, Problem, resolve_settings, train_group
from ktheory.model import init_params

assert Path(ktheory.__file__).resolve().parent == Path(sys.argv[2]).resolve(), ktheory.__file__
rng = np.random.default_rng(7)
X = rng.standard_normal((12, 4))
X_test = rng.standard_normal((6, 4))
a, W0 = init_params(rng, 5, 4, 0.1)
problem = Problem(X, np.sign(X[:, 0]), X_test, np.sign(X_test[:, 0]))
settings = resolve_settings({"iterations": 20, "record_every": 5, "imperfect_iteration": 5, "spectral_rows": 12})
train_group("teacher", problem, [NetworkSpec("teacher", a, W0, None, 0.0)], settings,
            checkpoint_dir=Path(sys.argv[1]), progress=False)
"""


def test_edited_source_invalidates_cache(tmp_path, package_copy):
    """Run one group in fresh interpreters that import a copy of ktheory, editing the copy in between."""
    import hashlib
    import subprocess
    import sys

    cache = tmp_path / "checkpoints" / "teacher.npz"
    # JIT compilation is off because compiling the integrator's kernels in each fresh interpreter
    # takes seconds, and the numbers do not matter here.
    env = {"PYTHONPATH": str(package_copy.parent), "PATH": "/usr/bin:/bin", "NUMBA_DISABLE_JIT": "1"}

    def run():
        done = subprocess.run([sys.executable, "-c", RUN_GROUP, str(cache.parent), str(package_copy)],
                              cwd=package_copy.parent, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        assert done.returncode == 0, done.stderr
        return hashlib.sha256(cache.read_bytes()).hexdigest()

    first = run()
    before = cache.stat().st_mtime_ns
    assert run() == first
    assert cache.stat().st_mtime_ns == before  # same code: the cache is read, not rewritten

    gd_source = package_copy / "integrate" / "gd.py"
    gd_source.write_text(gd_source.read_text() + "# edited\n")
    assert run() != first  # edited code: the run is recomputed and cached under a new key
