"""The import engine of the command line: rows in, an exact account and a rejects file out.

Rows are streamed. The reader checks each row once, with the SDK's own rule,
and hands on only members the SDK accepts: so batch *i* of ``members.add``
holds exactly the members *i* x ``batch_size`` to (*i* + 1) x ``batch_size``
handed on, and the reader passes the tokens of each batch's rows here as a
list. Only the batches in flight are kept (to write their rows to the rejects
file if the batch fails or the API rejects some), so memory does not grow with
the file; a batch that settles is found among them by its members, and its
rows are looked at only when it failed or the API rejected some of them.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .._errors import BulkAddAbortedError
from .._journal import ImportJournal

if TYPE_CHECKING:
    from .._client import AsyncSmsClient
    from .._models import AddMembersResult, AddProgress, BatchOutcome, NewMember
    from .._phones import PhoneRules
    from ._files import RejectsWriter, Rows

__all__ = ["ImportSummary", "run_import"]


class ImportSummary(NamedTuple):
    """The outcome of an import.

    Attributes:
        rows: Rows read.
        added: Members the API added.
        rejected: Rows not sent (invalid) or rejected by the API.
        failed: Rows in batches that failed.
        failed_batches: How many batches failed.
        seconds: Wall time of the import.
        stopped: Why the import stopped before the end of the file (an error that
            every later batch would meet), or ``None`` when it read the whole file.
    """

    rows: int
    added: int
    rejected: int
    failed: int
    failed_batches: int
    seconds: float
    stopped: str | None = None


class _Batches:
    """The batches handed to ``members.add`` and not settled yet: the tokens of their rows."""

    def __init__(self, rows: Rows, rejects: RejectsWriter) -> None:
        self._rows = rows
        self._rejects = rejects
        self._open: dict[int, list[Any]] = {}  # batch index: the tokens of its rows
        self._next = 0
        #: Rows handed on (the reader's valid rows read so far).
        self.handed = 0

    def take(self, tokens: list[Any]) -> None:
        """The reader's ``take_batch``: the next batch's rows."""
        self._open[self._next] = tokens
        self._next += 1
        self.handed += len(tokens)

    def settle(self, outcome: BatchOutcome) -> None:
        """Write the rows of a settled batch that were not added."""
        members = outcome.members
        if not members:
            return  # nothing to account for (a replayed batch that failed empty)
        index = self._find(members, index=outcome.index)
        if index is None:
            # Not a batch the reader handed on: the SDK refused a member the reader
            # had checked with the SDK's own rule, and rows would be misattributed.
            raise RuntimeError("members.add reported a batch the import did not hand on")
        tokens = self._open.pop(index)
        if outcome.error is not None:
            reason = f"batch failed: {_verdict(outcome.maybe_stored)}; {outcome.error}"
            self._write(tokens, members, reason)
        elif outcome.invalid:
            self._blame(tokens, outcome.invalid)

    def leftover(self, result: AddMembersResult) -> None:
        """Write the rows of the failed batches that were never reported.

        Those the upload held back or read but did not send because it stopped
        early: each is a whole batch, in ``result.failed`` only.
        """
        for failed in result.failed:
            if not self._open:
                return
            index = self._find(failed.members, index=failed.index, whole_only=True)
            if index is not None:
                reason = f"batch failed: {_verdict(failed.maybe_stored)}; {failed.error}"
                self._write(self._open.pop(index), failed.members, reason)

    def _find(
        self, members: list[NewMember], *, index: int | None = None, whole_only: bool = False
    ) -> int | None:
        """The open batch whose members *members* are (all of them, or some: a resume's).

        By its *index* in the upload when the SDK gives it (batch *i* of
        ``members.add`` is the *i*-th batch handed on): then it is checked to hold
        those members. Else by its members' phones, which two batches may share.
        """
        if not members:
            return None
        phone = self._rows.phone
        if index is not None:
            tokens = self._open.get(index)
            if tokens is None:
                return None
            if len(tokens) == len(members):  # the whole batch: as handed on, in order
                ends = phone(tokens[0]), phone(tokens[-1])
                return index if ends == (members[0].phone, members[-1].phone) else None
            if whole_only:
                return None
            held = Counter(phone(token) for token in tokens)
            return index if not Counter(member.phone for member in members) - held else None
        first, last, size = members[0].phone, members[-1].phone, len(members)
        whole = [
            index
            for index, tokens in self._open.items()
            if len(tokens) == size and phone(tokens[0]) == first and phone(tokens[-1]) == last
        ]
        if len(whole) == 1:
            return whole[0]
        if whole_only and not whole:
            return None
        # Several batches start and end alike (phones repeated in the file), or only
        # some of the batch's members were reported (a batch the journal resumed):
        # the first open batch that holds every one of these phones.
        wanted = Counter(member.phone for member in members)
        for index in whole or self._open:
            held = Counter(phone(token) for token in self._open[index])
            if not wanted - held:
                return index
        return None

    def _write(self, tokens: list[Any], members: list[NewMember], reason: str) -> None:
        """Write the rows of *tokens* whose members are *members* (all, or some, in order)."""
        rows, write = self._rows, self._rejects.write
        if len(members) == len(tokens):
            for token in tokens:
                write(rows.original(token), reason)
            return
        wanted = Counter(member.phone for member in members)
        for token in tokens:
            phone = rows.phone(token)
            if wanted[phone] > 0:
                wanted[phone] -= 1
                write(rows.original(token), reason)

    def _blame(self, tokens: list[Any], invalid: list[str]) -> None:
        """Write the rows the API rejected, by phone.

        The API names rejected members by phone only. When a phone is in a batch
        more than once, the API keeps the first: blame the later rows.
        """
        rows = self._rows
        rejected = Counter(invalid)
        phones = [rows.phone(token) for token in tokens]
        left = Counter(phones)
        for token, phone in zip(tokens, phones, strict=True):
            left[phone] -= 1
            if left[phone] < rejected[phone]:
                self._rejects.write(rows.original(token), "invalid: rejected by the API")


def _verdict(maybe_stored: bool) -> str:
    return "may be stored: check before sending again" if maybe_stored else "not sent: send again"


async def run_import(
    client: AsyncSmsClient,
    contact_list_id: int,
    rows: Rows,
    *,
    rejects: RejectsWriter,
    on_update: Callable[[int, int, int, int], None],
    batch_size: int,
    concurrency: int | None,
    clock: Callable[[], float],
    journal: Path | None = None,
    phones: PhoneRules | None = None,
) -> ImportSummary:
    """Upload *rows* and account for every one of them.

    With a *journal*, the import is crash-safe: run again with the same file and
    journal, it resumes (settled batches are replayed from the journal, in doubt
    ones checked against the list), and the rejects file, written anew, holds
    every rejected row of the whole import once. With *phones* (``--region``,
    ``--dedupe``), the reader normalizes each phone and refuses repeats, each
    refused row with its reason.
    """
    started = clock()
    batches = _Batches(rows, rejects)
    rejected_locally = 0

    def reject(original: dict[str, str], problem: str) -> None:
        nonlocal rejected_locally
        rejected_locally += 1
        rejects.write(original, f"invalid: {problem}")

    def settle(progress: AddProgress) -> None:
        batch = progress.batch
        if batch is not None:
            batches.settle(batch)
        rejects.flush()  # durable per batch: a kill loses at most the batches in flight
        on_update(
            batches.handed + rejected_locally,
            progress.added,
            rejected_locally + progress.invalid,
            progress.failed,
        )

    members = rows.members(batch_size, batches.take, reject, phones)
    stopped: str | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(members.close)
            opened = None
            if journal is not None:
                opened = await stack.enter_async_context(ImportJournal(journal))
            result = await client.members.add(
                contact_list_id,
                members,
                batch_size=batch_size,
                concurrency=concurrency,
                raise_on_error=False,
                on_progress=settle,
                journal=opened,
            )
    except BulkAddAbortedError as exc:
        # A wrong key, no permission, the list gone, ...: the rest of the file is not
        # read; every row read so far is accounted for in exc.result.
        result = exc.result
        cause = exc.__cause__
        stopped = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
    batches.leftover(result)
    rejects.flush()
    read = batches.handed + rejected_locally
    rejected = rejected_locally + len(result.invalid)
    failed = len(result.failed_members)
    on_update(read, result.count, rejected, failed)
    return ImportSummary(
        rows=read,
        added=result.count,
        rejected=rejected,
        failed=failed,
        failed_batches=len(result.failed),
        seconds=clock() - started,
        stopped=stopped,
    )
