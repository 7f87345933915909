"""Exception types and argument checks shared by every ktheory module.

Every check raises :class:`InvalidArgumentError` (a ``ValueError``) whose message names the
argument, shows the offending value or shape, and says what is expected instead.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "InvalidArgumentError",
    "DataFileError",
    "MemoryLimitError",
    "as_finite_array",
    "check_lambda",
    "check_positive",
]


class InvalidArgumentError(ValueError):
    """An argument has the wrong shape, type, range or contains non-finite values."""


class DataFileError(InvalidArgumentError):
    """A data file is missing, unreadable or does not have the expected layout."""


class MemoryLimitError(InvalidArgumentError):
    """A dense array would exceed the configured memory limit."""


def _describe(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(value)
    return f"an array of shape {arr.shape} and dtype {arr.dtype}"


def as_finite_array(name: str, value, ndim: int | None = None, shape=None, dtype=np.float64):
    """Convert ``value`` to a float array and check its rank, shape and finiteness.

    ``shape`` may contain ``None`` for free axes, for example ``(None, d)``.
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{name} must be convertible to a {np.dtype(dtype).name} array; got {_describe(value)} ({exc})"
        ) from None
    if ndim is not None and arr.ndim != ndim:
        raise InvalidArgumentError(
            f"{name} must be a {ndim}-dimensional array; got shape {arr.shape}"
        )
    if shape is not None:
        if arr.ndim != len(shape) or any(
            want is not None and want != got for want, got in zip(shape, arr.shape)
        ):
            expected = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise InvalidArgumentError(f"{name} must have shape {expected}; got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InvalidArgumentError(
            f"{name} contains {bad} NaN or infinite entries; remove or replace them before calling"
        )
    return arr


def check_lambda(lam, name: str = "lam", allow_inf: bool = False) -> float:
    """Return ``lam`` as a float after checking that it is a number >= 0."""
    try:
        value = float(lam)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a real number >= 0; got {lam!r}") from None
    if np.isnan(value) or value < 0 or (np.isinf(value) and not allow_inf):
        allowed = "a finite number >= 0" if not allow_inf else "a number >= 0 or inf"
        raise InvalidArgumentError(f"{name} must be {allowed}; got {lam!r}")
    return value


def check_positive(value, name: str, integer: bool = False):
    """Return ``value`` after checking that it is finite and > 0 (and an integer if asked)."""
    if integer:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise InvalidArgumentError(f"{name} must be a positive integer; got {value!r}")
        return int(value)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a positive number; got {value!r}") from None
    if not np.isfinite(out) or out <= 0:
        raise InvalidArgumentError(f"{name} must be a finite number > 0; got {value!r}")
    return out
