"""Small kernel-regime problems for the claim checks, their JSON form and a hypothesis search.

A :class:`KernelCase` stores every input of one kernel-regime problem written out (X, W, a, y,
Phi, lambda and the activation name), so that a counterexample file can store it and a replay can
rebuild it. :func:`case_strategy` draws cases for hypothesis, including the degenerate ones the
paper's assumptions exclude: singular H_k (n > d, ReLU units inactive on a sample), duplicate
inputs, identical hidden units, zero output weights and lambda = 0. :func:`search` runs a
hypothesis search for an input that satisfies a predicate and returns the shrunk example.

Notation of Panahi et al. (2022): H_k is the Gram matrix of unit k at initialisation, c = a /
sqrt(m), Hbar the block matrix that drives the stacked residuals, and the poles are its eigenvalues.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from ..activations import get_activation
from ..errors import InvalidArgumentError
from ..model import hidden_features
from ..ntk import gram_blocks

EPS = float(np.finfo(np.float64).eps)

# Values tried by the search. Hypothesis shrinks towards the first entry of each list, so the
# tamest choice comes first and a shrunk counterexample uses it unless the violation needs another.
LAMBDAS = (1.0, 0.1, 10.0, 0.0, 1e-3, 1e3)
ACTIVATION_CHOICES = ("tanh", "sigmoid", "relu", "softplus", "erf", "gelu")
KAPPAS = (1.0, 0.3, 3.0, 0.01)
A_KINDS = ("pm1", "gauss", "zeros")
DEGENERACIES = ("none", "duplicate-inputs", "identical-units")


@dataclass
class KernelCase:
    """One kernel-regime problem with every input written out.

    Shapes: X (n, d), W (m, d), a (m,), y (n,), Phi (n, m) with column k = phi_k on the inputs.
    """

    X: np.ndarray
    W: np.ndarray
    a: np.ndarray
    y: np.ndarray
    Phi: np.ndarray
    lam: float
    activation: str
    label: str = ""

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def m(self) -> int:
        return self.W.shape[0]

    @property
    def c(self) -> np.ndarray:
        return self.a / np.sqrt(self.m)

    def blocks(self) -> np.ndarray:
        """Return the stack of Gram matrices H_k, shape (m, n, n)."""
        return gram_blocks(self.X, self.W, self.activation)

    def features(self) -> np.ndarray:
        """Return the initial hidden features F0 with row k = f_k(0), shape (m, n)."""
        return hidden_features(self.X, self.W, self.activation).T

    def to_inputs(self) -> dict:
        """Return the case as a JSON-ready dict of plain lists."""
        return {
            "X": self.X.tolist(), "W": self.W.tolist(), "a": self.a.tolist(), "y": self.y.tolist(),
            "Phi": self.Phi.tolist(), "lam": float(self.lam), "activation": self.activation,
            "label": self.label,
        }

    @classmethod
    def from_inputs(cls, inputs: dict) -> "KernelCase":
        """Rebuild a case from :meth:`to_inputs` output (as read back from JSON)."""
        missing = [k for k in ("X", "W", "a", "y", "Phi", "lam", "activation") if k not in inputs]
        if missing:
            raise InvalidArgumentError(f"case inputs lack the keys {missing}; a counterexample must store all of them")
        X = np.array(inputs["X"], dtype=float).reshape(len(inputs["X"]), -1)
        W = np.array(inputs["W"], dtype=float).reshape(len(inputs["W"]), -1)
        Phi = np.array(inputs["Phi"], dtype=float).reshape(X.shape[0], W.shape[0])
        return cls(X, W, np.array(inputs["a"], dtype=float), np.array(inputs["y"], dtype=float),
                   Phi, float(inputs["lam"]), str(inputs["activation"]), str(inputs.get("label", "")))


def make_case(rng: np.random.Generator, n: int, d: int, m: int, lam: float, activation: str,
              kappa: float = 1.0, a_kind: str = "pm1", degeneracy: str = "none",
              teacher_gap: float = 0.3, decimals: int | None = 3) -> KernelCase:
    """Draw a case: unit-norm inputs, w_k ~ N(0, kappa^2 I), labels +-1, a teacher near the student.

    phi_k is sigma(w_k' . x) with w_k' = w_k + teacher_gap * kappa * noise, so teacher_gap = 0 gives
    the perfect initialisation phi_k = f_k(0). ``decimals`` rounds X, W, a and Phi so that a
    counterexample file stays short and readable; the rounded values are the inputs, exactly.
    """
    act = get_activation(activation)

    def rounded(values):
        return np.round(values, decimals) if decimals is not None else values

    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X = rounded(X)
    if degeneracy == "duplicate-inputs" and n >= 2:
        X[-1] = X[0]
    W = rounded(kappa * rng.standard_normal((m, d)))
    if a_kind == "pm1":
        a = rng.choice(np.array([-1.0, 1.0]), size=m)
    elif a_kind == "gauss":
        a = rounded(rng.standard_normal(m))
    elif a_kind == "zeros":
        a = rng.choice(np.array([-1.0, 0.0, 1.0]), size=m)
    else:
        raise InvalidArgumentError(f"a_kind must be one of {A_KINDS}; got {a_kind!r}")
    if degeneracy == "identical-units" and m >= 2:
        W[-1] = W[0]
        a[-1] = a[0]
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    W_teacher = W + teacher_gap * kappa * rng.standard_normal((m, d))
    Phi = rounded(act.sigma(X @ W_teacher.T))
    label = f"{activation}, n={n}, d={d}, m={m}, lam={lam:g}, kappa={kappa:g}, a={a_kind}, {degeneracy}"
    return KernelCase(X, W, a, y, Phi, float(lam), act.name, label)


@st.composite
def case_strategy(draw, max_n: int = 4, max_d: int = 4, max_m: int = 3, lambdas=LAMBDAS,
                  activations=ACTIVATION_CHOICES, kappas=KAPPAS, a_kinds=A_KINDS,
                  degeneracies=DEGENERACIES, teacher_gaps=(0.3, 0.0, 1.0)):
    """Hypothesis strategy of :class:`KernelCase` over sizes, lambda, activation, init and a_k."""
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    m = draw(st.integers(1, max_m))
    lam = draw(st.sampled_from(lambdas))
    activation = draw(st.sampled_from(activations))
    kappa = draw(st.sampled_from(kappas))
    a_kind = draw(st.sampled_from(a_kinds))
    degeneracy = draw(st.sampled_from(degeneracies))
    gap = draw(st.sampled_from(teacher_gaps))
    seed = draw(st.integers(0, 2**16))
    return make_case(np.random.default_rng(seed), n, d, m, lam, activation, kappa, a_kind, degeneracy, gap)


@dataclass
class SearchOutcome:
    """Result of :func:`search`: the shrunk example (or None) and how many inputs were tried."""

    example: object | None
    tried: int


def search(strategy, predicate, budget: int) -> SearchOutcome:
    """Search up to ``budget`` inputs for one satisfying ``predicate``; return it shrunk, or None.

    Deterministic (derandomize=True, no example database), so a ledger run is reproducible.
    """
    count = 0

    def counted(value):
        nonlocal count
        count += 1
        return bool(predicate(value))

    config = settings(max_examples=int(budget), database=None, derandomize=True, deadline=None,
                      suppress_health_check=list(HealthCheck),
                      phases=[Phase.generate, Phase.shrink])
    try:
        example = find(strategy, counted, settings=config)
    except NoSuchExample:
        return SearchOutcome(None, count)
    return SearchOutcome(example, count)


def random_cases(rng: np.random.Generator, count: int, max_n: int = 5, max_d: int = 5, max_m: int = 4,
                 lambdas=(1.0, 0.1, 10.0, 1e-2, 1e2), activations=("tanh", "sigmoid", "erf", "softplus"),
                 kappas=(1.0, 0.5, 2.0), degeneracy: str = "none") -> list[KernelCase]:
    """Draw ``count`` cases from ``rng`` with sizes and settings chosen uniformly from the lists."""
    cases = []
    for _ in range(int(count)):
        n = int(rng.integers(1, max_n + 1))
        d = int(rng.integers(1, max_d + 1))
        m = int(rng.integers(1, max_m + 1))
        cases.append(make_case(rng, n, d, m, float(rng.choice(lambdas)), str(rng.choice(activations)),
                               float(rng.choice(kappas)), str(rng.choice(["pm1", "gauss"])), degeneracy,
                               decimals=None))
    return cases


def nullity(Hk: np.ndarray, factor: float = 10.0) -> int:
    """Return the number of eigenvalues of the symmetric psd matrix Hk below factor * n * eps * ||Hk||."""
    w = np.linalg.eigvalsh(Hk)
    scale = max(abs(w).max(initial=0.0), 1e-300)
    return int(np.count_nonzero(w <= factor * Hk.shape[0] * EPS * scale))
