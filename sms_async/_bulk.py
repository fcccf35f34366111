"""The bulk engine behind ``members.add``: validate, batch, send concurrently, account.

One producer reads the input lazily. It waits for a free slot of a semaphore
*before* it reads the next batch, then reads exactly as many items as the
batch needs (rejected ones are replaced by reading more), and hands the batch
to a task of an ``asyncio.TaskGroup`` without awaiting anything in between. So
at most ``concurrency`` batches are in memory and in flight, and every item
read from the input is accounted for the moment it is read: the input is
never read ahead of what is sent.

Every member ends in exactly one of three places: added (``count``), rejected
(``invalid``: by the API, or before sending), or the ``members`` of a
``FailedBatch``. A batch whose request failed is never re-sent by this engine;
the transport only retries what the server cannot have acted on. A 2xx answer
that does not account for exactly its batch fails the whole batch
(``maybe_stored=True``): nothing of it is counted as added.

The upload stops early -- no more input is read, the batches in flight
finish, and ``BulkAddAbortedError`` carries the account -- when a batch fails
with an error every later batch would meet (``is_fatal``), or when the input
or ``on_progress`` raises.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections import Counter
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sized,
)
from typing import Any

from ._errors import BulkAddAbortedError, BulkAddError, MalformedResponseError, SmsError
from ._models import AddMembersResult, AddProgress, BatchOutcome, FailedBatch, NewMember

__all__ = ["Accept", "MemberInput", "ProgressCallback", "SendBatch", "add_members"]

MemberInput = NewMember | Mapping[str, Any]
#: One member as sent: ``{"phone": ..., "name"?: ..., "vars"?: ...}``.
Payload = dict[str, Any]
#: Sends one batch; returns the API's answer as plain data: (added, invalid phones).
SendBatch = Callable[[list[Payload]], Awaitable[tuple[object, object]]]
ProgressCallback = Callable[[AddProgress], Any]
#: Checks and snapshots one input item, or appends its phone to the list and returns None.
Accept = Callable[[object, list[str]], "Payload | None"]


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


def check_answer(batch: list[Payload], count: object, invalid: object) -> str | None:
    """Describe how an answer fails to account for exactly *batch*, or return ``None``."""
    if type(count) is not int or count < 0:
        return f"count {count!r:.40} is not an integer >= 0"
    if type(invalid) is not list or any(type(phone) is not str for phone in invalid):
        return "invalid is not a list of phones"
    if count + len(invalid) != len(batch):
        return (
            f"the answer accounts for {count + len(invalid)} of the batch's {len(batch)} "
            f"members ({count} added, {len(invalid)} invalid)"
        )
    if invalid:
        strangers = Counter(invalid) - Counter(member["phone"] for member in batch)
        if strangers:
            return f"{sum(strangers.values())} invalid phone(s) were not in the batch"
    return None


async def add_members(
    members: Iterable[MemberInput] | AsyncIterable[MemberInput],
    send: SendBatch,
    *,
    batch_size: int,
    concurrency: int,
    raise_on_error: bool,
    accept: Accept,
    on_progress: ProgressCallback | None = None,
    is_fatal: Callable[[SmsError], bool] | None = None,
) -> AddMembersResult:
    """Send *members* through *send* in concurrent batches; account for every one.

    *accept* turns one input item into what is sent (a snapshot), or records it
    as invalid; *send* returns the API's answer as plain data. The engine knows
    no wire types: the resource adapts both.
    """
    account = _Account(len(members) if isinstance(members, Sized) else None)
    slots = asyncio.Semaphore(concurrency)
    stop: list[tuple[Exception, str]] = []  # the first reason to stop early

    async def report(batch: BatchOutcome | None) -> None:
        if on_progress is not None:
            outcome = on_progress(account.progress(batch))
            if inspect.isawaitable(outcome):
                await outcome

    async def run(index: int, batch: list[Payload]) -> None:
        try:
            outcome: BatchOutcome | None = None
            try:
                count, invalid = await send(batch)
                problem = check_answer(batch, count, invalid)
                if problem is not None:
                    raise MalformedResponseError(f"unexpected response: {problem}", status_code=200)
            except SmsError as exc:
                members = _to_members(batch)
                account.failed.append((index, FailedBatch(members, exc)))
                account.failed_members += len(batch)
                if on_progress is not None:
                    outcome = BatchOutcome(members, error=exc)
                if is_fatal is not None and is_fatal(exc) and not stop:
                    stop.append(
                        (
                            exc,
                            f"stopped at {type(exc).__name__}, which every later batch would meet",
                        )
                    )
            else:
                assert isinstance(count, int)  # by check_answer
                assert isinstance(invalid, list)
                if on_progress is not None:
                    outcome = BatchOutcome(_to_members(batch), count, invalid)
                account.added += count
                account.invalid.extend(invalid)
            # Reported while the slot is held: a slow on_progress slows the upload
            # down instead of letting finished batches pile up in memory.
            try:
                await report(outcome)
            except Exception as exc:
                if not stop:
                    stop.append((exc, f"on_progress raised {type(exc).__name__}"))
        finally:
            slots.release()

    reader = _Reader(members)
    invalid = account.invalid
    try:
        async with asyncio.TaskGroup() as group:
            batches = 0
            while not reader.done:
                await slots.acquire()
                if stop:
                    slots.release()
                    break
                batch: list[Payload] = []
                rejected = 0

                def take_one(raw: object, batch: list[Payload] = batch) -> None:
                    # Each item is checked and snapshotted the moment it is read: an
                    # input that changes and yields one object again is sent right.
                    nonlocal rejected
                    payload = accept(raw, invalid)
                    if payload is None:
                        rejected += 1
                    else:
                        batch.append(payload)

                try:
                    while len(batch) < batch_size and not reader.done:
                        await reader.take(batch_size - len(batch), take_one)
                except Exception as exc:  # the input raised: send what was read, then stop
                    reader.done = True
                    if not stop:
                        stop.append((exc, f"the input raised {type(exc).__name__}"))
                if batch:
                    group.create_task(run(batches, batch))
                    batches += 1
                    continue
                slots.release()
                if rejected:
                    try:
                        await report(None)  # rejections after the last batch
                    except Exception as exc:
                        if not stop:
                            stop.append((exc, f"on_progress raised {type(exc).__name__}"))
    except BaseExceptionGroup as errors:
        # Every failure of a batch or of on_progress is accounted for and never gets
        # here; what does is a bug. A single one is raised as itself, not in a group.
        if len(errors.exceptions) == 1:
            raise errors.exceptions[0] from None
        raise
    result = account.result()
    if stop:
        cause, reason = stop[0]
        raise BulkAddAbortedError(result, reason) from cause
    if raise_on_error and result.failed:
        raise BulkAddError(result)
    return result


def _to_members(batch: list[Payload]) -> list[NewMember]:
    """The batch as ``NewMember`` objects (for failures and progress reports only)."""
    return [NewMember(item["phone"], item.get("name"), item.get("vars")) for item in batch]


class _Reader:
    """Reads the input a few items at a time, never more than asked for."""

    __slots__ = ("_async", "_sync", "done")

    def __init__(self, items: Iterable[MemberInput] | AsyncIterable[MemberInput]) -> None:
        self.done = False
        self._async: AsyncIterator[MemberInput] | None = None
        self._sync: Iterator[MemberInput] | None = None
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
        else:
            self._sync = iter(items)

    async def take(self, count: int, accept: Callable[[object], None]) -> None:
        """Pass up to *count* items to *accept*, each as it is read.

        Fewer at the end of the input (and ``done`` is set). If the input raises,
        the items read before it have been passed already.
        """
        taken = 0
        if self._sync is not None:
            for item in itertools.islice(self._sync, count):
                accept(item)
                taken += 1
        else:
            assert self._async is not None
            for _ in range(count):
                try:
                    item = await anext(self._async)
                except StopAsyncIteration:
                    break
                accept(item)
                taken += 1
        if taken < count:
            self.done = True
