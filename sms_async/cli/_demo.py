"""``sms-async demo``: the SDK end to end against the fake on a loopback port."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator
from typing import Any

import click

from ._exit import EXIT_INTERRUPTED

# The SDK and rich are imported when the command runs: registering it is free.

__all__ = ["demo"]

#: One generated row in this many has a bad phone, to show the accounting.
BAD_EVERY = 1000

#: Phones as people write them, for the normalization step (``default_region="CN"``).
LOOSE_PHONES = (
    "138 0013 8000",
    "+86 (139) 0013-9000",
    "0086 137 0013 7000",
    "010 1234 5678",
    "+44 20 7946 0958",
    "138",
)


def _phone(i: int) -> str:
    return f"+86138{i:08d}" if i % BAD_EVERY != BAD_EVERY - 1 else f"138-{i}"


class GeneratedRows:
    """*count* generated contacts (a ``Rows``); every 1000th has a phone the SDK refuses.

    A row's token is its number.
    """

    def __init__(self, count: int) -> None:
        self.fields = ["phone", "name"]
        self._count = count

    def original(self, token: int) -> dict[str, str]:
        """The row's phone and name."""
        return {"phone": _phone(token), "name": f"Contact {token}"}

    def phone(self, token: int) -> str:
        """The row's phone."""
        return _phone(token)

    def members(
        self,
        batch_size: int,
        take_batch: Callable[[list[Any]], None],
        reject: Callable[[dict[str, str], str], None],
        phones: object = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Yield the valid rows as members (see ``Rows.members``; already E.164: no *phones*)."""
        from .._validation import payload_problem

        tokens: list[int] = []
        for i in range(self._count):
            member = {"phone": _phone(i), "name": f"Contact {i}", "vars": {"code": str(i % 97)}}
            problem = payload_problem(member)
            if problem is not None:
                reject(self.original(i), problem)
                continue
            tokens.append(i)
            if len(tokens) == batch_size:
                take_batch(tokens)
                tokens = []
            yield member
        if tokens:
            take_batch(tokens)


@click.command()
@click.option(
    "--members", "count", type=click.IntRange(1, 10_000_000), default=50_000, show_default=True
)
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True)
def demo(count: int, concurrency: int) -> None:
    """Run the SDK against a local fake server: no account, no network.

    Starts the fake on a free 127.0.0.1 port, creates a list, imports generated
    contacts with a progress bar, reads them back, sends a task and waits for it.
    """
    import asyncio
    import secrets

    from ..testing import spawn_server

    user, key = "demo-user", secrets.token_hex(16)
    click.echo("starting the fake server on 127.0.0.1 ...", err=True)
    with spawn_server(
        user, key, extra_args=["--task-delay", "0.5", "--task-duration", "1"]
    ) as server:
        click.echo(f"fake server on {server.base_url}", err=True)
        try:
            asyncio.run(_demo(server.base_url, user, key, count, concurrency))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)


async def _demo(base_url: str, user: str, key: str, count: int, concurrency: int) -> None:
    from .._client import AsyncSmsClient
    from ._files import RejectsWriter
    from ._import import run_import
    from ._progress import ImportProgress

    timings: list[tuple[str, float]] = []
    async with AsyncSmsClient(
        user, key, base_url=base_url, task_base_url=base_url, max_concurrency=concurrency
    ) as client:
        started = time.monotonic()
        contact_list = await client.contact_lists.create(
            contact_list_name=f"demo_{int(time.time())}", description="sms-async demo"
        )
        timings.append(("create list", time.monotonic() - started))

        with ImportProgress(sys.stderr, count) as progress:
            summary = await run_import(
                client,
                contact_list.contact_list_id,
                GeneratedRows(count),
                rejects=RejectsWriter(None, []),
                on_update=progress.update,
                batch_size=1000,
                concurrency=concurrency,
                clock=time.monotonic,
            )
            progress.update(
                summary.rows, summary.added, summary.rejected, summary.failed, final=True
            )
        timings.append((f"import {count:,} contacts", summary.seconds))

        started = time.monotonic()
        read_back = 0
        async for _member in client.members.list(contact_list.contact_list_id):
            read_back += 1
        timings.append((f"read back {read_back:,} members", time.monotonic() - started))

        started = time.monotonic()
        task = await client.tasks.send(
            contact_list_name=contact_list.contact_list_name,
            task_name="demo-campaign",
            template_id=1,
            sender_name="sms-async",
        )
        task = await client.tasks.wait(task.task_id, poll_interval=0.25, timeout=60)
        timings.append((f"send task {task.task_id} and wait", time.monotonic() - started))

    normalized = await _normalize(base_url, user, key, f"{contact_list.contact_list_name}_phones")

    click.echo("")
    click.echo(f"list {contact_list.contact_list_name} (id {contact_list.contact_list_id})")
    click.echo(
        f"  {summary.rows:,} rows: {summary.added:,} added, {summary.rejected:,} rejected "
        f"(bad phones), {summary.failed:,} failed"
    )
    click.echo(f"  read back {read_back:,} members; task {task.task_id}: {task.status.name}")
    for label, seconds in timings:
        click.echo(f"  {label:<32} {seconds:7.2f} s")
    rate = summary.rows / summary.seconds if summary.seconds else 0.0
    click.echo(f"  import rate {rate:,.0f} rows/s")
    click.echo("")
    if normalized is None:
        click.echo("phones as people write them: pip install 'sms-async[phones]' to see them")
        return
    click.echo('phones as people write them, with default_region="CN":')
    for written, outcome in normalized:
        click.echo(f"  {written!r:<24} -> {outcome}")


async def _normalize(
    base_url: str, user: str, key: str, list_name: str
) -> list[tuple[str, str]] | None:
    """Add ``LOOSE_PHONES`` to a new list, with ``default_region="CN"``: each one as stored.

    ``None`` without the ``phones`` extra.
    """
    from .._client import AsyncSmsClient
    from .._errors import ConfigurationError

    try:
        client = AsyncSmsClient(
            user, key, base_url=base_url, task_base_url=base_url, default_region="CN"
        )
    except ConfigurationError:
        return None
    async with client:
        created = await client.contact_lists.create(contact_list_name=list_name)
        list_id = created.contact_list_id
        result = await client.members.add(list_id, [{"phone": p} for p in LOOSE_PHONES])
        found = await client.members.lookup(
            list_id, [p for p in LOOSE_PHONES if p not in result.invalid]
        )
    return [
        (written, found[written].phone if written in found else "refused (in result.invalid)")
        for written in LOOSE_PHONES
    ]
