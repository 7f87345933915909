"""Teacher and student training runs of the knowledge-transfer experiments on two-class data.

The scenarios follow the experiments of Panahi et al. (2022), "Analysis of Knowledge Transfer in
Kernel Regime", Section 5: a teacher of ``teacher_width`` ReLU units trained on the labels alone,
and students of ``student_width`` units whose privileged knowledge phi_k is the hidden output of a
random subset of the teacher's units (drawn without replacement), with output weights
a_k = sqrt(mbar / m) a_k(teacher) so that the student's head reproduces the teacher's prediction
in expectation. Every run is full-batch gradient descent through :func:`ktheory.gradient_descent`
on the loss with halves, L = 1/2 ||y - f||^2 + lambda/2 sum_k ||phi_k - f_k||^2.

Runs per seed (names used as keys of :class:`CoreRuns`):

- ``teacher``: mbar units from random init, lambda = 0; its weights at ``imperfect_iteration`` are
  the imperfect teacher.
- ``no_teacher``: m units from random init, a_k uniform on {-1, +1}, lambda = 0.
- ``student``: m units from random init, final teacher features, lambda (0.01).
- ``lam_zero``: as ``student`` with lambda = 0 (the lambda -> 0 limit at finite time).
- ``lam_inf``: lambda = inf (units fitted to phi_k alone), initialised at the teacher's subset.
- ``perfect``: initialised at the final teacher subset, final teacher features, lambda.
- ``imperfect``: initialised at the teacher subset at ``imperfect_iteration``, features of that
  checkpoint, lambda.

Each run records the mean squared errors (1/n) sum_i (y_i - f(x_i))^2 on the training and test
sets, the residual ||f(t) - f_inf|| against the predicted final value, and the theory's
predictions at initialisation (:mod:`ktheory.experiments.predictions`).

With a checkpoint folder, a finished run is cached as an npz named after the run. Its key hashes
all inputs of the run and :func:`code_fingerprint`, the sha256 of the source files that determine
a run's numbers (:data:`FINGERPRINT_SOURCES`). The integrator's checkpoint of an unfinished run
carries the fingerprint in its file name. So a change to one of those files makes both miss, and
a rerun of the same code reuses them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError, as_finite_array
from ..integrate.setups import select_units
from ..model import hidden_features, init_params
from . import alignment, predictions

__all__ = [
    "FINGERPRINT_SOURCES",
    "source_fingerprint",
    "code_fingerprint",
    "EmbeddingRuns",
    "embedding_runs",
    "DEFAULT_SETTINGS",
    "resolve_settings",
    "Problem",
    "subsample",
    "RunRecord",
    "NetworkSpec",
    "train_group",
    "CoreRuns",
    "run_core",
]

DEFAULT_SETTINGS = {
    # data: seeded stratified subsample (None keeps the whole split)
    "n_train": None,
    "n_test": None,
    "data_seed": 0,
    # networks and gradient descent
    "activation": "relu",
    "kappa": 1e-2,
    "teacher_width": 100,
    "student_width": 20,
    "lam": 0.01,
    # the paper's step 2e-4 on its loss without halves is step 4e-4 on the loss with halves
    "step": 4e-4,
    "iterations": 50000,
    "imperfect_iteration": 2000,
    "record_every": 500,
    "seeds": [0],
    "spectral_rows": 400,
    "fit_fraction": 0.5,
    "loss_level": 0.5,
    "checkpoint_every": 5000,
    # gradient-descent form passed to the integrator: "auto", "weight" or "kernel"
    "gd_form": "auto",
    "checkpoint": False,
    # kernel embedding: alignf over `kernels` Gaussian kernels, Nystrom with `landmarks` landmarks
    "kernels": 7,
    "landmarks": 256,
    "psd_rows": 2000,
    "bandwidth_pairs": 20000,
    "error_rows": 1000,
    # overlap histograms: top `overlap_top_k` eigenvectors of H^infinity on `overlap_rows` rows
    "overlap_top_k": 10,
    "overlap_rows": None,
    "overlap_bins": 20,
    "dpi": 100,
}


def resolve_settings(config: dict | None) -> dict:
    """Return DEFAULT_SETTINGS updated by the recognised keys of ``config``; unknown keys raise."""
    out = dict(DEFAULT_SETTINGS)
    for key, value in (config or {}).items():
        if key not in out:
            raise InvalidArgumentError(
                f"unknown experiment setting {key!r}; known settings: {', '.join(sorted(out))}"
            )
        out[key] = value
    if not 0 < out["imperfect_iteration"] < out["iterations"]:
        raise InvalidArgumentError(
            f"imperfect_iteration must be in (0, iterations = {out['iterations']}); got {out['imperfect_iteration']}"
        )
    if out["imperfect_iteration"] % out["record_every"]:
        raise InvalidArgumentError(
            f"imperfect_iteration ({out['imperfect_iteration']}) must be a multiple of record_every ({out['record_every']})"
        )
    return out


@dataclass(frozen=True)
class Problem:
    """Training inputs X (n, d), labels y (n,) in {+1, -1}, and the test split."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    info: dict = field(default_factory=dict)


def subsample(dataset, n_train: int | None, n_test: int | None, seed: int) -> Problem:
    """Return a Problem with a seeded subsample of ``dataset`` (rows drawn without replacement).

    Draws are stratified by label (half of each class, the odd row from label +1) and shuffled.
    None, or a count of at least the split's size, keeps every row of the split in a seeded random
    order.
    """
    rng = np.random.default_rng([seed, 1])

    def pick(X, y, count, split):
        X = as_finite_array(f"{split} inputs", X, ndim=2)
        y = as_finite_array(f"{split} labels", y, shape=(X.shape[0],))
        if count is None or count >= X.shape[0]:
            # The CIFAR-10 file is sorted by class, and several numbers use the first rows only
            # (spectral_rows, error_rows), so those rows must be a random draw of both classes.
            idx = rng.permutation(X.shape[0])
            return X[idx], y[idx]
        pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y <= 0)
        n_pos = (count + 1) // 2
        if n_pos > pos.size or count - n_pos > neg.size:
            raise InvalidArgumentError(
                f"cannot draw {count} {split} rows stratified by label: the split has {pos.size} rows with "
                f"label +1 and {neg.size} with -1; lower n_{'train' if split == 'training' else 'test'}"
            )
        idx = np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, count - n_pos, replace=False)])
        idx = rng.permutation(idx)
        return X[idx], y[idx]

    X, y = pick(dataset.X, dataset.y, n_train, "training")
    if dataset.X_test is None:
        raise InvalidArgumentError("dataset has no test split (X_test is None); the experiments need one")
    Xt, yt = pick(dataset.X_test, dataset.y_test, n_test, "test")
    info = dict(getattr(dataset, "info", {}) or {})
    info.update(n_train=int(X.shape[0]), n_test=int(Xt.shape[0]), subsample_seed=[int(seed), 1])
    return Problem(X, y, Xt, yt, info)


@dataclass
class RunRecord:
    """One gradient-descent run: curves, final weights and the theory's predictions.

    Curves have one entry per recorded iteration: ``iteration`` (T,), ``time`` = step * iteration,
    ``train_mse``, ``test_mse``, ``residual`` = ||f_train - f_inf|| with f_inf the predicted final
    value. ``W`` is the final (m, d) weight matrix, ``a`` the output weights.
    """

    name: str
    lam: float
    a: np.ndarray
    W0: np.ndarray
    W: np.ndarray
    iteration: np.ndarray
    time: np.ndarray
    train_mse: np.ndarray
    test_mse: np.ndarray
    residual: np.ndarray
    f_inf: np.ndarray
    status: str
    message: str
    prediction: dict
    wall_time_s: float

    def summary(self, fit_fraction: float, loss_level: float) -> dict:
        """Return the run's numbers: final losses, iterations to reach ``loss_level``, fitted rate.

        ``train_mse_change`` is max_r |train_mse(r) - train_mse(0)| / train_mse(0), the largest
        relative movement of the training loss over the run (0 for a network that does not move).
        """
        reach = np.flatnonzero(self.train_mse <= loss_level)
        pred = self.prediction
        start = float(self.train_mse[0])
        change = float(np.max(np.abs(self.train_mse - start))) / start if start > 0 else float("nan")
        return {
            "initial_train_mse": start,
            "train_mse_change": change,
            "final_train_mse": float(self.train_mse[-1]),
            "final_test_mse": float(self.test_mse[-1]),
            "predicted_final_train_mse": pred.get("final_train_mse"),
            "iterations_to_level": int(self.iteration[reach[0]]) if reach.size else None,
            "fitted_rate": predictions.fit_rate(self.time, self.residual, fit_fraction),
            "p_min": pred.get("p_min"),
            "p_min_rows_used": pred.get("rows"),
            "lambda_sigma0": pred.get("bound"),
            "p_min_upper": pred.get("upper"),
            "status": self.status,
        }


FINGERPRINT_SOURCES = ("experiments/*.py", "integrate/*.py", "model.py", "activations.py", "ntk.py",
                       "spectral.py", "theory.py")
"""Glob patterns, relative to the ktheory package folder, of the sources that determine a run's numbers."""


def source_fingerprint(package_dir) -> str:
    """Return the sha256 hex digest of the FINGERPRINT_SOURCES files under ``package_dir``.

    Each file contributes its path relative to ``package_dir``, its length and its bytes, in sorted
    path order, so renaming, adding or removing a covered file changes the digest too.
    """
    package_dir = Path(package_dir)
    paths = sorted({path for pattern in FINGERPRINT_SOURCES for path in package_dir.glob(pattern)})
    if not paths:
        raise InvalidArgumentError(
            f"no ktheory source file matches {FINGERPRINT_SOURCES} under {str(package_dir)!r}; "
            "pass the ktheory package folder"
        )
    h = hashlib.sha256()
    for path in paths:
        data = path.read_bytes()
        h.update(f"{path.relative_to(package_dir).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """Return :func:`source_fingerprint` of the imported ktheory package, computed once per process."""
    return source_fingerprint(Path(__file__).resolve().parent.parent)


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str(part.shape).encode())
            h.update(np.ascontiguousarray(part, dtype=np.float64).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"|")
    return h.hexdigest()[:16]


_ARRAYS = ("a", "W0", "W", "iteration", "time", "train_mse", "test_mse", "residual", "f_inf")


def _load_cached(path: Path, key: str):
    """Return (RunRecord, snapshots) from a finished-run cache, or None when absent or for other inputs."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        if str(z["key"]) != key:
            return None
        meta = json.loads(str(z["meta"]))
        arrays = {name: z[name].copy() for name in _ARRAYS}
        snaps = {int(f.split("/")[1]): z[f].copy() for f in z.files if f.startswith("snapshot/")}
    rec = RunRecord(name=meta["name"], lam=meta["lam"], status=meta["status"], message=meta["message"],
                    prediction=meta["prediction"], wall_time_s=meta["wall_time_s"], **arrays)
    return rec, snaps


def _save_cached(path: Path, key: str, rec: RunRecord, snapshots: dict):
    meta = {"name": rec.name, "lam": rec.lam, "status": rec.status, "message": rec.message,
            "prediction": rec.prediction, "wall_time_s": rec.wall_time_s}
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, key=np.array(key), meta=np.array(json.dumps(meta, default=float)),
             **{name: getattr(rec, name) for name in _ARRAYS},
             **{f"snapshot/{it}": W for it, W in snapshots.items()})
    tmp.replace(path)


@dataclass(frozen=True)
class NetworkSpec:
    """One network of a training group: name, output weights a (m,), W0 (m, d), Phi (n, m) or None, lambda."""

    name: str
    a: np.ndarray
    W0: np.ndarray
    Phi: np.ndarray | None
    lam: float


def _record(spec: NetworkSpec, problem: Problem, res, pred: dict, wall: float) -> RunRecord:
    hist = res.history
    f_train = np.asarray(hist["f_train"])
    f_test = np.asarray(hist["f_test"])
    f_inf = predictions.final_value(problem.y, spec.Phi, spec.a, spec.lam) if spec.Phi is not None else problem.y.copy()
    pred = dict(pred, final_train_mse=float(np.mean((f_inf - problem.y) ** 2)))
    return RunRecord(
        name=spec.name, lam=float(spec.lam), a=np.asarray(spec.a, float), W0=np.asarray(spec.W0, float),
        W=np.asarray(res.W), iteration=np.asarray(hist["iteration"]), time=np.asarray(hist["time"]),
        train_mse=np.mean((f_train - problem.y[None, :]) ** 2, axis=1),
        test_mse=np.mean((f_test - problem.y_test[None, :]) ** 2, axis=1),
        residual=np.linalg.norm(f_train - f_inf[None, :], axis=1), f_inf=f_inf,
        status=str(res.status), message=str(res.message), prediction=pred, wall_time_s=wall,
    )


def train_group(group: str, problem: Problem, specs: list[NetworkSpec], settings: dict, *,
                checkpoint_dir: Path | None = None, progress=None, snapshots=(),
                label: str | None = None) -> tuple[dict, dict]:
    """Train the networks of ``specs`` together (one pass over X per step) and return their records.

    Returns ({name: RunRecord}, {name: {iteration: W}} for the iterations in ``snapshots``).
    With ``checkpoint_dir`` the integrator checkpoints into ``<dir>/<group>.<hash>.gd.npz``, where
    the hash covers :func:`code_fingerprint` and every input except the iteration count, and the
    finished group is cached in
    ``<dir>/<name>.npz`` per network, keyed by the inputs and the code fingerprint. The theory's
    numbers at initialisation (p_min and its bounds, minutes of eigensolves at full size) are
    cached in ``<dir>/<group>.<hash>.pred.json`` (same hash), so a resumed run does
    not recompute them. ``label`` names the group in the progress bars (default: ``group``).
    """
    from ..integrate.gd import ModelSpec, gradient_descent_many

    s = settings
    act = s["activation"]
    iterations = int(s["iterations"])
    fingerprint = code_fingerprint()
    # Hash of the code and of every input except the iteration count. It names the integrator
    # checkpoint and the cached predictions, which do not depend on how long the run goes. The
    # finished-run key adds the iteration count and the rows behind p_min.
    resume_key = _digest(fingerprint, problem.X, problem.y, problem.X_test, problem.y_test, act,
                         float(s["step"]), int(s["record_every"]), list(snapshots), s["gd_form"],
                         *[x for sp in specs for x in (sp.name, sp.a, sp.W0,
                                                       "none" if sp.Phi is None else sp.Phi, float(sp.lam))])
    key = _digest(resume_key, iterations, int(s["spectral_rows"]))
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        hits = [_load_cached(checkpoint_dir / f"{sp.name}.npz", key) for sp in specs]
        if all(h is not None for h in hits):
            snaps = {sp.name: {} for sp in specs}
            for sp, (rec, snap) in zip(specs, hits):
                snaps[sp.name] = snap
            return {sp.name: h[0] for sp, h in zip(specs, hits)}, snaps

    label = group if label is None else label
    pred_key = _digest(resume_key, int(s["spectral_rows"]))
    pred_path = None if checkpoint_dir is None else checkpoint_dir / f"{group}.{resume_key}.pred.json"
    preds = _load_predictions(pred_path, pred_key)
    if preds is None:
        preds = _compute_predictions(problem, specs, s, progress, label)
        if pred_path is not None:
            pred_path.write_text(json.dumps({"key": pred_key, "predictions": preds}, sort_keys=True))
    models = [ModelSpec(y=problem.y, a=sp.a, W0=sp.W0, Phi=sp.Phi, lam=sp.lam, activation=act,
                        step=float(s["step"]), y_test=problem.y_test, name=sp.name) for sp in specs]
    kwargs = {}
    if checkpoint_dir is not None:
        # The name carries a hash of the code fingerprint and of every input except the iteration
        # count. Other code or other settings then start a new file instead of resuming (or being
        # rejected by) an old one, while a rerun with more iterations continues the same file.
        kwargs.update(checkpoint_path=checkpoint_dir / f"{group}.{resume_key}.gd.npz",
                      checkpoint_every=int(s["checkpoint_every"]))
    tick = time.perf_counter()
    results = gradient_descent_many(problem.X, models, iterations, X_test=problem.X_test,
                                    record_every=int(s["record_every"]), record_features=False, form=s["gd_form"],
                                    weight_snapshots=tuple(snapshots), progress=progress,
                                    seed_note=label, **kwargs)
    wall = time.perf_counter() - tick
    stopped = [res.iterations for res in results if res.status == "stopped"]
    if stopped:
        # Ctrl-C inside the integrator returns a partial run. Caching it as finished would make
        # every later run reuse it instead of resuming from the checkpoint, so stop here.
        raise KeyboardInterrupt(f"{group} interrupted at iteration {stopped[0]} of {iterations}")
    records, snaps = {}, {}
    for sp, res in zip(specs, results):
        records[sp.name] = _record(sp, problem, res, preds[sp.name], wall / len(specs))
        snaps[sp.name] = {int(k): np.asarray(v) for k, v in res.snapshots.items()}
        if checkpoint_dir is not None:
            _save_cached(checkpoint_dir / f"{sp.name}.npz", key, records[sp.name], snaps[sp.name])
    return records, snaps


def _load_predictions(path: Path | None, key: str) -> dict | None:
    """Return the cached predictions of a group, or None when absent, unreadable or for other inputs."""
    if path is None or not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # a file cut short by a kill is recomputed
    return stored.get("predictions") if stored.get("key") == key else None


def _compute_predictions(problem: Problem, specs: list[NetworkSpec], s: dict, progress, label: str) -> dict:
    """Return {name: smallest_pole(...) dict} for each network at its initial weights."""
    from tqdm.auto import tqdm

    from ..integrate.gd import _show_progress

    act = s["activation"]
    preds, sigma0 = {}, {}
    bar = tqdm(specs, desc=f"poles at initialisation ({label})", unit="network", leave=False,
               disable=not _show_progress(progress))
    for sp in bar:
        tick = time.perf_counter()
        w_key = _digest(sp.W0)  # students that share W0 share the unit eigenvalues
        if w_key not in sigma0:
            sigma0[w_key] = predictions.unit_sigma0(problem.X, sp.W0, act)
        preds[sp.name] = predictions.smallest_pole(problem.X, sp.W0, sp.a, sp.lam, act,
                                                   max_rows=int(s["spectral_rows"]), sigma0=sigma0[w_key])
        preds[sp.name]["wall_time_s"] = time.perf_counter() - tick
    return preds


@dataclass
class CoreRuns:
    """Runs of one seed that Figures 1, 2 and 4 share, with the teacher subset and checkpoint weights."""

    seed: int
    runs: dict
    subset: np.ndarray
    teacher_a: np.ndarray
    teacher_W_mid: np.ndarray
    teacher_W: np.ndarray


def run_core(problem: Problem, settings: dict, seed: int, *, checkpoint_dir: Path | None = None,
             progress=None) -> CoreRuns:
    """Run the teacher and the six students of one seed (see the module docstring).

    The teacher is trained first, with a weight snapshot at ``imperfect_iteration``; the six
    students then train together in one stacked gradient descent.
    """
    s = settings
    act = s["activation"]
    mbar, m = int(s["teacher_width"]), int(s["student_width"])
    if m > mbar:
        raise InvalidArgumentError(f"student_width ({m}) must be <= teacher_width ({mbar}) to subset the teacher")
    d = problem.X.shape[1]
    rng_teacher = np.random.default_rng([seed, 2])
    rng_student = np.random.default_rng([seed, 3])
    sub = None if checkpoint_dir is None else Path(checkpoint_dir) / f"seed{seed}"

    a_t, W_t0 = init_params(rng_teacher, mbar, d, s["kappa"])
    mid = int(s["imperfect_iteration"])
    recs, snaps = train_group("teacher", problem, [NetworkSpec("teacher", a_t, W_t0, None, 0.0)], s,
                              checkpoint_dir=sub, progress=progress, snapshots=(mid,), label=f"teacher, seed {seed}")
    teacher = recs["teacher"]
    W_mid = snaps["teacher"][mid]

    subset = select_units(mbar, m, rng_student)
    a_s = np.sqrt(mbar / m) * a_t[subset]
    a_free, W_rand = init_params(rng_student, m, d, s["kappa"])
    Phi_final = hidden_features(problem.X, teacher.W[subset], act)
    Phi_mid = hidden_features(problem.X, W_mid[subset], act)
    lam = float(s["lam"])
    specs = [
        NetworkSpec("no_teacher", a_free, W_rand, None, 0.0),
        NetworkSpec("student", a_s, W_rand, Phi_final, lam),
        NetworkSpec("lam_zero", a_s, W_rand, None, 0.0),
        NetworkSpec("lam_inf", a_s, teacher.W[subset], Phi_final, np.inf),
        NetworkSpec("perfect", a_s, teacher.W[subset], Phi_final, lam),
        NetworkSpec("imperfect", a_s, W_mid[subset], Phi_mid, lam),
    ]
    students, _ = train_group("students", problem, specs, s, checkpoint_dir=sub, progress=progress,
                              label=f"students, seed {seed}")
    return CoreRuns(seed, {"teacher": teacher, **students}, subset, a_t, W_mid, teacher.W)


@dataclass
class EmbeddingRuns:
    """Teacher and student trained on Nystrom features of the alignf kernel, with the kernel's numbers."""

    runs: dict
    alignment: alignment.AlignfResult
    embedding: alignment.NystromEmbedding
    numbers: dict


def embedding_runs(problem: Problem, settings: dict, seed: int, *, checkpoint_dir: Path | None = None,
                   progress=None) -> EmbeddingRuns:
    """Learn the alignf kernel on the training rows, embed both splits by Nystrom and train on them.

    The teacher ``teacher_emb`` (lambda = 0) and the student ``student_emb`` (random init., features
    of a random subset of ``teacher_emb``, lambda) use the same widths, step and iterations as the
    runs on raw inputs. Feature rows are re-normalised to unit norm.
    """
    from ..ntk import relu_expected_kernel

    s = settings
    rng = np.random.default_rng([seed, 4])
    X, y = problem.X, problem.y
    med = alignment.median_distance(X, rng, pairs=int(s["bandwidth_pairs"]))
    bw = alignment.default_bandwidths(med, int(s["kernels"]))
    res = alignment.alignf(X, y, bw)
    psd = [alignment.psd_check(X, b, rng, psd_rows=int(s["psd_rows"])) for b in bw]
    landmarks = min(int(s["landmarks"]), X.shape[0])
    emb = alignment.nystrom_embedding(X, res.mu, bw, landmarks, rng)
    Z, Zt = emb.transform(X), emb.transform(problem.X_test)

    rows = min(int(s["error_rows"]), X.shape[0])
    K = sum(w * alignment.gaussian_kernel(X[:rows], X[:rows], b) for w, b in zip(res.mu, bw))
    Zr = emb.transform(X[:rows], normalize=False)
    yy = np.outer(y[:rows], y[:rows])
    numbers = {
        "seed": int(seed), "median_distance": med, "bandwidths": bw, "mu": res.mu, "v": res.v,
        "base_alignment": res.base_alignment, "alignment": res.alignment, "qp_objective": res.objective,
        "psd": psd, "all_psd": all(p["psd"] for p in psd), "psd_rows": psd[0]["rows"],
        "min_psd_eigenvalue": min(p["min_eigenvalue"] for p in psd),
        "landmarks": landmarks, "landmark_indices": emb.landmarks, "rank": emb.rank, "error_rows": rows,
        "nystrom_relative_error": float(np.linalg.norm(K - Zr @ Zr.T) / np.linalg.norm(K)),
        "h_inf_alignment_raw": alignment.centered_alignment(relu_expected_kernel(X[:rows]), yy),
        "h_inf_alignment_embedded": alignment.centered_alignment(relu_expected_kernel(Z[:rows]), yy),
    }

    embedded = Problem(Z, y, Zt, problem.y_test, dict(problem.info, embedding="nystrom"))
    mbar, m = int(s["teacher_width"]), int(s["student_width"])
    rng_t = np.random.default_rng([seed, 5])
    a_t, W_t0 = init_params(rng_t, mbar, Z.shape[1], s["kappa"])
    sub = None if checkpoint_dir is None else Path(checkpoint_dir) / f"seed{seed}"
    recs, _ = train_group("teacher_emb", embedded, [NetworkSpec("teacher_emb", a_t, W_t0, None, 0.0)], s,
                          checkpoint_dir=sub, progress=progress, label=f"teacher on the embedding, seed {seed}")
    teacher = recs["teacher_emb"]
    subset = select_units(mbar, m, rng_t)
    a_s = np.sqrt(mbar / m) * a_t[subset]
    W_s0 = s["kappa"] * rng_t.standard_normal((m, Z.shape[1]))
    Phi = hidden_features(Z, teacher.W[subset], s["activation"])
    recs, _ = train_group("student_emb", embedded, [NetworkSpec("student_emb", a_s, W_s0, Phi, float(s["lam"]))],
                          s, checkpoint_dir=sub, progress=progress, label=f"student on the embedding, seed {seed}")
    return EmbeddingRuns({"teacher_emb": teacher, **recs}, res, emb, numbers)
