"""Full-batch gradient descent on the knowledge-transfer loss, for one or several models sharing X.

Loss of Panahi et al. (2022) with halves, for one model with m hidden units:

    L(W) = 1/2 ||y - f||^2 + lam/2 sum_k ||phi_k - f_k||^2,   f = F c,  F = sigma(X W^T),

c = a / sqrt(m), Phi (n, m) with column k = phi_k. lam = numpy.inf selects the lambda -> infinity
mode L = 1/2 sum_k ||phi_k - f_k||^2 (data term dropped). One step is W <- W - step grad L, and the
gradient-flow time after r steps is t = step * r.

Two forms of the same iteration:

- weight form: W is the state. A compiled kernel reads X once per step (pre-activations,
  residuals E and the direction E^T X = -grad L together); see :mod:`ktheory.integrate.kernels`.
- kernel form: Z = X W^T (n, m) is the state and Z <- Z + step K E with K = X X^T, because
  W <- W + step E^T X implies X W^T <- X W^T + step X X^T E. It also accumulates S = sum_r E_r,
  so that W_r = W0 + step S^T X is rebuilt only when asked for. One step costs 2 n^2 m flops
  against 4 n d m for the weight form, so ``form="auto"`` picks it when n < 2 d.

Several models that share X (a teacher and its students, a sweep over lambda or seeds) are
stacked into one W (or Z) and trained with one pass over X per step: :func:`gradient_descent_many`.

Known limitations
-----------------
- Bit-identical resumption needs the same BLAS thread count as the interrupted run in the kernel
  form and in the blocked weight kernel, because BLAS may split sums by thread. The fused weight
  kernel sums in a fixed order and is identical for any thread count.
- The two forms round differently. They agree to about 1e-13 relative on short runs, but where
  GD is unstable or chaotic the difference grows like any perturbation.
- The divergence bound uses the Gauss-Newton matrix (the residual-curvature term of the Hessian,
  with sigma'', is left out), so it is the stability limit of GD on the linearised model.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..activations import get_activation
from ..errors import InvalidArgumentError, as_finite_array, check_lambda, check_positive
from . import kernels
from .checkpoint import input_digest, load_checkpoint, save_checkpoint
from .reference import loss_weights

__all__ = [
    "ModelSpec",
    "GDResult",
    "gradient_descent",
    "gradient_descent_many",
    "stability_bound",
    "choose_form",
    "FUSED_MAX_UNITS",
    "RECORDS_DEFAULT",
]

# NOTE: on an idle machine the fused step for ReLU took 65.5 ms at n = 1000, m = 20, against
# 10.6 ms for the blocked kernel (docs/benchmarks.md), so "auto" may pick the slower kernel there.
FUSED_MAX_UNITS = 64
"""Largest stacked unit count M for the hand-written fused weight kernel. Above it W and the
gradient no longer fit in a 1 MiB L2 cache together, and the two-GEMM step was faster in
interleaved timings at d = 3072 (fused ahead at M = 32..64, behind at M = 80 and 100)."""

RECORDS_DEFAULT = 100
"""Records per run when ``record_every`` is None: about 100 points resolve a loss curve."""

_FORMS = ("auto", "weight", "kernel")
_WEIGHT_KERNELS = ("auto", "fused", "blocked", "gemm")


@dataclass
class ModelSpec:
    """One model trained by :func:`gradient_descent_many`.

    y (n,), a (m,), W0 (m, d), Phi (n, m) or None when lam = 0, lam >= 0 or numpy.inf,
    activation name, step > 0; y_test (n_test,) and Phi_test (n_test, m) are optional.
    """

    y: np.ndarray
    a: np.ndarray
    W0: np.ndarray
    Phi: np.ndarray | None = None
    lam: float = 0.0
    activation: str = "relu"
    step: float = 1e-3
    y_test: np.ndarray | None = None
    Phi_test: np.ndarray | None = None
    name: str | None = None


@dataclass
class GDResult:
    """Outcome of a gradient-descent run.

    ``W`` (m, d) final weights, ``W0`` initial weights, ``iterations`` steps done, ``step``,
    ``status`` in {"ok", "diverged", "stopped"}, ``message``, ``history`` (dict of arrays recorded
    at ``history["iteration"]``), ``snapshots`` {iteration: W} requested by ``weight_snapshots``.
    """

    W: np.ndarray
    W0: np.ndarray
    iterations: int
    step: float
    status: str
    message: str
    history: dict
    lam: float = 0.0
    activation: str = "relu"
    form: str = "weight"
    snapshots: dict = field(default_factory=dict)
    elapsed_s: float = 0.0
    seed_note: str | None = None

    @property
    def time(self) -> float:
        """Gradient-flow time step * iterations reached by the run."""
        return self.step * self.iterations


def choose_form(n: int, d: int, form: str = "auto") -> str:
    """Return "kernel" or "weight": the kernel form when n < 2 d (one n^2 m product per step)."""
    if form not in _FORMS:
        raise InvalidArgumentError(f"form must be one of {', '.join(_FORMS)}; got {form!r}")
    if form != "auto":
        return form
    return "kernel" if n < 2 * d else "weight"


# ----------------------------------------------------------------------------- validation


def _check_model(spec: ModelSpec, index: int, n: int, d: int, n_test: int | None) -> dict:
    tag = f"model {index}" if spec.name is None else f"model {spec.name!r}"
    y = as_finite_array(f"y ({tag})", spec.y, ndim=1)
    if y.shape[0] != n:
        raise InvalidArgumentError(f"y ({tag}) must have length n = {n} (rows of X); got {y.shape[0]}")
    W0 = as_finite_array(f"W0 ({tag})", spec.W0, ndim=2)
    if W0.shape[1] != d or W0.shape[0] == 0:
        raise InvalidArgumentError(
            f"W0 ({tag}) must have shape (m, {d}) with m >= 1 to match X with d = {d}; got {W0.shape}"
        )
    m = W0.shape[0]
    a = as_finite_array(f"a ({tag})", spec.a, ndim=1)
    if a.shape[0] != m:
        raise InvalidArgumentError(f"a ({tag}) must have length m = {m} (rows of W0); got {a.shape[0]}")
    lam = check_lambda(spec.lam, name=f"lam ({tag})", allow_inf=True)
    act = get_activation(spec.activation)
    step = check_positive(spec.step, f"step ({tag})")
    Phi = None
    if spec.Phi is not None:
        Phi = as_finite_array(f"Phi ({tag})", spec.Phi, ndim=2)
        if Phi.shape != (n, m):
            raise InvalidArgumentError(f"Phi ({tag}) must have shape (n, m) = ({n}, {m}); got {Phi.shape}")
    elif lam > 0:
        raise InvalidArgumentError(
            f"Phi ({tag}) is missing but lam = {lam!r} > 0: pass the privileged features Phi (n, m) or set lam = 0"
        )
    y_test = Phi_test = None
    if spec.y_test is not None:
        if n_test is None:
            raise InvalidArgumentError(f"y_test ({tag}) was given without X_test; pass X_test too")
        y_test = as_finite_array(f"y_test ({tag})", spec.y_test, shape=(n_test,))
    if spec.Phi_test is not None:
        if n_test is None:
            raise InvalidArgumentError(f"Phi_test ({tag}) was given without X_test; pass X_test too")
        Phi_test = as_finite_array(f"Phi_test ({tag})", spec.Phi_test, shape=(n_test, m))
    return dict(y=y, a=a, W0=W0, m=m, lam=lam, act=act, step=step, Phi=Phi,
                y_test=y_test, Phi_test=Phi_test, c=a / np.sqrt(m))


class _Stack:
    """Stacked arrays of J models: units of model j occupy rows offsets[j]:offsets[j+1] of W."""

    def __init__(self, models: list[dict], n: int):
        self.models = models
        self.J = len(models)
        sizes = [mod["m"] for mod in models]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.M = int(self.offsets[-1])
        self.W0 = np.ascontiguousarray(np.concatenate([mod["W0"] for mod in models]))
        self.c = np.concatenate([mod["c"] for mod in models])
        self.unit_model = np.repeat(np.arange(self.J, dtype=np.int64), sizes)
        self.codes = np.array([mod["act"].code for mod in models], dtype=np.int64)
        self.Y = np.ascontiguousarray(np.stack([mod["y"] for mod in models], axis=1))
        Phi = np.zeros((n, self.M))
        for j, mod in enumerate(models):
            if mod["Phi"] is not None:
                Phi[:, self.offsets[j]:self.offsets[j + 1]] = mod["Phi"]
        self.Phi = Phi
        weights = [loss_weights(mod["lam"]) for mod in models]
        self.wd = np.array([w[0] for w in weights])
        self.wr = np.array([w[1] for w in weights])
        self.steps = np.array([mod["step"] for mod in models])
        self.unit_steps = self.steps[self.unit_model]

    def units(self, j: int) -> slice:
        return slice(int(self.offsets[j]), int(self.offsets[j + 1]))


# ----------------------------------------------------------------------------- state


def _two_gemm_step(X, W, c, unit_model, codes, Y, Phi, wd, wr, Z, E, G, losses):
    """Weight-form step with two full BLAS products (two reads of X) and compiled residuals."""
    np.matmul(W, X.T, out=Z.T)  # writes Z = X W^T through its transpose, the faster orientation
    kernels.residual_step(Z, c, unit_model, codes, Y, Phi, wd, wr, E, losses)
    np.matmul(E.T, X, out=G)


class _WeightState:
    """Weight-form iterate: W (M, d)."""

    form = "weight"

    def __init__(self, X, stack: _Stack, weight_kernel: str):
        self.X = X
        self.stack = stack
        self.W = stack.W0.copy()
        n = X.shape[0]
        M, d = self.W.shape
        self.Z = np.empty((n, M))
        self.E = np.empty((n, M))
        self.G = np.empty((M, d))
        self.losses = np.empty((stack.J, 2))
        self.weight_kernel = weight_kernel
        self.kernel = {"fused": kernels.fused_weight_step, "blocked": kernels.blocked_weight_step,
                       "gemm": _two_gemm_step}[weight_kernel]

    def evaluate(self):
        s = self.stack
        self.kernel(self.X, self.W, s.c, s.unit_model, s.codes, s.Y, s.Phi, s.wd, s.wr,
                    self.Z, self.E, self.G, self.losses)
        return self.Z, self.losses


    def update(self):
        self.W += self.stack.unit_steps[:, None] * self.G

    def weights(self):
        return self.W.copy()

    def test_preactivations(self, X_test):
        return (self.W @ X_test.T).T

    def distances(self):
        diff = self.W - self.stack.W0
        return np.einsum("ud,ud->u", diff, diff)

    def gram(self):
        return None

    def arrays(self):
        return {"state/W": self.W}

    def restore(self, arrays):
        self.W[...] = arrays["state/W"]

    def copy_state(self):
        return self.W.copy()

    def weights_from(self, saved):
        return saved


class _KernelState:
    """Kernel-form iterate: Z = X W^T (n, M) and S = sum_r E_r (n, M), with K = X X^T fixed."""

    form = "kernel"

    def __init__(self, X, stack: _Stack, X_test=None):
        self.X = X
        self.stack = stack
        self.K = X @ X.T
        self.Z = np.ascontiguousarray((stack.W0 @ X.T).T)
        self.S = np.zeros_like(self.Z)
        self.E = np.empty_like(self.Z)
        self.losses = np.empty((stack.J, 2))
        self.K_test = None if X_test is None else X_test @ X.T
        self.Z_test0 = None if X_test is None else (stack.W0 @ X_test.T).T

    def evaluate(self):
        s = self.stack
        kernels.residual_step(self.Z, s.c, s.unit_model, s.codes, s.Y, s.Phi, s.wd, s.wr, self.E, self.losses)
        return self.Z, self.losses

    def update(self):
        self.Z += self.K @ (self.E * self.stack.unit_steps[None, :])
        self.S += self.E

    def weights(self):
        return self.weights_from((self.Z, self.S))

    def weights_from(self, saved):
        S = saved[1]
        return self.stack.W0 + self.stack.unit_steps[:, None] * (S.T @ self.X)

    def test_preactivations(self, X_test):
        return self.Z_test0 + (self.K_test @ self.S) * self.stack.unit_steps[None, :]

    def distances(self):
        # ||w_u - w_u(0)||^2 = step_u^2 s_u^T K s_u, without forming W.
        KS = self.K @ self.S
        return self.stack.unit_steps ** 2 * np.einsum("iu,iu->u", self.S, KS)

    def gram(self):
        return self.K

    def arrays(self):
        return {"state/Z": self.Z, "state/S": self.S}

    def restore(self, arrays):
        self.Z[...] = arrays["state/Z"]
        self.S[...] = arrays["state/S"]

    def copy_state(self):
        return self.Z.copy(), self.S.copy()


# ----------------------------------------------------------------------------- stability bound


def stability_bound(X, W, a, Phi_present: bool, lam, activation, tol: float = 1e-6) -> dict:
    """Return the GD stability bound 2 / lambda_max of the Gauss-Newton matrix at W.

    For the residual vector (y - f, sqrt(lam) (phi_k - f_k)) the Gauss-Newton matrix is
    J_f^T (C kron I_n) J_f with J_f the block-diagonal Jacobian of the hidden features and
    C = wd c c^T + wr I_m (wd, wr the loss weights; C = I for lam = inf). Its nonzero eigenvalues
    are the poles of Hbar at W, so lambda_max is the largest pole of the current Jacobian kernel,
    including the regulariser's contribution. Computed by Lanczos (scipy eigsh) on the weight-space
    operator, two products with X per iteration. Returns {"lambda_max", "bound", "converged"}.
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    act = get_activation(activation)
    W = np.asarray(W, dtype=float)
    m, d = W.shape
    c = np.asarray(a, dtype=float) / np.sqrt(m)
    wd, wr = loss_weights(lam) if Phi_present or np.isinf(lam) else (1.0, 0.0)
    D = act.dsigma(X @ W.T)  # (n, m)

    def matvec(v):
        V = np.reshape(v, (m, d))
        U = D * (X @ V.T)
        UC = wd * np.outer(U @ c, c) + wr * U
        return ((D * UC).T @ X).reshape(-1)

    op = LinearOperator((m * d, m * d), matvec=matvec, dtype=np.float64)
    converged = True
    try:
        value = float(eigsh(op, k=1, which="LA", tol=tol, return_eigenvectors=False)[0])
    except ArpackNoConvergence as exc:
        converged = False
        value = float(np.max(exc.eigenvalues)) if len(exc.eigenvalues) else float("nan")
    bound = 2.0 / value if value > 0 else float("inf")
    return {"lambda_max": value, "bound": bound, "converged": converged}


# ----------------------------------------------------------------------------- recording


def _record_iterations(iterations: int, record_every: int) -> set:
    return set(range(0, iterations + 1, record_every)) | {iterations}


class _Recorder:
    """Per-model history lists; each record is computed from Z (and W only where needed)."""

    def __init__(self, stack, X, X_test, record_features, record_kernel_change):
        self.stack = stack
        self.X = X
        self.X_test = X_test
        self.record_features = record_features
        self.record_kernel_change = record_kernel_change
        self.history = [dict() for _ in range(stack.J)]
        self.D0 = None

    def _append(self, j, key, value):
        self.history[j].setdefault(key, []).append(value)

    def record(self, r, state, Z):
        s = self.stack
        Z_test = state.test_preactivations(self.X_test) if self.X_test is not None else None
        dist = state.distances()
        W_all = state.weights() if self.record_kernel_change else None
        for j, mod in enumerate(s.models):
            units = s.units(j)
            act = mod["act"]
            F = act.sigma(Z[:, units])
            f = F @ mod["c"]
            res = mod["y"] - f
            data = 0.5 * float(res @ res)
            feat = np.nan
            if mod["Phi"] is not None:
                diff = mod["Phi"] - F
                feat = 0.5 * float(np.sum(diff * diff))
            lam = mod["lam"]
            if np.isinf(lam):
                reg, loss = feat, feat
            elif lam == 0.0:
                reg, loss = 0.0, data
            else:
                reg = lam * feat
                loss = data + reg
            self._append(j, "iteration", r)
            self._append(j, "time", mod["step"] * r)
            self._append(j, "loss", loss)
            self._append(j, "data_loss", data)
            self._append(j, "reg_loss", reg)
            self._append(j, "feature_loss", feat)
            self._append(j, "f_train", f)
            if self.record_features:
                self._append(j, "features", F)
            self._append(j, "weight_distance", float(np.sum(dist[units])))
            self._append(j, "unit_distance", dist[units].copy())
            if Z_test is not None:
                F_test = act.sigma(Z_test[:, units])
                f_test = F_test @ mod["c"]
                self._append(j, "f_test", f_test)
                if mod["y_test"] is not None:
                    res_t = mod["y_test"] - f_test
                    self._append(j, "test_loss", 0.5 * float(res_t @ res_t))
                if mod["Phi_test"] is not None:
                    diff_t = mod["Phi_test"] - F_test
                    self._append(j, "test_feature_loss", 0.5 * float(np.sum(diff_t * diff_t)))
            if self.record_kernel_change:
                from .kernel_regime import kernel_change

                self._append(j, "kernel_change",
                             kernel_change(self.X, W_all[units], mod["W0"], act, K=state.gram()))

    def length(self) -> int:
        return len(self.history[0].get("iteration", []))

    def arrays(self, length: int | None = None) -> dict:
        out = {}
        for j, hist in enumerate(self.history):
            for key, values in hist.items():
                out[f"history/{j}/{key}"] = np.asarray(values[:length] if length is not None else values)
        return out

    def restore(self, arrays):
        for name, value in arrays.items():
            if not name.startswith("history/"):
                continue
            _, j, key = name.split("/", 2)
            self.history[int(j)][key] = list(value)

    def finish(self) -> list[dict]:
        return [{key: np.asarray(values) for key, values in hist.items()} for hist in self.history]


# ----------------------------------------------------------------------------- main loop


def _show_progress(progress) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


def gradient_descent_many(X, models, iterations, *, X_test=None, record_every=None, form="auto",
                          weight_kernel="auto", record_kernel_change=False, record_features=True,
                          checkpoint_path=None, checkpoint_every=None, resume=True, stop_at=None,
                          weight_snapshots=(), progress=None, divergence_factor=1e6,
                          seed_note=None) -> list[GDResult]:
    """Train several models that share X with one pass over X per step; return one GDResult each.

    Parameters
    ----------
    X : (n, d) training inputs, shared by all models.
    models : list of :class:`ModelSpec` (each with its own y, a, W0, Phi, lam, activation, step).
    iterations : number of GD steps r; the history covers r = 0 .. iterations.
    X_test : (n_test, d), optional; records f_test (and test_loss where a model has y_test).
    record_every : record stride; None gives about ``RECORDS_DEFAULT`` records. r = 0 and the last
        step are always recorded.
    form : "auto" (kernel form when n < 2 d), "weight" or "kernel".
    weight_kernel : "auto" (fused when the stacked unit count M <= FUSED_MAX_UNITS, else gemm),
        "fused" (one read of X per step, hand-blocked), "blocked" (one read, BLAS per row block)
        or "gemm" (two full BLAS products, two reads of X).
    record_kernel_change : also record ||H_k(t) - H_k(0)||_2 per unit (expensive).
    record_features : record the hidden features F (T, n, m); False saves memory on long runs.
    checkpoint_path, checkpoint_every : write an atomic checkpoint every N steps. When the file
        exists and ``resume`` is true, the run continues from it if the inputs hash the same.
    stop_at : stop with status "stopped" once r reaches this iteration (checkpoint written).
    weight_snapshots : iterations at which to keep a copy of W in ``result.snapshots``.
    progress : tqdm bar; None shows it only when stderr is a terminal.
    divergence_factor : stop with status "diverged" when a loss is not finite or exceeds
        divergence_factor * max(initial loss, loss of the zero network).
    seed_note : free text kept in the result and the checkpoint and shown in the progress bar
        (e.g. the group and the seed that made W0).
    """
    start_clock = time.perf_counter()
    X = np.ascontiguousarray(as_finite_array("X", X, ndim=2))
    n, d = X.shape
    if n == 0 or d == 0:
        raise InvalidArgumentError(f"X must have at least one row and one column; got shape {X.shape}")
    iterations = _check_count(iterations, "iterations", allow_zero=True)
    if X_test is not None:
        X_test = as_finite_array("X_test", X_test, shape=(None, d))
    n_test = None if X_test is None else X_test.shape[0]
    if not isinstance(models, (list, tuple)) or len(models) == 0:
        raise InvalidArgumentError(f"models must be a non-empty list of ModelSpec; got {type(models).__name__}")
    checked = [_check_model(spec, j, n, d, n_test) for j, spec in enumerate(models)]
    stack = _Stack(checked, n)
    form = choose_form(n, d, form)
    if weight_kernel not in _WEIGHT_KERNELS:
        raise InvalidArgumentError(f"weight_kernel must be one of {', '.join(_WEIGHT_KERNELS)}; got {weight_kernel!r}")
    if weight_kernel == "auto":
        weight_kernel = "fused" if stack.M <= FUSED_MAX_UNITS else "gemm"
    if record_every is None:
        record_every = max(1, iterations // RECORDS_DEFAULT)
    record_every = _check_count(record_every, "record_every")
    if checkpoint_every is not None:
        checkpoint_every = _check_count(checkpoint_every, "checkpoint_every")
        if checkpoint_path is None:
            raise InvalidArgumentError("checkpoint_every was given without checkpoint_path; pass a file path")
    if stop_at is not None:
        stop_at = _check_count(stop_at, "stop_at", allow_zero=True)
    divergence_factor = check_positive(divergence_factor, "divergence_factor")
    snapshots_at = {_check_count(r, "weight_snapshots entry", allow_zero=True) for r in weight_snapshots}

    state = _KernelState(X, stack, X_test) if form == "kernel" else _WeightState(X, stack, weight_kernel)
    recorder = _Recorder(stack, X, X_test, record_features, record_kernel_change)
    record_at = _record_iterations(iterations, record_every)
    digest = _problem_digest(X, X_test, stack, form, record_every, record_features, record_kernel_change)
    snapshots = [dict() for _ in range(stack.J)]

    r = 0
    initial = None
    if checkpoint_path is not None and resume:
        r, initial = _try_resume(checkpoint_path, digest, iterations, state, recorder, snapshots, stack)

    zero_loss = np.array([
        stack.wd[j] * 0.5 * float(mod["y"] @ mod["y"])
        + stack.wr[j] * (0.0 if mod["Phi"] is None else 0.5 * float(np.sum(mod["Phi"] ** 2)))
        for j, mod in enumerate(checked)
    ])

    def save(at_r, history_length):
        arrays = dict(state.arrays())
        arrays.update(recorder.arrays(history_length))
        arrays["initial_loss"] = initial
        for j, snaps in enumerate(snapshots):
            for it, Wj in snaps.items():
                arrays[f"snapshot/{j}/{it}"] = Wj
        save_checkpoint(checkpoint_path, arrays, {"iteration": at_r, "digest": digest, "form": form,
                                                  "seed_note": seed_note})

    status, message = "ok", ""
    bar = None
    if _show_progress(progress):
        from tqdm.auto import tqdm

        desc = "gradient descent" if seed_note is None else f"gradient descent ({seed_note})"
        bar = tqdm(total=iterations, initial=r, desc=desc, unit="step", leave=False)
    previous = None
    try:
        while True:
            Z, losses = state.evaluate()
            weighted = stack.wd * losses[:, 0] + stack.wr * losses[:, 1]
            if initial is None:
                initial = weighted.copy()
            bad = _diverged(weighted, initial, zero_loss, divergence_factor)
            if r in snapshots_at:
                Wr = state.weights()
                for j in range(stack.J):
                    snapshots[j][r] = Wr[stack.units(j)].copy()
            if r in record_at or bad is not None or r == stop_at:
                recorder.record(r, state, Z)
            if bad is not None:
                status = "diverged"
                message = _divergence_message(bad, r, weighted, initial, zero_loss, divergence_factor,
                                              state, previous, X, stack)
                break
            if r == iterations:
                break
            if r == stop_at:
                status, message = "stopped", f"stopped at iteration {r} as requested by stop_at"
                if checkpoint_path is not None:
                    save(r, recorder.length() - 1)
                break
            previous = state.copy_state()
            state.update()
            r += 1
            if bar is not None:
                bar.update(1)
            if checkpoint_every is not None and r % checkpoint_every == 0:
                save(r, None)
    except KeyboardInterrupt:
        status, message = "stopped", f"interrupted at iteration {r}; the last checkpoint (if any) is on disk"
    finally:
        if bar is not None:
            bar.close()

    W_final = state.weights()
    histories = recorder.finish()
    elapsed = time.perf_counter() - start_clock
    results = []
    for j, mod in enumerate(checked):
        results.append(GDResult(
            W=W_final[stack.units(j)].copy(), W0=mod["W0"], iterations=r, step=mod["step"],
            status=status, message=message, history=histories[j], lam=mod["lam"],
            activation=mod["act"].name, form=form, snapshots=snapshots[j], elapsed_s=elapsed,
            seed_note=seed_note,
        ))
    return results


def gradient_descent(X, y, a, W0, Phi, lam, activation, step, iterations, *, X_test=None, y_test=None,
                     Phi_test=None, record_every=None, form="auto", record_kernel_change=False,
                     checkpoint_path=None, checkpoint_every=None, progress=None, divergence_factor=1e6,
                     seed_note=None, **options) -> GDResult:
    """Run full-batch GD on L(W) = 1/2 ||y - f||^2 + lam/2 sum_k ||phi_k - f_k||^2; return a GDResult.

    X (n, d), y (n,), a (m,), W0 (m, d), Phi (n, m) or None when lam = 0, lam >= 0 or numpy.inf
    (lambda -> infinity mode: L = 1/2 sum_k ||phi_k - f_k||^2), activation name, step > 0,
    iterations >= 0. History keys: iteration, time (= step * iteration), loss, data_loss,
    reg_loss (lam/2 sum ||phi_k - f_k||^2, equal to feature_loss when lam = inf), feature_loss
    (1/2 sum ||phi_k - f_k||^2, NaN without Phi), f_train (T, n), features (T, n, m),
    weight_distance, unit_distance (T, m), and with X_test: f_test (T, n_test), test_loss
    (with y_test), test_feature_loss (with Phi_test); kernel_change (T, m) on request.
    Further keyword ``options`` are those of :func:`gradient_descent_many` (weight_kernel,
    record_features, resume, stop_at, weight_snapshots).
    """
    spec = ModelSpec(y=y, a=a, W0=W0, Phi=Phi, lam=lam, activation=activation, step=step,
                     y_test=y_test, Phi_test=Phi_test)
    return gradient_descent_many(
        X, [spec], iterations, X_test=X_test, record_every=record_every, form=form,
        record_kernel_change=record_kernel_change, checkpoint_path=checkpoint_path,
        checkpoint_every=checkpoint_every, progress=progress, divergence_factor=divergence_factor,
        seed_note=seed_note, **options,
    )[0]


# ----------------------------------------------------------------------------- helpers


def _check_count(value, name, allow_zero=False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        need = "an integer >= 0" if allow_zero else "a positive integer"
        raise InvalidArgumentError(f"{name} must be {need}; got {value!r}")
    return int(value)


def _problem_digest(X, X_test, stack, form, record_every, record_features, record_kernel_change) -> str:
    items = [X, X_test, form, record_every, float(record_features), float(record_kernel_change)]
    for mod in stack.models:
        items += [mod["y"], mod["a"], mod["W0"], mod["Phi"], mod["lam"], mod["act"].name, mod["step"],
                  mod["y_test"], mod["Phi_test"]]
    return input_digest(*items)


def _try_resume(path, digest, iterations, state, recorder, snapshots, stack):
    from pathlib import Path

    if not Path(path).exists():
        return 0, None
    arrays, meta = load_checkpoint(path)
    if meta.get("digest") != digest:
        raise InvalidArgumentError(
            f"checkpoint {path} belongs to a different problem (input hash {meta.get('digest')} != {digest}); "
            "delete it, pass another checkpoint_path, or pass resume=False"
        )
    r = int(meta["iteration"])
    if r > iterations:
        raise InvalidArgumentError(
            f"checkpoint {path} is at iteration {r}, beyond iterations = {iterations}; ask for more iterations"
        )
    state.restore(arrays)
    recorder.restore(arrays)
    for name, value in arrays.items():
        if name.startswith("snapshot/"):
            _, j, it = name.split("/")
            snapshots[int(j)][int(it)] = value
    return r, arrays["initial_loss"]


def _diverged(weighted, initial, zero_loss, factor):
    """Return the index of the first diverged model, or None."""
    limit = factor * np.maximum(initial, zero_loss)
    for j in range(weighted.shape[0]):
        if not np.isfinite(weighted[j]) or weighted[j] > limit[j]:
            return j
    return None


def _divergence_message(j, r, weighted, initial, zero_loss, factor, state, previous, X, stack):
    mod = stack.models[j]
    units = stack.units(j)
    W_now = state.weights()[units]
    where = f"iteration {r}"
    if not np.all(np.isfinite(W_now)):
        if previous is None:
            return f"model {j}: non-finite weights at iteration {r}; no finite iterate to bound the step"
        W_now = state.weights_from(previous)[units]
        where = f"iteration {r - 1} (the last finite iterate)"
    bound = stability_bound(X, W_now, mod["a"], mod["Phi"] is not None, mod["lam"], mod["act"])
    reason = ("the loss is not finite" if not np.isfinite(weighted[j]) else
              f"the loss {weighted[j]:.6g} exceeds divergence_factor * max(initial loss, zero-network loss) = "
              f"{factor * max(initial[j], zero_loss[j]):.6g}")
    note = "" if bound["converged"] else " (Lanczos did not converge; estimate)"
    return (f"model {j} diverged at iteration {r} with step {mod['step']:.6g}: {reason}. "
            f"Stability bound 2/lambda_max of the Gauss-Newton matrix at {where}: {bound['bound']:.6g} "
            f"(lambda_max = {bound['lambda_max']:.6g}{note}); use a step below it")
