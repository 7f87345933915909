"""Activation functions sigma with their first two derivatives and Lipschitz constants.

Each activation is looked up by name (``get_activation("tanh")``). ``lipschitz_sigma`` is
sup |sigma'| and ``lipschitz_dsigma`` is sup |sigma''|, computed from closed forms below; ``None``
means the function is not Lipschitz (ReLU's derivative is a step, so it has no Lipschitz
constant). ``code`` is a small integer that compiled kernels use to select the activation.

ReLU's derivative at 0 is taken as 0 and its second derivative as 0 everywhere (the
distributional delta at 0 is dropped), as is usual for gradient descent on ReLU networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special

from .errors import InvalidArgumentError

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "activation_names"]

_SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Activation:
    """An activation sigma with sigma', sigma'' and their sup-norm Lipschitz constants."""

    name: str
    code: int
    sigma: Callable[[np.ndarray], np.ndarray]
    dsigma: Callable[[np.ndarray], np.ndarray]
    d2sigma: Callable[[np.ndarray], np.ndarray]
    lipschitz_sigma: float | None
    lipschitz_dsigma: float | None

    @property
    def lipschitz(self) -> float | None:
        """L of the perturbation lemmas: the larger of the two constants, or None if either is missing."""
        if self.lipschitz_sigma is None or self.lipschitz_dsigma is None:
            return None
        return max(self.lipschitz_sigma, self.lipschitz_dsigma)


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_d(z):
    return (np.asarray(z) > 0).astype(np.float64)


def _relu_d2(z):
    return np.zeros_like(np.asarray(z, dtype=np.float64))


def _sigmoid(z):
    return special.expit(z)


def _sigmoid_d(z):
    s = special.expit(z)
    return s * (1.0 - s)


def _sigmoid_d2(z):
    s = special.expit(z)
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _tanh_d(z):
    t = np.tanh(z)
    return 1.0 - t * t


def _tanh_d2(z):
    t = np.tanh(z)
    return -2.0 * t * (1.0 - t * t)


def _softplus(z):
    return np.logaddexp(0.0, z)


def _erf_d(z):
    return (2.0 / math.sqrt(math.pi)) * np.exp(-np.square(z))


def _erf_d2(z):
    return (-4.0 / math.sqrt(math.pi)) * np.asarray(z) * np.exp(-np.square(z))


def _normal_pdf(z):
    return np.exp(-0.5 * np.square(z)) / _SQRT_2PI


def _gelu(z):
    return np.asarray(z) * special.ndtr(z)


def _gelu_d(z):
    return special.ndtr(z) + np.asarray(z) * _normal_pdf(z)


def _gelu_d2(z):
    # d/dz [Phi(z) + z phi(z)] = phi + phi - z^2 phi, using phi'(z) = -z phi(z).
    return _normal_pdf(z) * (2.0 - np.square(z))


# Sup-norm constants from the closed forms (each is checked against a dense grid in the tests):
# sigmoid: sup s(1-s) = 1/4 at 0; sup |s(1-s)(1-2s)| = 1/(6 sqrt 3) where s = 1/2 +- 1/(2 sqrt 3).
# tanh: sup (1 - t^2) = 1; sup |2 t (1 - t^2)| = 4/(3 sqrt 3) at t = 1/sqrt 3.
# erf: sup 2/sqrt(pi) e^{-z^2} at 0; sup |4 z e^{-z^2}|/sqrt(pi) at z = 1/sqrt 2.
# gelu: sup sigma' at z = sqrt 2 (where sigma'' = 0); sup |sigma''| = 2 phi(0) at 0.
ACTIVATIONS: dict[str, Activation] = {
    act.name: act
    for act in [
        Activation("relu", 0, _relu, _relu_d, _relu_d2, 1.0, None),
        Activation("sigmoid", 1, _sigmoid, _sigmoid_d, _sigmoid_d2, 0.25, 1.0 / (6.0 * math.sqrt(3.0))),
        Activation("tanh", 2, np.tanh, _tanh_d, _tanh_d2, 1.0, 4.0 / (3.0 * math.sqrt(3.0))),
        Activation("softplus", 3, _softplus, _sigmoid, _sigmoid_d, 1.0, 0.25),
        Activation(
            "erf", 4, special.erf, _erf_d, _erf_d2,
            2.0 / math.sqrt(math.pi),
            4.0 / math.sqrt(math.pi) / math.sqrt(2.0) * math.exp(-0.5),
        ),
        Activation(
            "gelu", 5, _gelu, _gelu_d, _gelu_d2,
            float(special.ndtr(math.sqrt(2.0)) + math.sqrt(2.0) * math.exp(-1.0) / _SQRT_2PI),
            2.0 / _SQRT_2PI,
        ),
    ]
}


def activation_names() -> list[str]:
    """Names accepted by :func:`get_activation`, in registration order."""
    return list(ACTIVATIONS)


def get_activation(activation) -> Activation:
    """Look up an activation by name; an :class:`Activation` is returned unchanged."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation.lower() in ACTIVATIONS:
        return ACTIVATIONS[activation.lower()]
    raise InvalidArgumentError(
        f"activation must be one of {', '.join(activation_names())}; got {activation!r}"
    )
