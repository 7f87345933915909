"""Teacher and student set-ups of the experiments in Panahi et al. (2022).

- Teacher: a network of mbar hidden units, initialised by :func:`ktheory.model.init_params` and
  trained by gradient descent with lambda = 0 (labels only). Weights at chosen intermediate
  iterations are kept as checkpoints for the imperfect-teacher set-up.
- Student: m units. Its privileged features phi_k = sigma(X w_{i_k}^teacher) come from a random
  subset i_1, ..., i_m of the teacher's units, and its output weights are
  a_k = sqrt(mbar / m) a_{i_k}^teacher, so that b = sum_k a_k phi_k / sqrt(m) has expectation
  f^teacher when the subset is drawn uniformly with replacement (without replacement too, because
  each unit is then picked with probability m / mbar).
- Student initialisation: "random" draws w_k ~ N(0, kappa^2 I) and takes phi from the final
  teacher. "perfect" starts from the final teacher weights of the chosen units. "imperfect" starts
  from the weights of the chosen units at a teacher checkpoint and takes phi from that checkpoint.

The subset is drawn without replacement by default (``replace=False``, needs m <= mbar); with
``replace=True`` units may repeat, which gives identical student units when the initialisation is
"perfect" or "imperfect".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..activations import get_activation
from ..errors import InvalidArgumentError, as_finite_array, check_positive
from ..model import KAPPA_PAPER, init_params
from .gd import GDResult, ModelSpec, gradient_descent

__all__ = ["Teacher", "Student", "train_teacher", "select_units", "make_student", "STUDENT_INITS"]

STUDENT_INITS = ("random", "perfect", "imperfect")


@dataclass
class Teacher:
    """A trained teacher: a (mbar,), W0 and W (mbar, d), snapshots {iteration: W}, the GD result."""

    a: np.ndarray
    W0: np.ndarray
    W: np.ndarray
    snapshots: dict
    activation: str
    result: GDResult | None = None

    @property
    def mbar(self) -> int:
        return self.a.shape[0]

    def weights_at(self, iteration=None) -> np.ndarray:
        """Return the final weights (iteration None) or those of a stored checkpoint."""
        if iteration is None:
            return self.W
        if iteration not in self.snapshots:
            raise InvalidArgumentError(
                f"the teacher has no checkpoint at iteration {iteration!r}; stored: {sorted(self.snapshots)}"
            )
        return self.snapshots[iteration]


@dataclass
class Student:
    """A student set-up: chosen teacher units, a (m,), W0 (m, d), Phi (n, m), Phi_test or None."""

    indices: np.ndarray
    a: np.ndarray
    W0: np.ndarray
    Phi: np.ndarray
    Phi_test: np.ndarray | None
    init: str
    teacher_iteration: int | None
    activation: str
    info: dict = field(default_factory=dict)

    def spec(self, y, lam, step, y_test=None, name=None) -> ModelSpec:
        """Return the :class:`ModelSpec` that trains this student with the given lam and step."""
        return ModelSpec(y=y, a=self.a, W0=self.W0, Phi=self.Phi, lam=lam, activation=self.activation,
                         step=step, y_test=y_test, Phi_test=self.Phi_test, name=name)


def train_teacher(X, y, mbar, activation, step, iterations, rng, *, kappa=KAPPA_PAPER, checkpoints=(),
                  X_test=None, y_test=None, **gd_options) -> Teacher:
    """Draw a teacher of ``mbar`` units from ``rng`` and train it by GD with lambda = 0.

    ``checkpoints`` lists iterations whose weights are kept (for imperfect teachers). Further
    keyword arguments go to :func:`ktheory.integrate.gd.gradient_descent`.
    """
    X = as_finite_array("X", X, ndim=2)
    mbar = check_positive(mbar, "mbar", integer=True)
    a, W0 = init_params(rng, mbar, X.shape[1], kappa)
    result = gradient_descent(X, y, a, W0, None, 0.0, activation, step, iterations, X_test=X_test,
                              y_test=y_test, weight_snapshots=tuple(checkpoints), **gd_options)
    if result.status != "ok":
        raise InvalidArgumentError(f"teacher training did not finish: {result.message}")
    return Teacher(a=a, W0=W0, W=result.W, snapshots=dict(result.snapshots),
                   activation=get_activation(activation).name, result=result)


def select_units(mbar: int, m: int, rng: np.random.Generator, replace: bool = False) -> np.ndarray:
    """Return m teacher unit indices drawn uniformly from range(mbar), without replacement by default."""
    mbar = check_positive(mbar, "mbar", integer=True)
    m = check_positive(m, "m", integer=True)
    if not replace and m > mbar:
        raise InvalidArgumentError(
            f"cannot choose m = {m} distinct units from a teacher of mbar = {mbar}; pass replace=True or a smaller m"
        )
    if not isinstance(rng, np.random.Generator):
        raise InvalidArgumentError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    return np.sort(rng.choice(mbar, size=m, replace=replace))


def make_student(teacher: Teacher, X, m, rng, *, init="random", checkpoint=None, replace=False,
                 kappa=KAPPA_PAPER, X_test=None) -> Student:
    """Build a student of m units from ``teacher``; see the module docstring for the three inits.

    Draws the unit subset from ``rng`` first and then, for init="random", W0 ~ N(0, kappa^2 I).
    ``checkpoint`` (an iteration stored in ``teacher.snapshots``) is required for "imperfect".
    """
    if init not in STUDENT_INITS:
        raise InvalidArgumentError(f"init must be one of {', '.join(STUDENT_INITS)}; got {init!r}")
    if init == "imperfect" and checkpoint is None:
        raise InvalidArgumentError("init='imperfect' needs checkpoint=<teacher iteration> from teacher.snapshots")
    X = as_finite_array("X", X, ndim=2)
    act = get_activation(teacher.activation)
    idx = select_units(teacher.mbar, m, rng, replace=replace)
    source_iteration = checkpoint if init == "imperfect" else None
    W_source = teacher.weights_at(source_iteration)[idx]
    if init == "random":
        kappa = check_positive(kappa, "kappa")
        W0 = kappa * rng.standard_normal((m, X.shape[1]))
    else:
        W0 = W_source.copy()
    a = np.sqrt(teacher.mbar / m) * teacher.a[idx]
    Phi = act.sigma(X @ W_source.T)
    Phi_test = None if X_test is None else act.sigma(np.asarray(X_test, dtype=float) @ W_source.T)
    return Student(indices=idx, a=a, W0=W0, Phi=Phi, Phi_test=Phi_test, init=init,
                   teacher_iteration=source_iteration, activation=act.name,
                   info={"replace": replace, "mbar": teacher.mbar})
