"""The bulk engine behind ``members.add``: validate, batch, send concurrently, account.

The input is read lazily by one producer that validates each member and fills
a batch; a full batch waits for a free slot of a semaphore before it is handed
to a task of an ``asyncio.TaskGroup``, so at most ``concurrency`` batches are
in flight and the producer is never more than one batch ahead of them: memory
stays near ``(concurrency + 1) x batch_size`` members, whatever the input size.

Every member ends in exactly one of three places: added (``count``), rejected
(``invalid``: by the API, or before sending), or the ``members`` of a
``FailedBatch``. A batch whose request failed is never re-sent by this engine;
the transport only retries what the server cannot have acted on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sized,
)
from typing import Any

from ._constants import LOGGER_NAME, MAX_MEMBER_NAME
from ._convert import AddResult, unstructure_member
from ._errors import BulkAddError, SmsError, ValidationError
from ._models import AddMembersResult, AddProgress, BatchOutcome, FailedBatch, NewMember
from ._validation import MEMBER_KEYS, PHONE_PATTERN, member_problem, to_new_member, vars_problem

__all__ = ["MemberInput", "ProgressCallback", "add_members"]

logger = logging.getLogger(LOGGER_NAME)

MemberInput = NewMember | Mapping[str, Any]
#: One member as sent: ``{"phone": ..., "name"?: ..., "vars"?: ...}``.
Payload = dict[str, Any]
SendBatch = Callable[[list[Payload]], Awaitable[AddResult]]
ProgressCallback = Callable[[AddProgress], Any]


class _Account:
    """Running totals of one upload."""

    __slots__ = ("added", "failed", "failed_members", "invalid", "total")

    def __init__(self, total: int | None) -> None:
        self.added = 0
        self.invalid: list[str] = []
        self.failed: list[tuple[int, FailedBatch]] = []
        self.failed_members = 0
        self.total = total

    def progress(self, batch: BatchOutcome | None) -> AddProgress:
        invalid = len(self.invalid)
        return AddProgress(
            sent=self.added + invalid + self.failed_members,
            added=self.added,
            invalid=invalid,
            failed=self.failed_members,
            total=self.total,
            batch=batch,
        )

    def result(self) -> AddMembersResult:
        failed = [batch for _, batch in sorted(self.failed, key=lambda pair: pair[0])]
        return AddMembersResult(count=self.added, invalid=self.invalid, failed=failed)


async def add_members(
    members: Iterable[MemberInput] | AsyncIterable[MemberInput],
    send: SendBatch,
    *,
    batch_size: int,
    concurrency: int,
    raise_on_error: bool,
    on_progress: ProgressCallback | None = None,
) -> AddMembersResult:
    """Send *members* through *send* in concurrent batches; account for every one."""
    account = _Account(len(members) if isinstance(members, Sized) else None)
    slots = asyncio.Semaphore(concurrency)

    async def report(batch: BatchOutcome | None) -> None:
        if on_progress is not None:
            outcome = on_progress(account.progress(batch))
            if inspect.isawaitable(outcome):
                await outcome

    async def run(index: int, batch: list[Payload]) -> None:
        try:
            outcome: BatchOutcome | None = None
            try:
                added = await send(batch)
            except SmsError as exc:
                members = _to_members(batch)
                account.failed.append((index, FailedBatch(members, exc)))
                account.failed_members += len(batch)
                if on_progress is not None:
                    outcome = BatchOutcome(members, error=exc)
            else:
                if on_progress is not None:
                    outcome = BatchOutcome(_to_members(batch), added.count, added.invalid)
                account.added += added.count
                account.invalid.extend(added.invalid)
                if added.count + len(added.invalid) != len(batch):
                    logger.warning(
                        "the API accounted for %d of a batch of %d members (%d added, %d invalid)",
                        added.count + len(added.invalid),
                        len(batch),
                        added.count,
                        len(added.invalid),
                    )
            # Reported while the slot is held: a slow on_progress slows the upload
            # down instead of letting finished batches pile up in memory.
            await report(outcome)
        finally:
            slots.release()

    invalid = account.invalid
    try:
        async with (
            asyncio.TaskGroup() as group,
            contextlib.aclosing(_chunks(members, batch_size)) as chunks,
        ):
            batch: list[Payload] = []
            batches = 0
            rejected_since_report = False
            async for chunk in chunks:
                for raw in chunk:
                    payload = _accept(raw, invalid)
                    if payload is None:
                        rejected_since_report = True
                        continue
                    batch.append(payload)
                    if len(batch) >= batch_size:
                        await slots.acquire()
                        group.create_task(run(batches, batch))
                        batches += 1
                        batch = []
                        rejected_since_report = False
            if batch:
                await slots.acquire()
                group.create_task(run(batches, batch))
            elif rejected_since_report:
                await report(None)
    except BaseExceptionGroup as errors:
        # A batch's SmsError is accounted for and never gets here; what does is an
        # exception from the input, from on_progress, or a bug. A single one is
        # raised as itself, not wrapped in a group.
        if len(errors.exceptions) == 1:
            raise errors.exceptions[0] from None
        raise
    result = account.result()
    if raise_on_error and result.failed:
        raise BulkAddError(result)
    return result


_phone_match = PHONE_PATTERN.fullmatch


def _accept(raw: object, invalid: list[str]) -> Payload | None:
    """Return the JSON object to send for *raw*, or record it as invalid and return ``None``.

    A plain dict that already is a valid payload is sent as it is (the hot path of
    a large upload); anything else goes through ``NewMember`` and the full checks.
    """
    if type(raw) is dict:
        phone, name, variables = raw.get("phone"), raw.get("name"), raw.get("vars")
        if (
            type(phone) is str
            and _phone_match(phone)
            and (name is None or (type(name) is str and len(name) <= MAX_MEMBER_NAME))
            and (variables is None or (type(variables) is dict and vars_problem(variables) is None))
            and raw.keys() <= MEMBER_KEYS
        ):
            if (name is None and "name" in raw) or (variables is None and "vars" in raw):
                return {key: value for key, value in raw.items() if value is not None}
            return raw
    try:
        member = to_new_member(raw)
    except ValidationError:
        invalid.append(_phone_of(raw.get("phone") if isinstance(raw, Mapping) else raw))
        return None
    if member_problem(member) is not None:
        invalid.append(_phone_of(member.phone))
        return None
    return unstructure_member(member)


def _to_members(batch: list[Payload]) -> list[NewMember]:
    """The batch as ``NewMember`` objects (for failures and progress reports only)."""
    return [NewMember(item["phone"], item.get("name"), item.get("vars")) for item in batch]


def _phone_of(value: object) -> str:
    """The text recorded in ``invalid`` for a rejected member's phone."""
    return "" if value is None else str(value)


async def _chunks(
    items: Iterable[MemberInput] | AsyncIterable[MemberInput], size: int
) -> AsyncGenerator[list[MemberInput]]:
    """Read the input *size* items at a time: the per-item loop then stays synchronous."""
    if isinstance(items, AsyncIterable):
        chunk: list[MemberInput] = []
        async for item in items:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    else:
        iterator = iter(items)
        while chunk := list(itertools.islice(iterator, size)):
            yield chunk
