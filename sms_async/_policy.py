"""The policy of a request's attempts: which failures are retried, the waits, the deadline.

And the one event loop a client may be used in. The transport (``_transport.py``)
applies these; they are kept apart so that each rule can be read, and tested,
on its own.
"""

from __future__ import annotations

import asyncio
import random

import httpx

from ._constants import RETRY_INITIAL_WAIT, RETRY_MAX_WAIT
from ._errors import ConfigurationError

__all__ = [
    "RETRY_STATUSES_IDEMPOTENT",
    "RETRY_STATUSES_UNSAFE",
    "LoopBinding",
    "attempt_deadline",
    "backoff",
    "retry_wait_scale",
    "set_retry_wait_scale",
]

#: Statuses retried for requests that are safe to repeat (GET, PUT, DELETE, smsapi query).
RETRY_STATUSES_IDEMPOTENT = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses retried for POSTs that create something: the server did not act.
RETRY_STATUSES_UNSAFE = frozenset({429, 503})


def attempt_deadline(timeout: httpx.Timeout) -> float | None:
    """The bound of a whole attempt: the largest phase of *timeout* (``None``: unbounded)."""
    phases = [
        value
        for value in (timeout.connect, timeout.read, timeout.write, timeout.pool)
        if value is not None
    ]
    return max(phases) if phases else None


class LoopBinding:
    """The one event loop a client (and the clients derived from it) may be used in.

    httpx's connections, asyncio's locks and a Redis client belong to the loop
    they were first used in; used from another loop they fail in obscure ways
    (``RuntimeError: Event loop is closed``, a future attached to a different
    loop). The first use binds the client; use from any other loop is refused.
    """

    __slots__ = ("closed", "loop")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        #: Set by ``aclose()``: nothing more is sent, even on an http_client left open.
        self.closed = False

    def bind(self) -> None:
        """Bind to the running loop, if there is one (a client made inside a loop)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return  # made outside any loop: bound at its first use
        self.running(running)

    def running(self, running: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
        """Return *running* if the client may be used in it; bind to it on first use."""
        if self.loop is None:
            self.loop = running
        elif running is not self.loop:
            raise ConfigurationError(_OTHER_LOOP)
        return running


_OTHER_LOOP = (
    "this AsyncSmsClient was first used in another event loop: a client belongs to the "
    "event loop it first ran in (its connections do). Create one client per event loop, "
    "inside it -- e.g. in your app's lifespan or worker start-up, not at import time -- "
    "and close it in the same loop"
)


_retry_wait_scale = 1.0


def retry_wait_scale() -> float:
    """The factor of every retry wait: 1, or 0 within ``sms_async.testing.instant_retries``."""
    return _retry_wait_scale


def set_retry_wait_scale(scale: float) -> float:
    """Set the retry wait multiplier; return the previous one (for tests only)."""
    global _retry_wait_scale
    previous, _retry_wait_scale = _retry_wait_scale, scale
    return previous


def backoff(attempt: int) -> float:
    """Return the wait before retry number *attempt* (1-based): exponential, full jitter."""
    ceiling = min(RETRY_MAX_WAIT, RETRY_INITIAL_WAIT * 2 ** (attempt - 1))
    return random.uniform(0.0, ceiling)
