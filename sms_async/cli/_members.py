"""``sms-async members``: import, export, rm."""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs
import click

from .._client import AsyncSmsClient
from .._constants import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CONCURRENCY,
)
from ._app import Settings, check_list, cli, open_output, pass_settings, run
from ._exit import EXIT_FAILED
from ._files import (
    JSONL_REJECT_FIELDS,
    MEMBER_FIELDS,
    RejectsWriter,
    Row,
    count_rows,
    delimiter_from,
    encoding_from,
    input_format,
    member_record,
    open_input,
    read_rows,
)
from ._import import ImportSummary, run_import
from ._progress import ImportProgress, plural, rate_text


@cli.group()
def members() -> None:
    """Members: import, export, rm."""


@members.command("import")
@click.argument("list_id", type=int)
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False))
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, writable=True),
    help="Write every row that was not added, with a reason column, to this CSV.",
)
@click.option(
    "--batch-size", type=click.IntRange(1, 1000), default=DEFAULT_BATCH_SIZE, show_default=True
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help=f"Batches in flight.  [default: {DEFAULT_MAX_CONCURRENCY}]",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), help="Default: by extension.")
@click.option(
    "--delimiter",
    type=delimiter_from,
    metavar="CHAR",
    help="CSV column separator: one character, or tab (or \\t).  "
    "[default: detected among , ; tab |]",
)
@click.option(
    "--encoding",
    type=encoding_from,
    metavar="ENCODING",
    help="Encoding of a FILE without a byte-order mark, e.g. latin-1, cp1252, gbk.  "
    "[default: utf-8]",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Make the import crash-safe: record each batch in this file (SQLite); run the "
    "same command again after a crash and it resumes where it stopped, sending no row "
    "twice.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_settings
def members_import(
    settings: Settings,
    list_id: int,
    file: str,
    rejects: str | None,
    batch_size: int,
    concurrency: int | None,
    fmt: str | None,
    delimiter: str | None,
    encoding: str | None,
    journal: Path | None,
    as_json: bool,
) -> None:
    """Import members from FILE (CSV or JSONL; - for stdin) into list LIST_ID.

    CSV: a header row with a phone column and optionally name (any case); every
    other column goes into vars. JSONL: one object per line with phone, name, vars.

    Crash-safe imports: with --journal PATH, each batch is recorded before and
    after its request. If the import is killed (a deploy, a crash, Ctrl-C), run
    the same command again: it reads FILE again, skips the batches already
    done, checks the ones that were in flight against the list, and sends the
    rest; no row is sent twice. The --rejects file is written anew, complete.
    Delete the journal once the import has finished. Without --journal, the
    rejects file is flushed as each batch settles, so a kill loses at most the
    batches in flight, but the import cannot be resumed.
    """
    try:
        fmt = input_format(file, fmt)
        if delimiter is not None and fmt != "csv":
            raise ValueError("--delimiter is for CSV files")
        handle = open_input(file, encoding)
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    total = count_rows(file, fmt, handle.encoding)
    with contextlib.ExitStack() as stack:
        stack.enter_context(handle)
        rows = read_rows(handle, fmt, delimiter=delimiter)
        try:
            first = next(rows, None)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        fields = _reject_fields(first, fmt)
        out = stack.enter_context(open_output(rejects)) if rejects else None
        writer = RejectsWriter(out, fields)
        progress = stack.enter_context(ImportProgress(sys.stderr, total))

        def all_rows() -> Iterator[Any]:
            if first is not None:
                yield first
            yield from rows

        async def work(client: AsyncSmsClient) -> ImportSummary:
            await check_list(client, list_id)
            return await run_import(
                client,
                list_id,
                all_rows(),
                rejects=writer,
                on_update=progress.update,
                batch_size=batch_size,
                concurrency=concurrency,
                clock=progress.clock,  # the import starts here, for the rate
                journal=journal,
            )

        summary = run(settings, work, **({"max_concurrency": concurrency} if concurrency else {}))
        progress.update(
            summary.rows,
            summary.added,
            summary.rejected,
            summary.failed,
            final=True,
            seconds=summary.seconds,
        )
    _print_summary(summary, rejects, as_json)
    if summary.stopped is not None:
        stopped = plural(summary.rows, "row")
        click.echo(f"error: stopped after {stopped}: {summary.stopped}", err=True)
    if summary.failed_batches or summary.stopped is not None:
        if journal is None:
            click.echo(
                "note: to make an import resumable after a crash, run it with --journal PATH",
                err=True,
            )
        sys.exit(EXIT_FAILED)


def _reject_fields(first: Row | None, fmt: str) -> list[str]:
    """The rejects file's columns: the input's own (CSV header, or the JSONL fields)."""
    if fmt == "jsonl" or first is None:
        return list(JSONL_REJECT_FIELDS) if fmt == "jsonl" else ["phone", "name"]
    return list(first.original)


def _print_summary(summary: ImportSummary, rejects: str | None, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({**attrs.asdict(summary), "rejects_file": rejects}))
        return
    batches = plural(summary.failed_batches, "failed batch", "failed batches")
    click.echo(
        f"{plural(summary.rows, 'row')}: {summary.added:,} added, {summary.rejected:,} rejected, "
        f"{summary.failed:,} in {batches} in {summary.seconds:.1f} s "
        f"({rate_text(summary.rows, summary.seconds)})"
    )
    if rejects and (summary.rejected or summary.failed):
        click.echo(f"rows not added are in {rejects}")


@members.command("export")
@click.argument("list_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-")
@pass_settings
def members_export(settings: Settings, list_id: int, fmt: str, output: str) -> None:
    """Stream every member of LIST_ID to stdout or a file."""
    with contextlib.ExitStack() as stack:

        def opened() -> IO[str]:
            return sys.stdout if output == "-" else stack.enter_context(open_output(output))

        count = run(settings, lambda c: _export(c, list_id, fmt, opened))
    if output != "-":
        click.echo(f"exported {count:,} members to {output}", err=True)


async def _export(
    client: AsyncSmsClient, list_id: int, fmt: str, opened: Callable[[], IO[str]]
) -> int:
    await check_list(client, list_id)  # before the file is opened or the header written
    out = opened()
    count = 0
    writer = csv.DictWriter(out, fieldnames=list(MEMBER_FIELDS)) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    async for member in client.members.list(list_id):
        record = member_record(member)
        if writer is not None:
            writer.writerow({**record, "vars": json.dumps(record["vars"], ensure_ascii=False)})
        else:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


@members.command("rm")
@click.argument("list_id", type=int)
@click.argument("member_ids", type=int, nargs=-1, required=True)
@pass_settings
def members_rm(settings: Settings, list_id: int, member_ids: tuple[int, ...]) -> None:
    """Remove members MEMBER_IDS from list LIST_ID."""

    async def work(client: AsyncSmsClient) -> int:
        deleted = 0
        for member_id in member_ids:
            deleted += await client.members.delete(list_id, member_id)
        return deleted

    click.echo(f"deleted {run(settings, work)} member(s)")


# --- tasks -------------------------------------------------------------------------------
