"""``FakeClock``: frozen or following the wall clock, always on UTC+8."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sms_async.testing import FakeClock

from .conftest import CST, T0


def test_the_clock() -> None:
    clock = FakeClock(datetime(2024, 1, 1, 8, 0))  # naive: read as UTC+8
    assert clock.now() == datetime(2024, 1, 1, 8, 0, tzinfo=CST)
    assert clock.advance(90) == datetime(2024, 1, 1, 8, 1, 30, tzinfo=CST)
    assert clock.advance(timedelta(hours=1)).hour == 9
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    clock.set(T0)
    assert clock.now() == T0
    assert not clock.realtime
    live = FakeClock(T0, realtime=True)
    assert live.realtime
    assert live.now() >= T0
    default = FakeClock()
    assert default.now().microsecond == 0
    assert default.now().utcoffset() == timedelta(hours=8)
