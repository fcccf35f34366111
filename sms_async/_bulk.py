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
import inspect
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sized
from typing import Any

from ._constants import LOGGER_NAME
from ._convert import AddResult
from ._errors import BulkAddError, SmsError, ValidationError
from ._models import AddMembersResult, AddProgress, BatchOutcome, FailedBatch, NewMember
from ._validation import member_problem, to_new_member

__all__ = ["MemberInput", "ProgressCallback", "add_members"]

logger = logging.getLogger(LOGGER_NAME)

MemberInput = NewMember | Mapping[str, Any]
SendBatch = Callable[[list[NewMember]], Awaitable[AddResult]]
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

    async def run(index: int, batch: list[NewMember]) -> None:
        try:
            try:
                added = await send(batch)
            except SmsError as exc:
                account.failed.append((index, FailedBatch(batch, exc)))
                account.failed_members += len(batch)
                outcome = BatchOutcome(batch, error=exc)
            else:
                outcome = BatchOutcome(batch, added.count, added.invalid)
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

    try:
        async with asyncio.TaskGroup() as group:
            batch: list[NewMember] = []
            batches = 0
            rejected_since_report = False
            async for raw in _aiter(members):
                member = _accept(raw, account)
                if member is None:
                    rejected_since_report = True
                    continue
                batch.append(member)
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


def _accept(raw: object, account: _Account) -> NewMember | None:
    """Return the member to send, or record it as invalid and return ``None``."""
    try:
        member = to_new_member(raw)
    except ValidationError:
        account.invalid.append(_phone_of(raw.get("phone") if isinstance(raw, Mapping) else raw))
        return None
    if member_problem(member) is not None:
        account.invalid.append(_phone_of(member.phone))
        return None
    return member


def _phone_of(value: object) -> str:
    """The text recorded in ``invalid`` for a rejected member's phone."""
    return "" if value is None else str(value)


async def _aiter(items: Iterable[MemberInput] | AsyncIterable[MemberInput]) -> Any:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
