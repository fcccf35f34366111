"""``sms-async members``: import, export, rm."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

import click

from ._app import Settings, _cli_words, check_list, cli, open_output, pass_settings, run
from ._defaults import DEFAULT_BATCH_SIZE, DEFAULT_MAX_CONCURRENCY
from ._exit import EXIT_FAILED
from ._input import count_rows, delimiter_from, encoding_from, input_format, open_input

if TYPE_CHECKING:
    from .._client import AsyncSmsClient
    from .._phones import PhoneRules
    from ._import import ImportSummary

# The SDK (httpx, attrs, cattrs) and rich are imported in the commands' bodies:
# --help and argument errors do without them.

#: Allocations between two collections of the youngest generation during an import.
IMPORT_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def _young_garbage() -> Iterator[None]:
    """Collect the youngest generation less often for the block (an import).

    The rows of the batches in flight, tens of thousands of lists and dicts, live
    for a few batches: at the default threshold (700) they are promoted to the
    older generations, whose collections then walk them, and everything the
    imports made, again and again. With a larger threshold most die young (an
    import makes few reference cycles): about 12 % less CPU.
    """
    before = gc.get_threshold()
    gc.set_threshold(IMPORT_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


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
    type=click.Path(dir_okay=False, writable=True),
    help="Make the import crash-safe: record each batch in this file (SQLite); run the "
    "same command again after a crash and it resumes where it stopped, sending no row "
    "twice.",
)
@click.option(
    "--region",
    metavar="REGION",
    help="Normalize phones written as people write them (138 0013 8000, (415) 555-2671, "
    "0086 ...) to E.164, reading them as numbers of this ISO 3166 region (CN, US, GB, ...); "
    "a phone that is not a possible number is rejected with the reason. Needs "
    "sms-async[phones].",
)
@click.option(
    "--dedupe",
    is_flag=True,
    help="Reject a row whose phone (after --region) an earlier row of FILE already had.",
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
    journal: str | None,
    region: str | None,
    dedupe: bool,
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
    batches in flight, but the import cannot be resumed. Resume with the same
    --region and --dedupe.

    Phones: with --region CN, "138 0013 8000", "+86 (138) 0013-8000" and
    "0086 13800138000" are all sent as +8613800138000; without it, phones are
    sent as written (digits with an optional leading +).
    """
    from pathlib import Path

    from ._files import RejectsWriter, read_rows
    from ._import import run_import
    from ._progress import ImportProgress, plural

    try:
        phones = _phone_rules(region, dedupe)
        fmt = input_format(file, fmt)
        if delimiter is not None and fmt != "csv":
            raise ValueError("--delimiter is for CSV files")
        handle = open_input(file, encoding)
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    total = count_rows(file, fmt, handle.encoding)
    with contextlib.ExitStack() as stack:
        stack.enter_context(handle)
        try:
            rows = read_rows(handle, fmt, delimiter=delimiter)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        out = stack.enter_context(open_output(rejects)) if rejects else None
        writer = RejectsWriter(out, rows.fields)
        progress = stack.enter_context(ImportProgress(sys.stderr, total))

        async def work(client: AsyncSmsClient) -> ImportSummary:
            await check_list(client, list_id)
            return await run_import(
                client,
                list_id,
                rows,
                rejects=writer,
                on_update=progress.update,
                batch_size=batch_size,
                concurrency=concurrency,
                clock=progress.clock,  # the import starts here, for the rate
                journal=None if journal is None else Path(journal),
                phones=phones,
            )

        with _young_garbage():
            options = {"max_concurrency": concurrency} if concurrency else {}
            summary = run(settings, work, **options)
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


def _phone_rules(region: str | None, dedupe: bool) -> PhoneRules | None:
    """What ``--region`` and ``--dedupe`` ask of the reader; ``ValueError`` for a bad region."""
    if region is None and not dedupe:
        return None
    from .._errors import ConfigurationError
    from .._phones import PhoneNormalizer, PhoneRules

    try:
        normalizer = None if region is None else PhoneNormalizer(region)
    except ConfigurationError as exc:
        raise ValueError(_cli_words(str(exc))) from None
    return PhoneRules(normalizer, dedupe=dedupe)


def _print_summary(summary: ImportSummary, rejects: str | None, as_json: bool) -> None:
    from ._progress import plural, rate_text

    if as_json:
        click.echo(json.dumps({**summary._asdict(), "rejects_file": rejects}))
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
    import csv

    from ._files import MEMBER_FIELDS, member_record

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
