"""The in-process limiters (``_limits.py``) and the protocols every limiter meets."""

from __future__ import annotations

import asyncio

import pytest

from sms_async import (
    AsyncSmsClient,
    ConcurrencyLimiter,
    ConfigurationError,
    LocalConcurrencyLimiter,
    LocalRateLimiter,
    RateLimiter,
)

from .conftest import KEY, USER


def test_numeric_rate_limit_uses_aiolimiter() -> None:
    from aiolimiter import AsyncLimiter

    from sms_async import LocalRateLimiter

    limiter = AsyncSmsClient(USER, KEY, rate_limit=20)._transport._rate_limiter
    assert isinstance(limiter, LocalRateLimiter)
    inner = limiter._limiter
    assert isinstance(inner, AsyncLimiter)
    assert (inner.max_rate, inner.time_period) == (20, 1.0)
    slow = AsyncSmsClient(USER, KEY, rate_limit=0.5)._transport._rate_limiter
    assert isinstance(slow, LocalRateLimiter)
    assert (slow._limiter.max_rate, slow._limiter.time_period) == (1, 2.0)


def test_local_rate_limiter_burst() -> None:
    from sms_async import LocalRateLimiter

    limiter = LocalRateLimiter(10, burst=2)
    assert (limiter._limiter.max_rate, limiter._limiter.time_period) == (2, 0.2)


def test_the_local_limiters_meet_the_protocols() -> None:
    assert isinstance(LocalRateLimiter(5), RateLimiter)
    assert isinstance(LocalConcurrencyLimiter(3), ConcurrencyLimiter)
    assert LocalConcurrencyLimiter(3).limit == 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "8", None])
def test_a_concurrency_limit_must_be_an_integer_of_at_least_one(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="max_concurrency must be an integer >= 1"):
        LocalConcurrencyLimiter(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan"), True, "5"])
def test_a_rate_must_be_a_finite_positive_number(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="rate_limit must be a positive number"):
        LocalRateLimiter(bad)  # type: ignore[arg-type]


async def test_the_local_concurrency_limiter_caps_the_slots_held() -> None:
    limiter = LocalConcurrencyLimiter(2)
    inside = 0
    most = 0

    async def hold() -> None:
        nonlocal inside, most
        async with limiter.slot():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(hold() for _ in range(10)))
    assert most == 2
