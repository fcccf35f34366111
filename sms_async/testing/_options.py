"""``FakeOptions``: how one fake behaves, taken alike by ``FakeSmsServer`` and its core."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

import attrs

from ._clock import FakeClock

__all__ = ["FakeOptions", "Sleep"]

Sleep = Callable[[float], Awaitable[Any]]


def _not_empty(_: Any, __: attrs.Attribute[str], value: str) -> None:
    if not value:
        raise ValueError("sms_user and sms_key must not be empty")


def _not_negative(_: Any, __: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError("task_start_delay and task_duration must be >= 0")


def _template_ids(value: Collection[int] | None) -> frozenset[int] | None:
    return None if value is None else frozenset(value)


@attrs.frozen
class FakeOptions:
    """The settings of one fake: its account, faults seed, clock, answers and tasks.

    ``FakeSmsServer(options=FakeOptions(...))`` uses them as they are;
    ``FakeSmsServer("user", "key", seed=3)`` builds them from its arguments.
    Only ``sms_user`` and ``sms_key`` may be given by position.

    Attributes:
        sms_user: The one account's user.
        sms_key: Its key (for Basic auth and the smsapi signature).
        seed: Seeds the fault generators: one seed, one sequence of faults per route.
        clock: The fake's clock; default (``None``): a new one, frozen at the current
            time, to the second.
        quirks: Answer like the seed documents (list rows with ``contact_List_id``,
            ``vars`` as a single-quoted string). ``False`` gives the clean forms
            (``contact_list_id``, ``vars`` as a JSON object), to test a client on both.
        allow_duplicate_phones: Store a phone already in the list again instead of
            reporting it in ``invalid``.
        task_start_delay: Seconds from creation to running for a task sent without
            ``executeTime``.
        task_duration: Seconds a task runs before it ends.
        templates: The template ids that exist; ``None`` (default) accepts any integer.
        sleep: The coroutine function used for injected latency (``None``: ``asyncio.sleep``).
    """

    sms_user: str = attrs.field(default="test-user", validator=_not_empty)
    sms_key: str = attrs.field(default="test-key", validator=_not_empty, repr=False)
    seed: int | str = attrs.field(default=0, kw_only=True)
    clock: FakeClock | None = attrs.field(default=None, kw_only=True)
    quirks: bool = attrs.field(default=True, kw_only=True)
    allow_duplicate_phones: bool = attrs.field(default=False, kw_only=True)
    task_start_delay: float = attrs.field(default=1.0, kw_only=True, validator=_not_negative)
    task_duration: float = attrs.field(default=2.0, kw_only=True, validator=_not_negative)
    templates: frozenset[int] | None = attrs.field(
        default=None, kw_only=True, converter=_template_ids
    )
    sleep: Sleep | None = attrs.field(default=None, kw_only=True)
