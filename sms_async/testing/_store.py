"""The fake's stored objects (lists, members, tasks) and the counters that give their ids."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import attrs

from ._rules import FAILED, RUNNING, SUCCEEDED, WAITING

__all__ = ["FakeStore", "StoredContactList", "StoredMember", "StoredTask"]


def _forget_row(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> Any:
    if attribute.name != "_row":
        object.__setattr__(instance, "_row", None)
    return value


@attrs.define(eq=False, on_setattr=_forget_row)
class StoredMember:
    """A member as the fake stores it.

    Attributes:
        member_id: Its id (unique over all lists).
        phone: The phone exactly as it was sent.
        name: Its name (``""`` when none was given).
        vars: Its variables as a dict (after ``name`` overrode a ``name`` key).
        create_time: When it was added (fake clock).
        update_time: When it last changed (fake clock).

    Replace a field rather than change it in place (``member.vars = {...}``):
    the member's rendered row is cached until a field is set.
    """

    member_id: int
    phone: str
    name: str
    vars: dict[str, Any]
    create_time: datetime
    update_time: datetime
    _row: tuple[bool, dict[str, Any]] | None = attrs.field(init=False, default=None, repr=False)


@attrs.define(eq=False)
class StoredContactList:
    """A contact list as the fake stores it.

    Attributes:
        contact_list_id: Its id.
        contact_list_name: Its name (unique in the fake).
        description: Its description.
        create_time: When it was created (fake clock).
        update_time: When its name or description last changed (fake clock).
        members: Its members by id, in id order.
    """

    contact_list_id: int
    contact_list_name: str
    description: str
    create_time: datetime
    update_time: datetime
    members: dict[int, StoredMember] = attrs.field(factory=dict)
    _phones: Counter[str] = attrs.field(init=False, factory=Counter, repr=False)
    _ordered: list[StoredMember] | None = attrs.field(init=False, default=None, repr=False)

    @property
    def member_count(self) -> int:
        """How many members the list holds."""
        return len(self.members)

    @property
    def phones(self) -> list[str]:
        """Every member's phone, in member-id order."""
        return [member.phone for member in self.members.values()]

    def has_phone(self, phone: str) -> bool:
        """True when a member of the list has exactly this phone."""
        return self._phones[phone] > 0

    def ordered(self) -> list[StoredMember]:
        """The members in id order (cached until the membership changes)."""
        if self._ordered is None:
            self._ordered = list(self.members.values())
        return self._ordered

    def _add(self, member: StoredMember) -> None:
        self.members[member.member_id] = member
        self._phones[member.phone] += 1
        self._ordered = None

    def _remove(self, member_id: int) -> None:
        member = self.members.pop(member_id)
        self._forget_phone(member.phone)
        self._ordered = None

    def _change_phone(self, member: StoredMember, phone: str) -> None:
        self._forget_phone(member.phone)
        self._phones[phone] += 1
        member.phone = phone

    def _forget_phone(self, phone: str) -> None:
        self._phones[phone] -= 1
        if self._phones[phone] <= 0:
            del self._phones[phone]


@attrs.define(eq=False)
class StoredTask:
    """A contact-list task as the fake stores it.

    Its status follows the fake clock: waiting until ``start_time``, running
    until ``end_time``, then ``outcome``, unless ``forced_status`` is set.

    Attributes:
        task_id: Its id.
        contact_list_name: The ``contactListName`` as sent (several joined by ``;``).
        task_name: Its name.
        sender_name: The sender's name.
        template_id: The template's id.
        member_count: Members of the named lists when it was created (summed).
        create_time: When it was created.
        start_time: When it starts running (``executeTime``, or creation plus the
            server's ``task_start_delay``).
        end_time: When it ends (``start_time`` plus the server's ``task_duration``).
        outcome: The status it ends with: ``执行成功`` unless changed.
        forced_status: A status text reported instead of the computed one (any text).
    """

    task_id: int
    contact_list_name: str
    task_name: str
    sender_name: str
    template_id: int
    member_count: int
    create_time: datetime
    start_time: datetime
    end_time: datetime
    outcome: str = SUCCEEDED
    forced_status: str | None = None

    def status_at(self, now: datetime) -> tuple[str, datetime | None]:
        """Return the status text and the end time (``None`` until it ends) at *now*."""
        if self.forced_status is not None:
            ended = self.forced_status in (SUCCEEDED, FAILED)
            return self.forced_status, (min(now, self.end_time) if ended else None)
        if now < self.start_time:
            return WAITING, None
        if now < self.end_time:
            return RUNNING, None
        return self.outcome, self.end_time


class FakeStore:
    """Every stored list and task, and the id counters (they never go back).

    Lists, members and tasks get ids from their own counters, counting up from
    1001, 500001 and 9001; ``clear`` forgets the objects but not the counters.
    It checks nothing: the handlers apply the API's rules before they store.
    """

    def __init__(self) -> None:
        self.lists: dict[int, StoredContactList] = {}
        self.tasks: dict[int, StoredTask] = {}
        self._next_list_id = 1001
        self._next_member_id = 500001
        self._next_task_id = 9001

    def __repr__(self) -> str:
        return f"<FakeStore lists={len(self.lists)} tasks={len(self.tasks)}>"

    def add_list(self, name: str, description: str, now: datetime) -> StoredContactList:
        """Store a new, empty list created at *now*."""
        item = StoredContactList(self._next_list_id, name, description, now, now)
        self._next_list_id += 1
        self.lists[item.contact_list_id] = item
        return item

    def list_named(self, name: str) -> StoredContactList | None:
        """The list called *name*, if any."""
        for item in self.lists.values():
            if item.contact_list_name == name:
                return item
        return None

    def name_taken(self, name: str, but: int | None = None) -> bool:
        """True when a list other than the one with id *but* is called *name*."""
        return any(
            item.contact_list_name == name and item.contact_list_id != but
            for item in self.lists.values()
        )

    def add_member(
        self, item: StoredContactList, phone: str, name: str, vars_: dict[str, Any], now: datetime
    ) -> StoredMember:
        """Store a new member in *item*, added at *now*."""
        member = StoredMember(self._next_member_id, phone, name, vars_, now, now)
        self._next_member_id += 1
        item._add(member)
        return member

    def change_phone(self, item: StoredContactList, member: StoredMember, phone: str) -> None:
        """Give *member* of *item* another phone."""
        item._change_phone(member, phone)

    def remove_member(self, item: StoredContactList, member: StoredMember) -> None:
        """Remove *member* from *item*."""
        item._remove(member.member_id)

    def new_task_id(self) -> int:
        """Take the next task id."""
        task_id = self._next_task_id
        self._next_task_id += 1
        return task_id

    def clear(self) -> None:
        """Forget every list, member and task (ids keep counting up)."""
        self.lists.clear()
        self.tasks.clear()
