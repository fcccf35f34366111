"""``--help`` and argument errors import none of the SDK's HTTP stack or models."""

import json
import subprocess
import sys

import pytest

from sms_async import _constants
from sms_async.cli import _defaults

#: What printing help or a usage error must not import (the SDK's client, models, converter).
HEAVY = ("httpx", "attrs", "cattrs", "stamina")

PROBE = """
import json, sys
args, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["sms-async", *args]
from sms_async.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = [name for name in watched if name in sys.modules]
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "heavy": heavy}) + "\\n")
"""


def probe(*args: str) -> tuple[int, list[str], str]:
    """Run ``sms-async ARGS`` in a fresh interpreter: exit code, heavy modules loaded, stderr."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(done.stderr.rsplit("PROBE ", 1)[1])
    return report["code"], report["heavy"], done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("members", "import", "--help"),
        ("members", "--help"),
        ("lists", "ls", "--help"),
        ("tasks", "send", "--help"),
        ("demo", "--help"),
    ],
    ids=" ".join,
)
def test_help_imports_no_sdk(args: tuple[str, ...]) -> None:
    code, heavy, _ = probe(*args)
    assert code == 0
    assert heavy == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("members", "import", "1"), "Missing argument 'FILE'"),
        (("tasks", "send", "promo", "--template-id", "1"), "Missing option '--task-name'"),
        (
            ("members", "import", "1", "m.csv", "--batch-size", "0"),
            "Invalid value for '--batch-size'",
        ),
        (
            ("members", "import", "1", "m.csv", "--delimiter", "ab"),
            "Invalid value for '--delimiter'",
        ),
        (("nope",), "No such command 'nope'"),
    ],
)
def test_argument_errors_import_no_sdk(args: tuple[str, ...], message: str) -> None:
    code, heavy, stderr = probe(*args)
    assert code == 2
    assert message in stderr
    assert heavy == []


def test_the_defaults_shown_are_the_sdks() -> None:
    for name in ("DEFAULT_BATCH_SIZE", "DEFAULT_MAX_CONCURRENCY", "DEFAULT_POLL_INTERVAL"):
        assert getattr(_defaults, name) == getattr(_constants, name), name
    assert _defaults.LOGGER_NAME == _constants.LOGGER_NAME
