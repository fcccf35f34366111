"""The one helper for number checks (``_checks.py``)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_async import ConfigurationError, ValidationError
from sms_async._checks import integer, seconds


def test_integer_accepts_what_is_in_range() -> None:
    assert integer("n", 5, low=1, high=10) == 5
    assert integer("n", 0, low=0) == 0


@pytest.mark.parametrize("bad", [True, 1.0, "3", None, 0, 11])
def test_integer_refuses_with_the_name_and_the_value(bad: object) -> None:
    with pytest.raises(ValidationError, match=rf"^n must be an integer from 1 to 10, got {bad!r}$"):
        integer("n", bad, low=1, high=10)


def test_options_raise_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="limit must be an integer >= 1"):
        integer("limit", 0, low=1, error=ConfigurationError)
    with pytest.raises(ConfigurationError, match="lease must be a positive number of seconds"):
        seconds("lease", 0, error=ConfigurationError)


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, True, "1"])
def test_seconds_must_be_finite_and_positive(bad: object) -> None:
    with pytest.raises(ValidationError, match="wait must be a positive number of seconds"):
        seconds("wait", bad)


def test_seconds_may_allow_zero_and_an_upper_bound() -> None:
    assert seconds("poll", 0, zero=True) == 0.0
    with pytest.raises(ValidationError, match="below 10"):
        seconds("x", 10, high=10)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_seconds_either_returns_a_finite_positive_float_or_raises(value: float) -> None:
    try:
        got = seconds("s", value)
    except ValidationError:
        assert not (math.isfinite(value) and value > 0)
    else:
        assert got == value
        assert math.isfinite(got)
        assert got > 0
