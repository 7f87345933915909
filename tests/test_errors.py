"""Argument checks shared by every module: messages name the argument, the value and the fix."""

import numpy as np
import pytest

from ktheory.errors import (DataFileError, InvalidArgumentError, MemoryLimitError, as_finite_array,
                            check_lambda, check_positive)


def test_error_hierarchy():
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(DataFileError, InvalidArgumentError)
    assert issubclass(MemoryLimitError, InvalidArgumentError)


def test_as_finite_array_accepts_and_converts():
    out = as_finite_array("X", [[1, 2], [3, 4]], ndim=2, shape=(None, 2))
    assert out.dtype == np.float64
    assert out.shape == (2, 2)


@pytest.mark.parametrize("value, kwargs, pattern", [
    ([1.0, 2.0], {"ndim": 2}, r"X must be a 2-dimensional array; got shape \(2,\)"),
    (np.zeros((3, 2)), {"shape": (None, 4)}, r"X must have shape \(any, 4\); got \(3, 2\)"),
    (np.zeros((3, 2)), {"shape": (3,)}, r"X must have shape \(3\); got \(3, 2\)"),
    ([1.0, np.nan, np.inf], {}, "X contains 2 NaN or infinite entries"),
    (["a", "b"], {}, "X must be convertible to a float64 array"),
])
def test_as_finite_array_rejects(value, kwargs, pattern):
    with pytest.raises(InvalidArgumentError, match=pattern):
        as_finite_array("X", value, **kwargs)


def test_check_lambda():
    assert check_lambda(0) == 0.0
    assert check_lambda(np.float32(2.5)) == 2.5
    assert check_lambda(np.inf, allow_inf=True) == np.inf
    with pytest.raises(InvalidArgumentError, match="lam must be a finite number >= 0; got -1"):
        check_lambda(-1)
    with pytest.raises(InvalidArgumentError, match="lam must be a finite number >= 0; got inf"):
        check_lambda(np.inf)
    with pytest.raises(InvalidArgumentError, match="lam must be a number >= 0 or inf; got nan"):
        check_lambda(float("nan"), allow_inf=True)
    with pytest.raises(InvalidArgumentError, match="lam must be a real number >= 0; got 'x'"):
        check_lambda("x")


def test_check_positive():
    assert check_positive(3, "m", integer=True) == 3
    assert check_positive(0.5, "kappa") == 0.5
    with pytest.raises(InvalidArgumentError, match="m must be a positive integer; got 2.0"):
        check_positive(2.0, "m", integer=True)
    with pytest.raises(InvalidArgumentError, match="m must be a positive integer; got True"):
        check_positive(True, "m", integer=True)
    with pytest.raises(InvalidArgumentError, match="kappa must be a finite number > 0; got 0"):
        check_positive(0, "kappa")
    with pytest.raises(InvalidArgumentError, match="kappa must be a positive number; got None"):
        check_positive(None, "kappa")
