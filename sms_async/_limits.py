"""Limiters: what the transport asks before every request it sends.

Two small protocols, so that a limit can live in this process (the defaults)
or be shared by many processes (``sms_async.contrib.redis``):

- a ``RateLimiter`` paces requests: ``await limiter.acquire()`` before each one;
- a ``ConcurrencyLimiter`` caps requests in flight: each request holds
  ``limiter.slot()`` (an async context manager) while it runs. Its ``limit``
  also sizes the connection pool, the page prefetch window and the default
  concurrency of bulk uploads.

Both apply to each request (each attempt, retries included), never to a whole
call, so bulk uploads and page prefetch obey them unchanged.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from ._checks import integer, seconds
from ._errors import ConfigurationError

__all__ = [
    "ConcurrencyLimiter",
    "LocalConcurrencyLimiter",
    "LocalRateLimiter",
    "RateLimiter",
]


@runtime_checkable
class RateLimiter(Protocol):
    """Paces requests: ``acquire`` returns when one more request may start."""

    async def acquire(self) -> None:
        """Wait until one more request may start."""


@runtime_checkable
class ConcurrencyLimiter(Protocol):
    """Caps requests in flight: each request holds a ``slot()`` while it runs."""

    @property
    def limit(self) -> int:
        """The most requests in flight at once."""

    def slot(self) -> AbstractAsyncContextManager[Any]:
        """An async context manager held for the duration of one request."""


class LocalRateLimiter:
    """At most *rate* requests per second in this process (aiolimiter's leaky bucket).

    By default it allows a burst of ``max(1, rate)`` requests, then *rate* per
    second; *burst* sets that burst instead. Needs the ``sms-async[ratelimit]``
    extra.
    """

    def __init__(self, rate: float, *, burst: int | None = None) -> None:
        seconds("rate_limit", rate, error=ConfigurationError, what="requests per second")
        try:
            from aiolimiter import AsyncLimiter
        except ImportError as exc:
            raise ConfigurationError(
                "rate_limit needs aiolimiter: pip install 'sms-async[ratelimit]'"
            ) from exc
        self.rate = float(rate)
        if burst is not None:
            integer("burst", burst, low=1, error=ConfigurationError)
            self._limiter = AsyncLimiter(burst, burst / rate)
        elif rate >= 1:
            self._limiter = AsyncLimiter(rate, 1.0)
        else:
            self._limiter = AsyncLimiter(1, 1.0 / rate)

    def __repr__(self) -> str:
        return f"LocalRateLimiter(rate={self.rate:g})"

    async def acquire(self) -> None:
        """Wait until one more request may start."""
        await self._limiter.acquire()


class LocalConcurrencyLimiter:
    """At most *limit* requests in flight in this process (an ``asyncio.Semaphore``)."""

    def __init__(self, limit: int) -> None:
        integer("max_concurrency", limit, low=1, error=ConfigurationError)
        self._limit = limit
        self._semaphore = asyncio.Semaphore(limit)

    def __repr__(self) -> str:
        return f"LocalConcurrencyLimiter(limit={self._limit})"

    @property
    def limit(self) -> int:
        """The most requests in flight at once."""
        return self._limit

    def slot(self) -> asyncio.Semaphore:
        """The semaphore itself: ``async with limiter.slot():``."""
        return self._semaphore
