"""One place for the checks of numbers: integers, seconds, rates, ranges.

Every option and argument of the SDK that is a number goes through these.
Which error they raise says whose mistake it is: ``ConfigurationError`` for
the options of a client or a limiter (made once, at start-up),
``ValidationError`` for the arguments of a request (the default). Every
message names the argument and shows the value given.
"""

from __future__ import annotations

import math

from ._errors import ConfigurationError, SmsError, ValidationError

__all__ = ["ConfigurationError", "ValidationError", "integer", "seconds"]


def integer(
    name: str,
    value: object,
    *,
    low: int | None = None,
    high: int | None = None,
    error: type[SmsError] = ValidationError,
) -> int:
    """Return *value* if it is an int (not a bool) within ``low..high``, else raise *error*."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        raise error(f"{name} must be {_int_range(low, high)}, got {value!r}")
    return value


def seconds(
    name: str,
    value: object,
    *,
    zero: bool = False,
    high: float | None = None,
    error: type[SmsError] = ValidationError,
    what: str = "seconds",
) -> float:
    """Return *value* as a float if it is a finite number > 0 (>= 0 with *zero*), else raise.

    Args:
        name: The argument's name, for the message.
        value: What was given.
        zero: Whether 0 is allowed.
        high: An exclusive upper bound, if any.
        error: ``ValidationError`` (a request's argument) or ``ConfigurationError``.
        what: What the number counts, for the message ("seconds", "requests per second").
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero)
        or (high is not None and value >= high)
    ):
        bound = "a number >= 0" if zero else "a positive number"
        if high is not None:
            bound += f" below {high:g}"
        raise error(f"{name} must be {bound} of {what}, got {value!r}")
    return float(value)


def _int_range(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"an integer from {low} to {high}"
    if low is not None:
        return f"an integer >= {low}"
    if high is not None:
        return f"an integer <= {high}"
    return "an integer"
