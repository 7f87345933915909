"""Shared pytest configuration: hypothesis profiles and common fixtures."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# "dev" drops the deadline because Numba compiles a kernel on the first example, which can take
# seconds; "ci" is hypothesis' own CI profile (derandomized, no deadline, more examples).
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def rng():
    """A fresh seeded Generator per test, so tests do not depend on their order."""
    return np.random.default_rng(20221017)
