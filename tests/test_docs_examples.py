"""Every documented example runs: the Python blocks of README.md and docs/, and cli.md's shell.

Each page's Python blocks run in order in one namespace (as a reader would
paste them one after the other), against the fake served on a loopback port:
``SMS_ASYNC_BASE_URL`` and ``SMS_ASYNC_TASK_BASE_URL`` point at it, and the
fake's account is the docs' ``my-user`` / ``my-key``. A block with top-level
``await`` runs on the page's event loop; a block defining pytest tests runs
under pytest in a child process. The shell blocks of cli.md run with bash,
against the same fake, in a folder holding the files they name.

A block that cannot run says so, on the line just before it::

    <!-- docs-test: not-run (why) -->

and one whose commands are expected to fail says ``<!-- docs-test: exits N -->``.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from sms_async.testing import FakeClock, FakeSmsServer

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
USER, KEY = "my-user", "my-key"

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
_MARK = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>not-run|exits)\s*(?P<arg>.*?)\s*-->\s*$")


@attrs.frozen
class Block:
    page: Path
    line: int
    lang: str
    code: str
    skip: str | None = None  # why it is not run
    exits: int = 0

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    """The fenced blocks of *page*, with their docs-test marks."""
    lines = page.read_text(encoding="utf-8").splitlines()
    mark: re.Match[str] | None = None
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            found = _MARK.match(lines[index])
            if found is not None:
                mark = found
            elif lines[index].strip():
                mark = None
            index += 1
            continue
        start = index
        body: list[str] = []
        index += 1
        while index < len(lines) and not _FENCE.match(lines[index]):
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        skip, exits = None, 0
        if mark is not None and mark["what"] == "not-run":
            skip = mark["arg"].strip("() ") or "no reason given"
        elif mark is not None:
            exits = int(mark["arg"])
        mark = None
        code = textwrap.dedent("\n".join(body))
        yield Block(page, start + 1, opening["lang"], code, skip, exits)


def test_every_not_run_mark_says_why() -> None:
    unexplained = [
        block.where for page in PAGES for block in blocks(page) if block.skip == "no reason given"
    ]
    assert not unexplained


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeSmsServer, str]]:
    fake = FakeSmsServer(
        USER, KEY, clock=FakeClock(realtime=True), task_start_delay=0.05, task_duration=0.1
    )
    with fake.serve_in_thread() as url:
        yield fake, url


@pytest.fixture
def docs_env(
    served: tuple[FakeSmsServer, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> FakeSmsServer:
    fake, url = served
    fake.reset()
    for name, value in {
        "SMS_ASYNC_USER": USER,
        "SMS_ASYNC_KEY": KEY,
        "SMS_ASYNC_BASE_URL": url,
        "SMS_ASYNC_TASK_BASE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return fake


def _python_pages() -> list[Path]:
    return [page for page in PAGES if any(b.lang == "python" for b in blocks(page))]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("page", _python_pages(), ids=lambda page: page.name)
def test_the_python_examples_of_a_page_run(page: Path, docs_env: FakeSmsServer) -> None:
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    loop = asyncio.new_event_loop()
    try:
        for block in blocks(page):
            if block.lang != "python" or block.skip is not None:
                continue
            if re.search(r"^\s*(async )?def test_", block.code, re.MULTILINE):
                _run_as_pytest(block)
                continue
            try:
                code = compile(
                    block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
                )
                outcome = eval(code, namespace)  # noqa: S307 - our own documentation
                if asyncio.iscoroutine(outcome):
                    loop.run_until_complete(asyncio.wait_for(outcome, 120))
            except BaseException as exc:
                raise AssertionError(f"the example at {block.where} failed: {exc!r}") from exc
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _run_as_pytest(block: Block) -> None:
    folder = Path.cwd()
    name = f"test_docs_{block.page.stem.replace('-', '_')}_{block.line}.py"
    (folder / name).write_text(block.code, encoding="utf-8")
    (folder / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(folder)},
    )
    assert done.returncode == 0, f"the tests at {block.where} failed:\n{done.stdout}{done.stderr}"


CLI_PAGE = ROOT / "docs" / "cli.md"


def _shell_blocks() -> list[Block]:
    return [b for b in blocks(CLI_PAGE) if b.lang in ("bash", "sh", "shell", "console")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("block", _shell_blocks(), ids=lambda block: f"cli.md:{block.line}")
def test_the_shell_examples_of_the_cli_page_run(block: Block, docs_env: FakeSmsServer) -> None:
    if block.skip is not None:
        pytest.skip(block.skip)  # not-run, with its reason, as the page says
    _cli_files(docs_env)
    script = "\n".join(
        line
        for line in block.code.splitlines()
        if not re.match(r"\s*(python -m )?pip ", line)  # installing is not the example
    )
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    assert done.returncode == block.exits, (
        f"cli.md:{block.line} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    )


def _cli_files(fake: FakeSmsServer) -> None:
    """The lists and files that cli.md's examples name."""
    rows = "".join(f"+86138{i:08d},Contact {i},Paris\n" for i in range(1000))
    Path("contacts.csv").write_text("phone,name,city\n" + rows, encoding="utf-8")
    Path("contacts.jsonl").write_text(
        "".join(f'{{"phone": "+86139{i:08d}", "name": "J {i}"}}\n' for i in range(100)),
        encoding="utf-8",
    )
