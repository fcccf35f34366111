"""A worker process of the crash-safe import tests: one journaled upload, killed at will.

Usage: journal_worker.py BASE_URL LIST_ID JOURNAL COUNT [HTTP_BACKEND [REGION]]
Prints "started" once the upload begins, then the result as JSON when it ends.
With REGION, the rows are ``written(count)`` and the upload normalizes and dedupes.
"""

from __future__ import annotations

import asyncio
import json
import sys

from sms_async import AsyncSmsClient, BulkAddError, ImportJournal
from sms_async.testing import instant_retries

USER, KEY = "journal-user", "journal-key"


def phones(count: int) -> list[str]:
    return [f"+8613{i:09d}" for i in range(count)]


def members(count: int) -> list[dict[str, str]]:
    rows = [{"phone": phone, "name": f"N{i}"} for i, phone in enumerate(phones(count))]
    for i in range(0, count, 97):  # some rows the SDK rejects before sending
        rows[i] = {"phone": f"bad-{i}"}
    return rows


def written(count: int) -> list[dict[str, str]]:
    """``members(count)`` as people write phones in China, with repeats written otherwise.

    Every third phone is national, with spaces; every 50th row repeats the phone of
    the row before it, written with ``0086``: ``dedupe=True`` refuses it.
    """
    base = members(count)
    rows = []
    for i, row in enumerate(base):
        phone, before = row["phone"], base[i - 1]["phone"] if i else ""
        if phone.startswith("+86") and i % 50 == 49 and before.startswith("+86"):
            row = {**row, "phone": "0086 " + before[3:]}
        elif phone.startswith("+86") and i % 3 == 1:
            row = {**row, "phone": f"{phone[3:6]} {phone[6:10]} {phone[10:]}"}
        rows.append(row)
    return rows


async def main(
    base_url: str, list_id: int, path: str, count: int, http_backend: str, region: str | None
) -> None:
    async with (
        AsyncSmsClient(
            USER,
            KEY,
            base_url=base_url,
            task_base_url=base_url,
            http_backend=http_backend,  # type: ignore[arg-type]  # argv: str
            default_region=region,
        ) as client,
        ImportJournal(path) as journal,
    ):
        print("started", flush=True)
        rows = members(count) if region is None else written(count)
        try:
            result = await client.members.add(
                list_id,
                rows,
                batch_size=100,
                concurrency=4,
                journal=journal,
                dedupe=region is not None,
            )
        except BulkAddError as exc:
            result = exc.result
    print(
        json.dumps(
            {
                "count": result.count,
                "invalid": result.invalid,
                "failed": [[m.phone for m in b.members] for b in result.failed],
                "maybe_stored": [b.maybe_stored for b in result.failed],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    with instant_retries():  # the test's faults are retried at once
        backend = sys.argv[5] if len(sys.argv) > 5 else "httpx"
        region = sys.argv[6] if len(sys.argv) > 6 else None
        asyncio.run(
            main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), backend, region)
        )
