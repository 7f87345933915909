"""Shared machinery of the trajectory and width-sweep claims: problems, GD records, fits, search.

Used by the perturbation, dynamics and asymptotic claim modules. Notation of Panahi et al. (2022):
X (n, d) inputs, W (m, d) hidden weights, c = a / sqrt(m), Phi (n, m) the teacher's features
phi_k on the inputs, H_k the Gram matrix of unit k, Hbar the block matrix with block (k, l) =
H_k (c_k c_l + lambda [k == l]), and eta the stacked per-unit residuals delta_k = f_k - f_k,inf.

- :func:`make_problem` draws a student problem with a chosen teacher (remote, equal to the
  student's initial features, or near it at a given distance).
- :func:`run_gd` runs full-batch gradient descent with the shared integrator
  (``ktheory.gradient_descent``) in chunks and keeps the weights at every chunk end, so that
  H_k(t) and Hbar(t) can be rebuilt at those times.
- :func:`loglog_fit` fits a power law with a t-based confidence interval on the slope.
- :func:`search` runs a hypothesis search inside a claim check and returns the shrunk example.
- :func:`trapezoid` integrates a sampled function and estimates its own quadrature error.

Known limitations
-----------------
- The weights are kept only at chunk ends; quantities between them are not seen. Claims that need
  every step ask for chunks of one iteration, which is slow beyond a few thousand steps.
- :func:`search` relies on hypothesis replaying the shrunk example last; the recorded failure is
  the last one the evaluation function saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..activations import get_activation
from ..errors import InvalidArgumentError
from ..model import hidden_features
from ..ntk import gram_blocks

__all__ = [
    "Problem",
    "make_problem",
    "problem_inputs",
    "problem_from_inputs",
    "Trajectory",
    "run_gd",
    "integrator_name",
    "loglog_fit",
    "PowerLawFit",
    "search",
    "SearchOutcome",
    "trapezoid",
    "data_constants",
    "stable_step",
]

CI_LEVEL = 0.95
"""Two-sided level of every slope confidence interval."""


@dataclass
class Problem:
    """One student problem with every input written out; Phi column k is phi_k on the inputs."""

    X: np.ndarray
    y: np.ndarray
    a: np.ndarray
    W0: np.ndarray
    Phi: np.ndarray
    activation: str
    label: str = ""

    @property
    def m(self) -> int:
        return self.W0.shape[0]

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def c(self) -> np.ndarray:
        return self.a / math.sqrt(self.m)


def _output_weights(rng, m, a_kind):
    if a_kind == "pm1":
        return rng.choice(np.array([-1.0, 1.0]), size=m)
    if a_kind == "gauss":
        return rng.standard_normal(m)
    if a_kind == "zeros":
        # Half of the units get a_k = 0: they still feel the teacher term but not the data term.
        a = rng.choice(np.array([-1.0, 1.0]), size=m)
        a[: (m + 1) // 2] = 0.0
        return a
    raise InvalidArgumentError(f"a_kind must be 'pm1', 'gauss' or 'zeros'; got {a_kind!r}")


def make_problem(rng: np.random.Generator, n: int, d: int, m: int, activation: str = "tanh",
                 kappa: float = 1.0, teacher: str = "random", a_kind: str = "pm1",
                 gap: float = 0.0) -> Problem:
    """Draw a problem: unit-norm inputs, labels +-1, w_k ~ N(0, kappa^2 I) and a teacher.

    ``teacher``: "random" gives phi_k = sigma(X v_k) with v_k ~ N(0, I / d) independent of the
    student (a teacher far from the student's initial features); "student" gives phi_k = f_k(0);
    "near" gives phi_k = f_k(0) + gap u_k with ||u_k|| = 1 drawn uniformly on the sphere.
    """
    act = get_activation(activation)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    W0 = kappa * rng.standard_normal((m, d))
    a = _output_weights(rng, m, a_kind)
    F0 = act.sigma(X @ W0.T)
    if teacher == "random":
        Phi = act.sigma(X @ (rng.standard_normal((m, d)) / math.sqrt(d)).T)
    elif teacher == "student":
        Phi = F0.copy()
    elif teacher == "near":
        U = rng.standard_normal((n, m))
        U /= np.linalg.norm(U, axis=0, keepdims=True)
        Phi = F0 + gap * U
    else:
        raise InvalidArgumentError(f"teacher must be 'random', 'student' or 'near'; got {teacher!r}")
    return Problem(X, y, a, W0, Phi, act.name, label=f"{teacher} teacher, a {a_kind}, kappa {kappa}")


def problem_inputs(problem: Problem) -> dict:
    """Return the JSON-ready inputs of ``problem`` (arrays as nested lists)."""
    return {
        "X": problem.X.tolist(), "y": problem.y.tolist(), "a": problem.a.tolist(),
        "W0": problem.W0.tolist(), "Phi": problem.Phi.tolist(), "activation": problem.activation,
    }


def problem_from_inputs(inputs: dict) -> Problem:
    """Rebuild a :class:`Problem` from :func:`problem_inputs` output."""
    try:
        return Problem(np.asarray(inputs["X"], float), np.asarray(inputs["y"], float),
                       np.asarray(inputs["a"], float), np.asarray(inputs["W0"], float),
                       np.asarray(inputs["Phi"], float), str(inputs["activation"]))
    except KeyError as exc:
        raise InvalidArgumentError(f"counterexample inputs lack the key {exc}; expected X, y, a, W0, Phi, activation") from None


def data_constants(X, activation) -> dict:
    """Return sigma_x (largest singular value of X), B = max ||x_i|| and the activation constants."""
    act = get_activation(activation)
    return {
        "sigma_x": float(np.linalg.norm(X, 2)),
        "B": float(np.linalg.norm(X, axis=1).max()),
        "lip_sigma": act.lipschitz_sigma,
        "lip_dsigma": act.lipschitz_dsigma,
        "L": act.lipschitz,
    }


def stable_step(problem: Problem, lam: float, safety: float = 0.5) -> float:
    """Return a GD step below 2 / sup_t ||Hbar(t)||, from a bound valid at every W.

    ||H_k(W)||_2 <= sigma_x^2 sup|sigma'|^2 for every W, and ||Hbar|| <= max_k ||H_k|| ||C|| with
    ||C|| = a_bar + lambda (or 1 in the lambda -> infinity mode), so ``safety`` / that bound keeps
    the linearised step stable along the whole run.
    """
    const = data_constants(problem.X, problem.activation)
    lip = const["lip_sigma"] if const["lip_sigma"] is not None else 1.0
    hmax = const["sigma_x"] ** 2 * lip**2
    cnorm = 1.0 if np.isinf(lam) else float(problem.c @ problem.c) + lam
    return safety / max(hmax * cnorm, 1e-12)


@dataclass
class Trajectory:
    """Weights at chunk ends of one GD run; ``times`` = step * iterations (gradient-flow time)."""

    iterations: np.ndarray
    times: np.ndarray
    W: np.ndarray  # (T, m, d)
    step: float
    status: str
    integrator: str
    step_features: np.ndarray | None = None  # (iterations + 1, n, m) when every step was kept
    info: dict = field(default_factory=dict)


def integrator_name() -> str:
    """Return the module that :func:`run_gd` uses: the shared integrator or the NumPy fallback."""
    return "ktheory.integrate.gd" if _library_gd() is not None else "claims fallback (NumPy)"


_LIBRARY_GD: list = []  # cache: [gradient_descent or None], filled by the first call


def _library_gd():
    """Return the shared integrator if it imports and agrees with the NumPy steps on a tiny run."""
    if _LIBRARY_GD:
        return _LIBRARY_GD[0]
    try:
        from ..integrate.gd import gradient_descent

        rng = np.random.default_rng(0)
        works = True
        # Two shapes, so that both the weight form (n > 2 d) and the kernel form are exercised.
        for n, d in ((5, 2), (2, 5)):
            probe = make_problem(rng, n, d, 2, "tanh", 1.0, "random")
            for every in (1, 3):
                res = gradient_descent(probe.X, probe.y, probe.a, probe.W0, probe.Phi, 0.5, "tanh",
                                       0.1, 3, record_every=every)
                W_ref, _, _ = _numpy_gd(probe, 0.5, 0.1, 3, False)
                # Same three steps; fast-math summation order allows differences of ~d eps.
                works &= res.status == "ok" and np.allclose(res.W, W_ref, rtol=1e-10, atol=1e-12)
    except Exception:  # noqa: BLE001 - any failure of the integrator selects the fallback
        works = False
    _LIBRARY_GD.append(gradient_descent if works else None)
    return _LIBRARY_GD[0]


def _numpy_gd(problem, lam, step, iterations, keep_steps):
    # NOTE: fallback used only when ktheory.integrate.gd does not import or fails the smoke test
    # of _library_gd; same loss (with halves) and step W <- W - step grad L as that integrator.
    act = get_activation(problem.activation)
    X, y, Phi, c = problem.X, problem.y, problem.Phi, problem.c
    W = problem.W0.copy()
    feats = []
    status = "ok"
    for r in range(iterations + 1):
        Z = X @ W.T
        F = act.sigma(Z)
        if keep_steps:
            feats.append(F)
        if r == iterations:
            break
        if np.isinf(lam):
            G = F - Phi
        else:
            G = np.outer(F @ c - y, c)
            if lam > 0:
                G = G + lam * (F - Phi)
        W = W - step * ((G * act.dsigma(Z)).T @ X)
        if not np.all(np.isfinite(W)):
            status = "diverged"
            break
    return W, status, (np.array(feats) if keep_steps else None)


def run_gd(problem: Problem, lam: float, step: float, chunks, keep_steps: bool = False) -> Trajectory:
    """Run GD on ``problem`` and keep W after each chunk of iterations.

    ``chunks`` is a sequence of iteration counts; W is stored at iteration 0 and at every cumulative
    chunk end. With ``keep_steps`` the hidden features at every iteration are kept as well.
    """
    chunks = [int(k) for k in chunks]
    if any(k < 1 for k in chunks):
        raise InvalidArgumentError(f"chunks must be positive iteration counts; got {chunks}")
    gd = _library_gd()
    Ws = [problem.W0.copy()]
    its = [0]
    feats = [hidden_features(problem.X, problem.W0, problem.activation)[None]] if keep_steps else None
    status = "ok"
    W = problem.W0.copy()
    phi = None if (lam == 0 and gd is not None) else problem.Phi
    for k in chunks:
        if gd is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                res = gd(problem.X, problem.y, problem.a, W, phi, lam, problem.activation, step, k,
                         record_every=1 if keep_steps else k)
            W_new, status = np.asarray(res.W, float), res.status
            F_steps = np.asarray(res.history["features"])[1:] if keep_steps else None
        else:
            sub = Problem(problem.X, problem.y, problem.a, W, problem.Phi, problem.activation)
            with np.errstate(over="ignore", invalid="ignore"):
                W_new, status, F_all = _numpy_gd(sub, lam, step, k, keep_steps)
            F_steps = F_all[1:] if keep_steps else None
        if status != "ok":
            break
        W = W_new
        Ws.append(W.copy())
        its.append(its[-1] + k)
        if keep_steps:
            feats.append(F_steps)
    its = np.array(its)
    return Trajectory(its, step * its, np.array(Ws), step, status, integrator_name(),
                      np.concatenate(feats) if keep_steps else None)


@dataclass
class PowerLawFit:
    """Least-squares fit log y = slope log x + intercept with a two-sided t interval on the slope."""

    slope: float
    stderr: float
    ci_low: float
    ci_high: float
    intercept: float
    points: int
    level: float = CI_LEVEL

    def as_dict(self) -> dict:
        return {"slope": self.slope, "stderr": self.stderr, "ci": [self.ci_low, self.ci_high],
                "intercept": self.intercept, "points": self.points, "level": self.level}


def loglog_fit(x, y) -> PowerLawFit:
    """Fit a power law to positive samples (x, y), pooling repeated x (seeds) as separate points."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    keep = (x > 0) & (y > 0) & np.isfinite(y)
    if np.count_nonzero(keep) < 3 or np.unique(x[keep]).size < 2:
        raise InvalidArgumentError(
            f"loglog_fit needs at least 3 positive points at 2 distinct x; got {np.count_nonzero(keep)}"
        )
    res = stats.linregress(np.log(x[keep]), np.log(y[keep]))
    dof = int(np.count_nonzero(keep)) - 2
    half = float(stats.t.ppf(0.5 + CI_LEVEL / 2, dof)) * float(res.stderr)
    return PowerLawFit(float(res.slope), float(res.stderr), float(res.slope) - half,
                       float(res.slope) + half, float(res.intercept), int(np.count_nonzero(keep)))


def trapezoid(values, times) -> tuple[float, float]:
    """Return (trapezoidal integral, error estimate |I_h - I_2h| / 3) over the sample times.

    The estimate is Richardson's for a smooth integrand on a uniform grid; on a non-uniform grid it
    is still the difference between the full and the every-other-point rule, divided by 3.
    """
    values = np.asarray(values, float)
    times = np.asarray(times, float)
    full = float(np.trapezoid(values, times))
    if times.size < 5:
        return full, abs(full)
    idx = np.arange(0, times.size, 2)
    if idx[-1] != times.size - 1:
        idx = np.append(idx, times.size - 1)
    coarse = float(np.trapezoid(values[idx], times[idx]))
    return full, abs(full - coarse) / 3.0


@dataclass
class SearchOutcome:
    """Result of :func:`search`: the shrunk violating case (or None) and the search statistics."""

    case: object | None
    info: dict | None
    examples: int
    rejected: int
    max_score: float
    best_info: dict | None
    error: str = ""


class _Violation(Exception):
    """Raised inside the hypothesis probe to mark a violating example."""


def search(strategy, evaluate, budget: int) -> SearchOutcome:
    """Search for a case where ``evaluate`` reports a violation, and shrink it.

    ``evaluate(case)`` returns None to reject the case (outside the statement's hypotheses) or
    ``(score, violated, info)``: ``score`` (larger is closer to a violation, for example
    lhs / rhs) steers hypothesis' targeted phase, ``violated`` is True when the inequality failed.
    Runs with ``max_examples=budget``, no example database and a derandomised seed, so the same
    budget gives the same outcome.
    """
    from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings, target
    from hypothesis.errors import Unsatisfiable

    record = {"examples": 0, "rejected": 0, "max_score": -math.inf, "best": None, "fail": None}

    @settings(max_examples=max(int(budget), 1), database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
              phases=(Phase.generate, Phase.target, Phase.shrink), report_multiple_bugs=False)
    @given(strategy)
    def probe(case):
        out = evaluate(case)
        if out is None:
            record["rejected"] += 1
            assume(False)
        score, violated, info = out
        record["examples"] += 1
        if np.isfinite(score):
            target(float(score))
            if score > record["max_score"]:
                record["max_score"] = float(score)
                record["best"] = info
        if violated:
            record["fail"] = (case, info)
            raise _Violation()

    error = ""
    try:
        probe()
    except _Violation:
        pass
    except Unsatisfiable as exc:
        error = f"hypothesis found too few valid examples ({exc})"
    case, info = record["fail"] if record["fail"] is not None else (None, None)
    return SearchOutcome(case, info, record["examples"], record["rejected"], record["max_score"],
                         record["best"], error)


def unit_grams(problem: Problem, W) -> np.ndarray:
    """Return H_k at weights W for the problem's inputs and activation, shape (m, n, n)."""
    return gram_blocks(problem.X, W, problem.activation)
