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

import attrs

from ._errors import (
    BulkAddAbortedError,
    BulkAddError,
    ConfigurationError,
    MalformedResponseError,
    SmsError,
    may_have_been_acted_on,
)
from ._journal import ImportJournal, JournalEntry, error_record, fingerprint, rebuild_error
from ._json import fragment, loads, thaw
from ._models import AddMembersResult, AddProgress, BatchOutcome, FailedBatch, NewMember

__all__ = [
    "Accept",
    "Batch",
    "MemberInput",
    "ProgressCallback",
    "QuickChunk",
    "Refine",
    "Resume",
    "SendBatch",
    "add_members",
]

MemberInput = NewMember | Mapping[str, Any]
#: One member as sent: ``{"phone": ..., "name"?: ..., "vars"?: ...}``; its vars may be a
#: ``_json.freeze`` snapshot (``_json.dumps`` writes it as the dict, ``thaw`` gives the dict).
Payload = dict[str, Any]


class Batch:
    """The members of one request, as read: either one JSON array, or a dict per member.

    The hot path reads a whole chunk of a list at once (``QuickChunk``) and keeps
    only its JSON (the snapshot that is sent) and its phones; anything else holds
    one payload dict per member. ``members()`` turns the JSON into dicts when they
    are needed (a failure, a progress report, a phone to rewrite): what is sent is
    the same either way.
    """

    __slots__ = ("_json", "_members", "_phones")

    def __init__(self, members: list[Payload] | None = None) -> None:
        self._members: list[Payload] = [] if members is None else members
        self._json: bytes | None = None
        self._phones: list[str] = []

    def hold(self, data: bytes, phones: list[str]) -> None:
        """Hold the JSON array *data* (``_json.dumps_exact``) of members with *phones*.

        For an empty batch only: the batch is then that JSON.
        """
        assert not len(self), "only an empty batch takes JSON"
        self._json, self._phones = data, phones

    def __len__(self) -> int:
        return len(self._phones) if self._json is not None else len(self._members)

    @property
    def is_json(self) -> bool:
        """Whether the batch is still the JSON of one chunk read whole (by ``QuickChunk``)."""
        return self._json is not None

    @property
    def phones(self) -> list[str]:
        """The members' phones, in order."""
        if self._json is not None:
            return self._phones
        return [member["phone"] for member in self._members]

    def members(self) -> list[Payload]:
        """The members as payload dicts (the batch holds them so from now on)."""
        if self._json is not None:
            self._members, self._json, self._phones = loads(self._json), None, []
        return self._members

    def wire(self) -> Any:
        """The batch as ``_json.dumps`` writes its JSON array."""
        return self._members if self._json is None else fragment(self._json)


#: Sends one batch; returns the API's answer as plain data: (added, invalid phones).
SendBatch = Callable[[Batch], Awaitable[tuple[object, object]]]
ProgressCallback = Callable[[AddProgress], Any]
#: Checks and snapshots one input item, or appends its phone to the list and returns None.
Accept = Callable[[object, list[str]], "Payload | None"]
#: A whole chunk read from a list at once: its JSON array and phones when every item is
#: accepted as it is, else None (each item then goes through ``Accept``).
QuickChunk = Callable[[list[Any]], "tuple[bytes, list[str]] | None"]
#: Then, for the items just accepted onto a batch (from the index given): changes them in
#: place or takes them out, appending their phones to the list; returns how many it took.
Refine = Callable[[Batch, int, list[str]], int]


@attrs.frozen
class Resume:
    """What an upload with a journal needs: the journal, its batches, and reconciliation.

    Attributes:
        journal: Where each batch's state goes, before and after its request.
        entries: The batches the journal already holds (empty for a new import).
        reconcile: Checks the in-doubt batches against the list, all at once (one
            export of the list may serve them all): for each batch, how many of its
            members are there already, and the ones to send.
    """

    journal: ImportJournal
    entries: dict[int, JournalEntry]
    reconcile: Callable[[list[Batch]], Awaitable[list[tuple[int, Batch]]]]


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


def check_answer(batch: Batch, count: object, invalid: object) -> str | None:
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
        strangers = Counter(invalid) - Counter(batch.phones)
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
    quick: QuickChunk | None = None,
    refine: Refine | None = None,
    on_progress: ProgressCallback | None = None,
    is_fatal: Callable[[SmsError], bool] | None = None,
    resume: Resume | None = None,
) -> AddMembersResult:
    """Send *members* through *send* in concurrent batches; account for every one.

    *accept* turns one input item into what is sent (a snapshot), or records it
    as invalid; *quick* (optional) takes a whole chunk of a list input at once
    when it can; *refine* (optional) then looks at the items just accepted, all
    at once (phone normalization and dedupe); *send* returns the API's answer
    as plain data. The engine knows no wire types: the resource adapts them.
    """
    account = _Account(len(members) if isinstance(members, Sized) else None)
    slots = asyncio.Semaphore(concurrency)
    stop: list[tuple[Exception, str]] = []  # the first reason to stop early

    def halt(cause: Exception, reason: str) -> None:
        """Stop reading the input, for the first of possibly several reasons."""
        if not stop:
            stop.append((cause, reason))

    async def report(batch: BatchOutcome | None) -> None:
        if on_progress is not None:
            outcome = on_progress(account.progress(batch))
            if inspect.isawaitable(outcome):
                await outcome

    journal = resume.journal if resume is not None else None

    def fail(index: int, members: list[NewMember], error: SmsError, stored: bool | None) -> None:
        failed = (
            FailedBatch(members, error, index=index)
            if stored is None
            else FailedBatch(members, error, stored, index=index)
        )
        account.failed.append((index, failed))
        account.failed_members += len(members)

    async def run(
        index: int,
        batch: Batch,
        *,
        reconciled: tuple[int, Batch] | SmsError | None = None,
        digest: str | None = None,
    ) -> None:
        """Send one batch (after a reconciliation, if it is in doubt); account for it."""
        try:
            outcome: BatchOutcome | None = None
            already, to_send = 0, batch
            try:
                if journal is not None:
                    digest = digest or fingerprint(batch.phones)
                    if isinstance(reconciled, SmsError):
                        raise reconciled  # the list could not be read to check the batch
                    if reconciled is not None:
                        already, to_send = reconciled
                    await journal.sending(index, digest, len(batch))
                count, invalid = await send(to_send) if to_send else (0, [])
                problem = check_answer(to_send, count, invalid)
                if problem is not None:
                    raise MalformedResponseError(f"unexpected response: {problem}", status_code=200)
                assert isinstance(count, int)  # by check_answer
                assert isinstance(invalid, list)
                if journal is not None:
                    await journal.added(index, already + count, invalid)
            except SmsError as exc:
                members = _to_members(to_send)
                # A batch in doubt that could not be checked stays in doubt, whatever
                # the check's own error says about the check's request.
                stored = True if exc is reconciled else may_have_been_acted_on(exc)
                fail(index, members, exc, stored)
                account.added += already
                if journal is not None:
                    await journal.failed(
                        index,
                        error_record(exc),
                        stored,
                        added=already,
                        failed_phones=[m.phone for m in members] if to_send is not batch else None,
                    )
                if on_progress is not None:
                    outcome = BatchOutcome(
                        members, already, error=exc, maybe_stored=stored, index=index
                    )
                if is_fatal is not None and is_fatal(exc):
                    halt(
                        exc, f"stopped at {type(exc).__name__}, which every later batch would meet"
                    )
            else:
                if on_progress is not None:
                    outcome = BatchOutcome(
                        _to_members(batch), already + count, invalid, index=index
                    )
                account.added += already + count
                account.invalid.extend(invalid)
            # Reported while the slot is held: a slow on_progress slows the upload
            # down instead of letting finished batches pile up in memory.
            await guarded_report(outcome)
        finally:
            slots.release()

    async def guarded_report(outcome: BatchOutcome | None) -> None:
        try:
            await report(outcome)
        except Exception as exc:
            halt(exc, f"on_progress raised {type(exc).__name__}")

    async def replay(index: int, batch: Batch, entry: JournalEntry) -> bool:
        """Account for a batch the journal settled; False when it is in doubt."""
        if entry.state == "added":
            account.added += entry.added
            account.invalid.extend(entry.invalid)
            outcome = BatchOutcome(_to_members(batch), entry.added, entry.invalid, index=index)
        elif entry.state == "failed" and entry.maybe_stored is False:
            error = rebuild_error(entry.error or {})
            failed_phones = set(entry.failed_phones or ())
            failed = [
                member
                for member in batch.members()
                if entry.failed_phones is None or member["phone"] in failed_phones
            ]
            account.added += entry.added
            members = _to_members(failed)
            fail(index, members, error, False)
            outcome = BatchOutcome(
                members, entry.added, error=error, maybe_stored=False, index=index
            )
        else:
            return False  # sending when the process died, or failed and maybe stored
        await guarded_report(outcome if on_progress is not None else None)
        return True

    reader = _Reader(members, accept, quick, refine)
    invalid = account.invalid
    entries = resume.entries if resume is not None else {}
    last_journaled = max(entries, default=-1)
    deferred: list[tuple[int, Batch, str | None]] = []
    unsent: list[tuple[int, Batch, str | None]] = []
    try:
        async with asyncio.TaskGroup() as group:
            batches = 0
            while not reader.done:
                await slots.acquire()
                if stop:
                    slots.release()
                    break
                batch = Batch()
                rejected_before = reader.rejected
                try:
                    while len(batch) < batch_size and not reader.done:
                        await reader.take(batch_size - len(batch), batch, invalid)
                except Exception as exc:  # the input raised: send what was read, then stop
                    reader.done = True
                    halt(exc, f"the input raised {type(exc).__name__}")
                    if journal is not None and batch:
                        # Journaled batches are whole ones: this one is read again, in
                        # full, by the next run; here it is reported, not sent.
                        unsent.append((batches, batch, None))
                        batch = Batch()
                if batch:
                    index, batches = batches, batches + 1
                    if index > last_journaled:
                        group.create_task(run(index, batch))
                        continue
                    # Within what the journal holds: check, replay, or keep for later;
                    # nothing is sent until every journaled batch matched the input.
                    slots.release()
                    entry = entries.get(index)
                    if entry is None:
                        deferred.append((index, batch, None))  # never sent: send it
                    else:
                        digest = fingerprint(batch.phones)
                        if digest != entry.fingerprint or len(batch) != entry.size:
                            raise _mismatch(index)
                        if not await replay(index, batch, entry):
                            deferred.append((index, batch, digest))
                    if index == last_journaled:
                        assert resume is not None
                        checks = await _reconcile(resume, [d for d in deferred if d[2]])
                        for position, (late, held, known) in enumerate(deferred):
                            await slots.acquire()
                            if stop:  # a fatal error: the rest is reported, not sent
                                slots.release()
                                unsent.extend(deferred[position:])
                                break
                            group.create_task(
                                run(late, held, reconciled=checks.get(late), digest=known)
                            )
                        deferred.clear()
                    continue
                slots.release()
                if reader.rejected != rejected_before:
                    await guarded_report(None)  # rejections after the last batch
            if batches <= last_journaled and not stop:
                raise _mismatch(batches)  # the input ended before the journal does
    except BaseExceptionGroup as errors:
        # Every failure of a batch or of on_progress is accounted for and never gets
        # here; what does is a bug. A single one is raised as itself, not in a group.
        if len(errors.exceptions) == 1:
            raise errors.exceptions[0] from None
        raise
    # 1: batches read (or held back) but not sent because the upload stopped: a batch
    # in doubt may be stored; the others were never sent. Not journaled: the next run
    # checks or sends them.
    for late, held, known in [*unsent, *deferred]:
        fail(late, _to_members(held), _NOT_SENT_ERROR, known is not None)
    result = account.result()
    if stop:
        cause, reason = stop[0]
        raise BulkAddAbortedError(result, reason) from cause
    if raise_on_error and result.failed:
        raise BulkAddError(result)
    return result


async def _reconcile(
    resume: Resume, in_doubt: list[tuple[int, Batch, str | None]]
) -> dict[int, tuple[int, Batch] | SmsError]:
    """Check every in-doubt batch against the list at once; a failure fails them all."""
    if not in_doubt:
        return {}
    try:
        found = await resume.reconcile([batch for _, batch, _ in in_doubt])
    except SmsError as exc:
        return {index: exc for index, _, _ in in_doubt}
    return {index: result for (index, _, _), result in zip(in_doubt, found, strict=True)}


#: The error of a batch the upload stopped before sending (see the abort's cause).
_NOT_SENT_ERROR = SmsError("not sent: the upload stopped first (see BulkAddAbortedError's cause)")


def _mismatch(index: int) -> ConfigurationError:
    return ConfigurationError(
        f"the journal does not match this input: batch {index} holds other phones than the "
        "journal recorded (a different file, or rows changed or moved); nothing was sent. "
        "Use the input the journal was made with, or a new journal"
    )


def _to_members(batch: Batch | list[Payload]) -> list[NewMember]:
    """The batch as ``NewMember`` objects (for failures and progress reports only)."""
    items = batch.members() if isinstance(batch, Batch) else batch
    return [NewMember(item["phone"], item.get("name"), thaw(item.get("vars"))) for item in items]


class _Reader:
    """Reads the input a few items at a time, never more than asked for.

    Each item is checked and snapshotted by *accept* the moment it is read: an
    input that changes and yields one object again is sent right. A list or a
    tuple runs no code of the caller's while it is read, so a whole chunk of it
    may be read first and snapshotted at once by *quick*. It is read by position:
    a chunk *quick* does not take is accepted item by item, and if *accept*
    raises, the items after the one it raised for count as not read.
    """

    __slots__ = (
        "_accept",
        "_async",
        "_pos",
        "_quick",
        "_refine",
        "_seq",
        "_sync",
        "done",
        "rejected",
    )

    def __init__(
        self,
        items: Iterable[MemberInput] | AsyncIterable[MemberInput],
        accept: Accept,
        quick: QuickChunk | None = None,
        refine: Refine | None = None,
    ) -> None:
        self.done = False
        #: Items *accept* or *refine* rejected so far, over the whole input.
        self.rejected = 0
        self._accept = accept
        self._refine = refine
        self._quick = quick
        self._async: AsyncIterator[MemberInput] | None = None
        self._sync: Iterator[MemberInput] | None = None
        # A list or a tuple (not a subclass: its iteration could run code), by position.
        self._seq: list[MemberInput] | tuple[MemberInput, ...] | None = None
        self._pos = 0
        if quick is not None and (type(items) is list or type(items) is tuple):
            self._seq = items
        elif isinstance(items, AsyncIterable):
            self._async = aiter(items)
        else:
            self._sync = iter(items)

    async def take(self, count: int, batch: Batch, invalid: list[str]) -> None:
        """Read up to *count* items: each accepted one onto *batch*, each rejected into *invalid*.

        Fewer at the end of the input (and ``done`` is set). If the input raises,
        the items read before it are in *batch* or counted in ``rejected`` already
        (refined too).
        """
        if self._refine is None:
            await self._take(count, batch, invalid)
            return
        start = len(batch)
        try:
            await self._take(count, batch, invalid)
        finally:
            if len(batch) > start:
                self.rejected += self._refine(batch, start, invalid)

    async def _take(self, count: int, batch: Batch, invalid: list[str]) -> None:
        if self._seq is not None:
            self._take_chunk(count, batch, invalid)
            return
        if self._sync is not None:
            before = len(batch) + self.rejected
            self._accept_each(itertools.islice(self._sync, count), batch, invalid)
            taken = len(batch) + self.rejected - before
        else:
            assert self._async is not None
            accept = self._accept
            append = batch.members().append
            taken = 0
            for _ in range(count):
                try:
                    item = await anext(self._async)
                except StopAsyncIteration:
                    break
                taken += 1
                payload = accept(item, invalid)
                if payload is None:
                    self.rejected += 1
                else:
                    append(payload)
        if taken < count:
            self.done = True

    def _take_chunk(self, count: int, batch: Batch, invalid: list[str]) -> None:
        """``_take`` from a list or a tuple: the next *count* items, whole if *quick* takes them."""
        assert self._seq is not None
        assert self._quick is not None
        start = self._pos
        chunk = list(self._seq[start : start + count])  # a copy of the references: no code run
        if len(chunk) < count:
            self.done = True
        if not chunk:
            return
        if not len(batch):
            got = self._quick(chunk)
            if got is not None:  # the whole chunk, as it is: the batch is its JSON
                batch.hold(*got)
                self._pos = start + len(chunk)
                return
        self._accept_each(self._counted(chunk), batch, invalid)

    def _counted(self, chunk: list[MemberInput]) -> Iterator[MemberInput]:
        """The items of *chunk*, each counted as read (``_pos``) as it is handed out."""
        for item in chunk:
            self._pos += 1  # read: accepted next, or the input "raised" for it
            yield item

    def _accept_each(self, items: Iterable[MemberInput], batch: Batch, invalid: list[str]) -> None:
        """Accept each of *items* onto *batch*, or count it as rejected."""
        accept = self._accept
        append = batch.members().append
        # the hot loop of a large upload: no call but the input's and accept's
        for item in items:
            payload = accept(item, invalid)
            if payload is None:
                self.rejected += 1
            else:
                append(payload)
