"""The ``sms-async`` command (click + rich)."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from ._defaults import DEFAULT_POLL_INTERVAL, LOGGER_NAME
from ._exit import EXIT_FAILED, EXIT_INTERRUPTED

if TYPE_CHECKING:
    from .._client import AsyncSmsClient
    from .._models import ContactList, SmsTask

# Only click and the standard library at import time: the SDK (httpx, attrs, cattrs)
# is imported when a command runs, so that --help and argument errors do without it.

__all__ = ["cli", "main"]

T = TypeVar("T")


class Settings:
    """The global options, passed to every command.

    Attributes:
        user: ``--user``, or ``None`` for the environment's.
        key: ``--key``, or ``None``; never shown (not in the repr).
        base_url: ``--base-url``, or ``None``.
        task_base_url: ``--task-base-url``, or ``None``.
        debug: ``--debug``.
    """

    __slots__ = ("base_url", "debug", "key", "task_base_url", "user")

    def __init__(
        self,
        user: str | None,
        key: str | None,
        base_url: str | None,
        task_base_url: str | None,
        debug: bool,
    ) -> None:
        self.user = user
        self.key = key
        self.base_url = base_url
        self.task_base_url = task_base_url
        self.debug = debug

    def __repr__(self) -> str:
        return (
            f"Settings(user={self.user!r}, base_url={self.base_url!r}, "
            f"task_base_url={self.task_base_url!r}, debug={self.debug!r})"
        )

    def client(self, **options: Any) -> AsyncSmsClient:
        """A client from the flags, falling back to the SMS_ASYNC_* environment."""
        from .._client import AsyncSmsClient

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
    import asyncio
    import traceback

    from .._errors import ConfigurationError, SmsError, ValidationError

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
    "default_region ": "--region ",
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
    import attrs

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
TASK_COLUMNS = ("task_id", "task_name", "contact_list_name", "member_count", "status", "raw_status")


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
        import attrs

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


# The members commands live in their own module; importing it registers them on
# `cli` (so it must come after `cli` is defined: E402), and nothing here uses the
# name (F401).
from . import _members  # noqa: E402, F401
