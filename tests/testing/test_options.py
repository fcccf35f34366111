"""``FakeOptions``: one settings object for ``FakeSmsServer`` and its core."""

from __future__ import annotations

from typing import Any

import pytest

from sms_async.testing import FakeClock, FakeOptions, FakeSmsServer

from .conftest import T0


def test_options_or_their_fields_make_the_same_fake() -> None:
    clock = FakeClock(T0)
    by_fields = FakeSmsServer("u", "k", seed=3, clock=clock, quirks=False, templates=[7])
    options = FakeOptions("u", "k", seed=3, clock=clock, quirks=False, templates=[7])
    by_options = FakeSmsServer(options=options)
    assert by_fields.options == by_options.options == options
    assert by_options.options is options
    assert options.templates == frozenset({7})
    assert (by_fields.sms_user, by_fields.sms_key, by_fields.clock) == ("u", "k", clock)


def test_fields_given_with_options_replace_theirs() -> None:
    base = FakeOptions("u", "k", seed=3)
    fake = FakeSmsServer(options=base, quirks=False)
    assert (fake.options.seed, fake.options.quirks, base.quirks) == (3, False, True)
    with pytest.raises(TypeError, match="by name"):
        FakeSmsServer("u", options=base)
    with pytest.raises(TypeError):
        FakeSmsServer(task_delay=1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sms_user": ""}, "must not be empty"),
        ({"sms_key": ""}, "must not be empty"),
        ({"task_start_delay": -1}, ">= 0"),
        ({"task_duration": -0.5}, ">= 0"),
    ],
)
def test_bad_options_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FakeSmsServer(**fields)
    with pytest.raises(ValueError, match=message):
        FakeOptions(**fields)


def test_each_fake_without_a_clock_gets_its_own() -> None:
    options = FakeOptions()
    first, second = FakeSmsServer(options=options), FakeSmsServer(options=options)
    first.clock.advance(60)
    assert first.clock is not second.clock
    assert first.clock.now() > second.clock.now()
