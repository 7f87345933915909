"""Synthetic regression problems: inputs on the unit sphere, labels from a teacher network or a function.

Inputs are drawn uniformly on the unit sphere S^{d-1} by normalising standard normal vectors.
Labels come either from a random teacher of the same form as the student,
f(x) = sum_k a_k / sqrt(m) sigma(w_k . x), or from a callable that maps an (n, d) array to n values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..activations import get_activation
from ..errors import InvalidArgumentError, as_finite_array, check_positive
from ..model import forward

__all__ = ["Dataset", "TeacherNetwork", "sphere_inputs", "random_teacher", "synthetic_dataset"]


@dataclass(frozen=True)
class Dataset:
    """Training inputs X (n, d) and labels y (n,), with optional test arrays and a description.

    ``X_test`` and ``y_test`` are None when no test split was requested. ``info`` records how the
    data were made (source, sizes, seed note, file hash for files).
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TeacherNetwork:
    """A network f(x) = sum_k a_k / sqrt(m) sigma(w_k . x) with weights W (m, d) and a (m,)."""

    W: np.ndarray
    a: np.ndarray
    activation: str

    def __call__(self, X) -> np.ndarray:
        """Return the teacher's outputs on the rows of X (n, d), shape (n,)."""
        return forward(X, self.W, self.a, self.activation)


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise InvalidArgumentError(
            f"rng must be a numpy.random.Generator (use numpy.random.default_rng(seed)); got {type(rng).__name__}"
        )
    return rng


def sphere_inputs(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Draw n points uniformly on the unit sphere in R^d, shape (n, d), each row of norm 1."""
    _check_rng(rng)
    n = check_positive(n, "n", integer=True)
    d = check_positive(d, "d", integer=True)
    Z = rng.standard_normal((n, d))
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    # A standard normal vector is zero with probability 0; the loop only guards the d = 1 edge of
    # floating point, where a draw of exactly 0.0 is possible in principle.
    while np.any(norms == 0):
        bad = np.flatnonzero(norms[:, 0] == 0)
        Z[bad] = rng.standard_normal((bad.size, d))
        norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / norms


def random_teacher(rng: np.random.Generator, width: int, d: int, activation="relu",
                   weight_scale: float = 1.0) -> TeacherNetwork:
    """Draw a random teacher with w_k ~ N(0, weight_scale^2 / d I) and a_k uniform on {-1, +1}.

    The 1/d variance keeps w_k . x of order ``weight_scale`` for unit-norm x, so the teacher is
    nonlinear on the sphere (the student's kappa = 1e-2 initialisation would make it almost linear).
    Draws W first, then a.
    """
    _check_rng(rng)
    width = check_positive(width, "width", integer=True)
    d = check_positive(d, "d", integer=True)
    weight_scale = check_positive(weight_scale, "weight_scale")
    act = get_activation(activation)
    W = (weight_scale / np.sqrt(d)) * rng.standard_normal((width, d))
    a = rng.choice(np.array([-1.0, 1.0]), size=width)
    return TeacherNetwork(W, a, act.name)


def synthetic_dataset(rng: np.random.Generator, n: int, d: int, *,
                      labels: TeacherNetwork | Callable[[np.ndarray], np.ndarray] | None = None,
                      teacher_width: int = 100, activation="relu", n_test: int = 0,
                      noise: float = 0.0) -> Dataset:
    """Draw a synthetic data set: inputs on the unit sphere and labels from a teacher or a function.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all randomness (inputs, teacher, noise), in that order.
    n, d : int
        Number of training samples and input dimension.
    labels : TeacherNetwork or callable, optional
        Maps an (N, d) array to N labels. Default: a fresh :func:`random_teacher` of
        ``teacher_width`` units with ``activation``.
    n_test : int
        Number of test samples drawn from the same distribution (0 for none).
    noise : float
        Standard deviation of Gaussian noise added to the training labels only.

    Returns
    -------
    Dataset
        X (n, d), y (n,), and X_test, y_test when ``n_test > 0``. ``info["teacher"]`` contains the
        teacher when one was drawn here.
    """
    _check_rng(rng)
    n = check_positive(n, "n", integer=True)
    d = check_positive(d, "d", integer=True)
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or n_test < 0:
        raise InvalidArgumentError(f"n_test must be an integer >= 0; got {n_test!r}")
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"noise must be a real number >= 0; got {noise!r}") from None
    if not np.isfinite(noise) or noise < 0:
        raise InvalidArgumentError(f"noise must be a finite number >= 0; got {noise!r}")

    X_all = sphere_inputs(rng, n + int(n_test), d)
    info = {"source": "synthetic", "n": n, "d": d, "n_test": int(n_test), "noise": noise}
    if labels is None:
        labels = random_teacher(rng, teacher_width, d, activation)
        info["teacher"] = labels
    elif not callable(labels):
        raise InvalidArgumentError(
            f"labels must be a TeacherNetwork or a callable mapping (N, d) inputs to N labels; got {type(labels).__name__}"
        )
    y_all = as_finite_array("labels(X)", labels(X_all), ndim=1)
    if y_all.shape[0] != X_all.shape[0]:
        raise InvalidArgumentError(
            f"labels(X) must return one value per row, {X_all.shape[0]} values; got shape {y_all.shape}"
        )
    y = y_all[:n].copy()
    if noise > 0:
        y += noise * rng.standard_normal(n)
    if n_test:
        return Dataset(X_all[:n], y, X_all[n:], y_all[n:].copy(), info)
    return Dataset(X_all, y, None, None, info)
