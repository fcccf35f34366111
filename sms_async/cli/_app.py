"""The ``sms-async`` command (click + rich)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import logging
import re
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import attrs
import click

from .._client import AsyncSmsClient
from .._constants import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_POLL_INTERVAL,
    LOGGER_NAME,
)
from .._errors import ConfigurationError, SmsError, ValidationError
from .._models import ContactList, SmsTask
from ._exit import EXIT_FAILED, EXIT_INTERRUPTED
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

__all__ = ["cli", "main"]

T = TypeVar("T")


@attrs.define
class Settings:
    """The global options, passed to every command."""

    user: str | None
    key: str | None = attrs.field(repr=False)  # never shown
    base_url: str | None
    task_base_url: str | None
    debug: bool

    def client(self, **options: Any) -> AsyncSmsClient:
        """A client from the flags, falling back to the SMS_ASYNC_* environment."""
        return AsyncSmsClient(
            self.user,
            self.key,
            base_url=self.base_url,
            task_base_url=self.task_base_url,
            **options,
        )


pass_settings = click.make_pass_decorator(Settings)


def run(settings: Settings, work: Callable[[AsyncSmsClient], Awaitable[T]], **options: Any) -> T:
    """Run *work* with a client; turn SDK errors into one clear line and exit 1."""

    async def main() -> T:
        async with settings.client(**options) as client:
            return await work(client)

    try:
        return asyncio.run(main())
    except (ConfigurationError, ValidationError) as exc:
        raise click.UsageError(_cli_words(str(exc))) from None
    except SmsError as exc:
        if settings.debug:
            traceback.print_exc()
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except TimeoutError:
        click.echo("error: TimeoutError: gave up waiting (--timeout)", err=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


_SDK_WORDS = {
    "pass sms_user=": "pass --user",
    "pass sms_key=": "pass --key",
    "task_base_url ": "--task-base-url ",
    "base_url ": "--base-url ",
    "contact_list_name ": "the list name ",
    "task_name ": "--task-name ",
    "template_id ": "--template-id ",
    "description ": "--description ",
}
_SDK_WORD = re.compile("|".join(rf"(?<![\w-]){re.escape(word)}" for word in _SDK_WORDS))


def _cli_words(message: str) -> str:
    """Say the flags' names where the SDK's message names its arguments."""
    return _SDK_WORD.sub(lambda match: _SDK_WORDS[match.group(0)], message)


def open_output(path: str) -> IO[str]:
    """Open *path* for writing, or raise a usage error that says why it cannot be."""
    try:
        return open(path, "w", encoding="utf-8", errors="surrogateescape", newline="")
    except OSError as exc:
        raise click.UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


async def check_list(client: AsyncSmsClient, list_id: int) -> None:
    """Fail fast on a list that does not exist (one small request)."""
    async for _ in client.members.list(list_id, max_items=1):
        break


def setup_logging(debug: bool) -> None:
    """Retries show as one ``WARNING:`` line each; ``--debug`` shows every request."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    sdk = logging.getLogger(LOGGER_NAME)
    sdk.handlers[:] = [handler]
    sdk.setLevel(logging.DEBUG if debug else logging.WARNING)
    sdk.propagate = False


def print_objects(items: list[Any], as_json: bool, columns: tuple[str, ...]) -> None:
    """Print attrs objects as a table, or as JSON with ``--json``."""
    records = [_jsonable(attrs.asdict(item)) for item in items]
    if as_json:
        click.echo(json.dumps(records if len(records) != 1 else records[0], ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for record in records:
        table.add_row(*(str(record[column]) for column in columns))
    Console().print(table)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, str):
        return value.name  # enums
    return value


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--user", envvar="SMS_ASYNC_USER", help="API user [env SMS_ASYNC_USER].")
@click.option(
    "--key", envvar="SMS_ASYNC_KEY", help="API key [env SMS_ASYNC_KEY].", show_envvar=False
)
@click.option("--base-url", envvar="SMS_ASYNC_BASE_URL", help="v1 API URL.")
@click.option("--task-base-url", envvar="SMS_ASYNC_TASK_BASE_URL", help="smsapi URL.")
@click.option("--debug", is_flag=True, help="Show tracebacks and a DEBUG line per request.")
@click.version_option(package_name="sms-async")
@click.pass_context
def cli(
    ctx: click.Context,
    user: str | None,
    key: str | None,
    base_url: str | None,
    task_base_url: str | None,
    debug: bool,
) -> None:
    """Manage SMS contact lists, members and tasks."""
    setup_logging(debug)
    ctx.obj = Settings(user, key, base_url, task_base_url, debug)


# --- lists -------------------------------------------------------------------------------

LIST_COLUMNS = ("contact_list_id", "contact_list_name", "description", "member_count")


@cli.group()
def lists() -> None:
    """Contact lists: ls, create, update, rm."""


@lists.command("ls")
@click.option("--name", help="Only lists whose name contains this.")
@click.option("--max", "max_items", type=click.IntRange(min=0), help="At most this many.")
@json_option
@pass_settings
def lists_ls(settings: Settings, name: str | None, max_items: int | None, as_json: bool) -> None:
    """List the contact lists."""

    async def work(client: AsyncSmsClient) -> list[ContactList]:
        pager = client.contact_lists.list(contact_list_name=name, max_items=max_items)
        return [item async for item in pager]

    items = run(settings, work)
    if as_json:
        click.echo(json.dumps([_jsonable(attrs.asdict(i)) for i in items], ensure_ascii=False))
    else:
        print_objects(items, False, LIST_COLUMNS)


@lists.command("create")
@click.argument("name")
@click.option("--description", help="At most 255 characters.")
@json_option
@pass_settings
def lists_create(settings: Settings, name: str, description: str | None, as_json: bool) -> None:
    """Create a contact list named NAME."""
    created = run(
        settings,
        lambda c: c.contact_lists.create(contact_list_name=name, description=description),
    )
    print_objects([created], as_json, LIST_COLUMNS)


@lists.command("update")
@click.argument("list_id", type=int)
@click.option("--name", help="The new name.")
@click.option("--description", help="The new description.")
@pass_settings
def lists_update(
    settings: Settings, list_id: int, name: str | None, description: str | None
) -> None:
    """Rename a list or change its description."""
    if name is None and description is None:
        raise click.UsageError("give --name and/or --description")
    run(
        settings,
        lambda c: c.contact_lists.update(list_id, contact_list_name=name, description=description),
    )
    click.echo(f"updated list {list_id}")


@lists.command("rm")
@click.argument("list_id", type=int)
@pass_settings
def lists_rm(settings: Settings, list_id: int) -> None:
    """Delete a contact list."""
    run(settings, lambda c: c.contact_lists.delete(list_id))
    click.echo(f"deleted list {list_id}")


# --- members -----------------------------------------------------------------------------


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

TASK_COLUMNS = ("task_id", "task_name", "contact_list_name", "member_count", "status", "raw_status")


@cli.group()
def tasks() -> None:
    """Tasks: send, status, wait."""


@tasks.command("send")
@click.argument("list_names", nargs=-1, required=True)
@click.option("--task-name", required=True)
@click.option("--template-id", type=int, required=True)
@click.option("--sender-name")
@click.option(
    "--execute-time",
    type=click.DateTime(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]),
    help="When to run, on the API's clock (UTC+8). Default: now.",
)
@json_option
@pass_settings
def tasks_send(
    settings: Settings,
    list_names: tuple[str, ...],
    task_name: str,
    template_id: int,
    sender_name: str | None,
    execute_time: datetime | None,
    as_json: bool,
) -> None:
    """Send template --template-id to every member of LIST_NAMES."""
    task = run(
        settings,
        lambda c: c.tasks.send(
            contact_list_name=list(list_names),
            task_name=task_name,
            template_id=template_id,
            sender_name=sender_name,
            execute_time=execute_time,
        ),
    )
    print_objects([task], as_json, TASK_COLUMNS)


@tasks.command("status")
@click.argument("task_id", type=int)
@json_option
@pass_settings
def tasks_status(settings: Settings, task_id: int, as_json: bool) -> None:
    """Show a task."""
    task: SmsTask = run(settings, lambda c: c.tasks.get(task_id))
    print_objects([task], as_json, TASK_COLUMNS)


@tasks.command("wait")
@click.argument("task_id", type=int)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0),
    default=DEFAULT_POLL_INTERVAL,
    show_default=True,
)
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds.")
@json_option
@pass_settings
def tasks_wait(
    settings: Settings, task_id: int, poll_interval: float, timeout: float | None, as_json: bool
) -> None:
    """Wait until a task has succeeded or failed; exit 1 if it failed."""
    task: SmsTask = run(
        settings, lambda c: c.tasks.wait(task_id, poll_interval=poll_interval, timeout=timeout)
    )
    print_objects([task], as_json, TASK_COLUMNS)
    if task.status.name == "FAILED":
        sys.exit(EXIT_FAILED)


def main() -> None:
    """Entry point of the ``sms-async`` command."""
    from ._demo import demo

    cli.add_command(demo)
    cli(prog_name="sms-async")
