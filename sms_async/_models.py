"""The API's objects as frozen, slotted attrs classes.

Attribute names are the API's own field names in snake_case, so the vendor's
documents can be read side by side with the code. JSON is turned into these
classes only by the converter in ``_convert.py``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from ._errors import SmsError, may_have_been_acted_on

__all__ = [
    "AddMembersResult",
    "AddProgress",
    "BatchOutcome",
    "ContactList",
    "FailedBatch",
    "Member",
    "NewMember",
    "Page",
    "SmsTask",
    "TaskStatus",
]

T = TypeVar("T")


class TaskStatus(enum.Enum):
    """The state of a contact-list task; the value is the API's own text."""

    WAITING = "等待执行"
    RUNNING = "执行中"
    SUCCEEDED = "执行成功"
    FAILED = "执行失败"
    #: A status this SDK does not know; the text is in ``SmsTask.raw_status``.
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """True when the task will not change any more (succeeded or failed)."""
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED)

    @classmethod
    def from_raw(cls, raw: str) -> TaskStatus:
        """Map the API's status text to a member, ``UNKNOWN`` for any other text."""
        try:
            status = cls(raw)
        except ValueError:
            return cls.UNKNOWN
        return cls.UNKNOWN if status is cls.UNKNOWN else status


@attrs.frozen
class ContactList:
    """A contact list.

    Attributes:
        contact_list_id: The list's id.
        contact_list_name: Its name (letters, digits, ``_`` and ``-``; at most 48).
        description: Its description (at most 255 characters).
        member_count: How many members it holds.
        create_time: When it was created (timezone-aware).
        update_time: When its name or description last changed (timezone-aware).
    """

    contact_list_id: int
    contact_list_name: str = ""
    description: str = ""
    member_count: int = 0
    create_time: datetime | None = None
    update_time: datetime | None = None


@attrs.frozen
class Member:
    """A member of a contact list.

    Attributes:
        member_id: The member's id.
        phone: The phone number as the API returns it (possibly masked).
        name: The member's name.
        vars: The template variables, parsed into a dict whatever form the API used.
        create_time: When the member was added (timezone-aware).
        update_time: When the member last changed (timezone-aware).
    """

    member_id: int
    phone: str = ""
    name: str = ""
    vars: dict[str, Any] = attrs.field(factory=dict)
    create_time: datetime | None = None
    update_time: datetime | None = None


@attrs.frozen
class NewMember:
    """A member to add to a contact list.

    Attributes:
        phone: The phone in international format: digits with an optional leading ``+``.
        name: The member's name, at most 48 characters.
        vars: Template variables: at most 1 KB as JSON, keys at most 32 characters and
            without ``%``. A ``name`` key is overridden by *name*.
    """

    phone: str
    name: str | None = None
    vars: dict[str, Any] | None = None


@attrs.frozen
class SmsTask:
    """A task that sends a template to every member of one or more contact lists.

    Attributes:
        task_id: The task's id.
        contact_list_name: The list name(s), several joined by ``;``.
        task_name: The task's name.
        sender_name: The sender's name.
        template_id: The SMS template's id.
        member_count: How many members the task sends to.
        status: The state of the task.
        raw_status: The API's status text as it came, kept for ``UNKNOWN``.
        create_time: When the task was created (timezone-aware, UTC+8).
        end_time: When the task ended, or ``None`` while it runs.
    """

    task_id: int
    contact_list_name: str = ""
    task_name: str = ""
    sender_name: str = ""
    template_id: int = 0
    member_count: int = 0
    status: TaskStatus = TaskStatus.UNKNOWN
    raw_status: str = ""
    create_time: datetime | None = None
    end_time: datetime | None = None


@attrs.frozen
class FailedBatch:
    """A batch of ``members.add`` that failed after the retries allowed.

    Attributes:
        members: The batch's members, exactly as they were to be sent.
        error: Why it failed.
        maybe_stored: ``True`` when the request may have been acted on (it was
            sent and then the connection was lost, a read timed out, the server
            answered a 5xx other than 503, or a 2xx answer was malformed or did
            not account for the batch): check the list before sending these
            members again. ``False`` when it certainly was not (a refused
            connection, 429, 503, any other 4xx, never sent): send them again.
            Derived from *error* unless given.
        index: The batch's place in the upload, from 0: batch *i* holds the
            members accepted *i* x ``batch_size`` to (*i* + 1) x ``batch_size``
            (in input order, those rejected before sending left out). ``None``
            when unknown.
    """

    members: list[NewMember]
    error: SmsError
    maybe_stored: bool = attrs.field(
        default=attrs.Factory(lambda self: may_have_been_acted_on(self.error), takes_self=True)
    )
    index: int | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class AddMembersResult:
    """The account of a ``members.add`` call.

    Every input member is in exactly one of: added (counted in ``count``),
    ``invalid`` (by phone) or a batch in ``failed``.

    Attributes:
        count: Members the API added.
        invalid: Phones of the members that were rejected, by the API or before sending.
        failed: The batches that failed, each with its members and error, in input order.
    """

    count: int = 0
    invalid: list[str] = attrs.field(factory=list)
    failed: list[FailedBatch] = attrs.field(factory=list)

    @property
    def failed_members(self) -> list[NewMember]:
        """Every member of every failed batch, in input order."""
        return [member for batch in self.failed for member in batch.members]


@attrs.frozen
class BatchOutcome:
    """What happened to one batch of ``members.add``.

    Attributes:
        members: The batch's members, as sent.
        count: Members the API added (0 when the batch failed).
        invalid: Phones the API rejected.
        error: Why the batch failed, or ``None`` when the API answered.
        maybe_stored: For a failed batch, whether it may be stored (as
            ``FailedBatch.maybe_stored``); ``False`` when the API answered.
        index: The batch's place in the upload, from 0 (as ``FailedBatch.index``).
    """

    members: list[NewMember]
    count: int = 0
    invalid: list[str] = attrs.field(factory=list)
    error: SmsError | None = None
    maybe_stored: bool = attrs.field(
        default=attrs.Factory(
            lambda self: self.error is not None and may_have_been_acted_on(self.error),
            takes_self=True,
        )
    )
    index: int | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class AddProgress:
    """Running totals of a ``members.add`` call, passed to ``on_progress``.

    Attributes:
        sent: Members consumed from the input so far and settled (added, rejected
            or failed).
        added: Members the API added so far.
        invalid: Members rejected so far, by the API or before sending.
        failed: Members in batches that failed so far.
        total: The input's length when it has one, else ``None``.
        batch: The batch whose completion triggered this report, or ``None`` for
            a report of rejections alone (at the end of the input).
    """

    sent: int
    added: int
    invalid: int
    failed: int
    total: int | None = None
    batch: BatchOutcome | None = None


@attrs.frozen
class Page(Generic[T]):
    """One page of a paginated listing.

    Attributes:
        items: The page's items, in server order.
        offset: The offset the page was requested at.
        total: The total the server reported for the listing. With ``member_ids``
            of more than 100 ids, each chunk of at most 100 ids is its own listing:
            ``offset`` and ``total`` are those of the chunk.
    """

    items: list[T]
    offset: int
    total: int
