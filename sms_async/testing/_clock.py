"""The fake's clock: frozen (tests move it) or following the wall clock (the CLI server)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from .._convert import API_TZ

__all__ = ["FakeClock"]


class FakeClock:
    """The time as the fake server sees it, always on the API's UTC+8.

    A frozen clock (the default) stands still until a test moves it with
    ``advance`` or ``set``; a ``realtime`` clock follows the wall clock, plus
    whatever ``advance`` added. Timestamps, task states, ``executeTime`` checks
    and the smsapi ``timestamp`` window all read this clock.

    Args:
        start: The time to start at. A naive datetime is read as UTC+8.
            Defaults to the current wall-clock time, to the second.
        realtime: Follow the wall clock from *start* on instead of standing still.
    """

    __slots__ = ("_base", "_offset", "_realtime", "_started")

    def __init__(self, start: datetime | None = None, *, realtime: bool = False) -> None:
        if start is None:
            start = datetime.now(API_TZ).replace(microsecond=0)
        elif start.tzinfo is None:
            start = start.replace(tzinfo=API_TZ)
        self._base = start.astimezone(API_TZ)
        self._offset = timedelta()
        self._realtime = realtime
        self._started = time.monotonic()

    def __repr__(self) -> str:
        kind = "realtime" if self._realtime else "frozen"
        return f"<FakeClock {kind} {self.now().isoformat()}>"

    @property
    def realtime(self) -> bool:
        """True when the clock follows the wall clock."""
        return self._realtime

    def now(self) -> datetime:
        """Return the current fake time, timezone-aware on UTC+8."""
        now = self._base + self._offset
        if self._realtime:
            now += timedelta(seconds=time.monotonic() - self._started)
        return now

    def advance(self, seconds: float | timedelta = 0.0) -> datetime:
        """Move the clock forward and return the new time.

        Args:
            seconds: How far, as seconds or a ``timedelta``; must not be negative.

        Raises:
            ValueError: For a negative amount (use ``set`` to go back).
        """
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if delta < timedelta():
            raise ValueError("the clock only moves forward; use set() to go back")
        self._offset += delta
        return self.now()

    def set(self, when: datetime) -> None:
        """Put the clock at *when* (a naive datetime is read as UTC+8)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=API_TZ)
        self._offset += when - self.now()
