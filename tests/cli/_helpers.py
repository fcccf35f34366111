"""Helpers of the command line's tests."""

from pathlib import Path

from click.testing import CliRunner, Result

from sms_async.cli import cli
from sms_async.testing import FakeSmsServer

USER, KEY = "cli-user", "cli-key-0123456789-secret"


def invoke(env: dict[str, str], *args: str, stdin: str | bytes | None = None) -> Result:
    """Run ``sms-async ARGS`` in-process, with *env* and *stdin*."""
    return CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)


def import_bytes(
    fake: FakeSmsServer,
    env: dict[str, str],
    tmp_path: Path,
    data: bytes,
    *args: str,
    name: str = "m.csv",
) -> Result:
    """Import *data* as the file *name* into a new list ``imported``, with a rejects file."""
    target = fake.create_list("imported")
    source = tmp_path / name
    source.write_bytes(data)
    return invoke(
        env, "members", "import", str(target.contact_list_id), str(source),
        "--rejects", str(tmp_path / "rejects.csv"), *args,
    )  # fmt: skip


def stored(fake: FakeSmsServer) -> list[tuple[str, str | None, dict[str, str] | None]]:
    """The members of the list ``imported``: (phone, name, vars)."""
    return [(m.phone, m.name or None, m.vars or None) for m in fake.get_list("imported").ordered()]
