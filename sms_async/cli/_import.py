"""The import engine of the command line: rows in, an exact account and a rejects file out.

Rows are streamed: only the rows of batches still in flight are kept (to write
them to the rejects file if their batch fails or the API rejects them), so
memory does not grow with the file.
"""

from __future__ import annotations

import contextlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import attrs

from .._client import AsyncSmsClient
from .._errors import BulkAddAbortedError
from .._journal import ImportJournal
from .._models import AddProgress, NewMember
from ._files import RejectsWriter, Row

__all__ = ["ImportSummary", "run_import"]


@attrs.frozen
class ImportSummary:
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


async def run_import(
    client: AsyncSmsClient,
    contact_list_id: int,
    rows: Iterable[Row],
    *,
    rejects: RejectsWriter,
    on_update: Callable[[int, int, int, int], None],
    batch_size: int,
    concurrency: int | None,
    clock: Callable[[], float],
    journal: Path | None = None,
) -> ImportSummary:
    """Upload *rows* and account for every one of them.

    With a *journal*, the import is crash-safe: run again with the same file and
    journal, it resumes (settled batches are replayed from the journal, in doubt
    ones checked against the list), and the rejects file, written anew, holds
    every rejected row of the whole import once.
    """
    started = clock()
    in_flight: dict[str, deque[Row]] = {}
    read = 0
    rejected_locally = 0

    def members() -> Iterator[NewMember]:
        nonlocal read, rejected_locally
        for row in rows:
            read += 1
            if row.member is None:
                rejected_locally += 1
                rejects.write(row, f"invalid: {row.problem}")
                continue
            in_flight.setdefault(row.member.phone, deque()).append(row)
            yield row.member

    def settle(progress: AddProgress) -> None:
        batch = progress.batch
        if batch is not None:
            # The API names rejected members by phone only. When a phone is in a
            # batch more than once, the API keeps the first: blame the later rows.
            left = Counter(member.phone for member in batch.members)
            api_invalid = Counter(batch.invalid)
            for member in batch.members:
                queue = in_flight[member.phone]
                row = queue.popleft()
                if not queue:
                    del in_flight[member.phone]
                left[member.phone] -= 1
                if batch.error is not None:
                    verdict = (
                        "may be stored: check before sending again"
                        if batch.maybe_stored
                        else "not sent: send again"
                    )
                    rejects.write(row, f"batch failed: {verdict}; {batch.error}")
                elif left[member.phone] < api_invalid[member.phone]:
                    rejects.write(row, "invalid: rejected by the API")
        rejects.flush()  # durable per batch: a kill loses at most the batches in flight
        on_update(read, progress.added, rejected_locally + progress.invalid, progress.failed)

    stopped: str | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            opened = None
            if journal is not None:
                opened = await stack.enter_async_context(ImportJournal(journal))
            result = await client.members.add(
                contact_list_id,
                members(),
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
