"""Every documented example runs: the Python blocks of README.md and docs/, and cli.md's shell.

Each page's Python blocks run in order in one namespace (as a reader would
paste them one after the other), against the fake served on a loopback port:
``SMS_ASYNC_BASE_URL`` and ``SMS_ASYNC_TASK_BASE_URL`` point at it, and the
fake's account is the docs' ``my-user`` / ``my-key``. A block with top-level
``await`` runs on the page's event loop; a block defining pytest tests runs
under pytest in a child process. A page whose examples read ``REDIS_URL`` gets
a redis-server of its own on a loopback port. The shell blocks of cli.md run
with bash, in page order, against one fake that they change as the page tells
its story, in a folder holding the files they name.

A block that cannot run says so, on the line just before it::

    <!-- docs-test: not-run (why) -->

one whose commands are expected to fail says ``<!-- docs-test: exits N -->``,
and a text block that shows a file a reader has (``contacts.csv`` is: ...)
says ``<!-- docs-test: file NAME -->``: that file is written with the block's
text before the page's first example runs, and again where the page shows it
(after an example that changed it, the reader's edit). A file a page includes
with ``--8<-- "path"`` is run as part of its block and put in the folder under
its own name, as a reader who copies it would have it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gzip
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from sms_async.testing import FakeClock, FakeSmsServer

from .contrib.conftest import RedisProcess

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CLI_PAGE = ROOT / "docs" / "cli.md"
USER, KEY = "my-user", "my-key"
SHELLS = ("bash", "sh", "shell", "console")

_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")
_MARK = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<what>not-run|exits|file)\s*(?P<arg>.*?)\s*-->\s*$")
_SNIPPET = re.compile(r'^\s*-{2,}8<-{2,}\s*"(?P<path>[^"]+)"\s*$')


@attrs.frozen
class Block:
    page: Path
    line: int
    lang: str
    code: str
    skip: str | None = None  # why it is not run
    exits: int = 0
    file: str | None = None  # the name of the reader's file it shows
    includes: tuple[Path, ...] = ()  # the files it includes with --8<--

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    """The fenced blocks of *page*, with their docs-test marks and includes resolved."""
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
        includes: list[Path] = []
        index += 1
        while index < len(lines) and not _FENCE.match(lines[index]):
            snippet = _SNIPPET.match(lines[index])
            if snippet is None:
                body.append(lines[index])
            else:  # as mkdocs' snippets extension does, from the repository's root
                included = ROOT / snippet["path"]
                includes.append(included)
                body.extend(included.read_text(encoding="utf-8").splitlines())
            index += 1
        index += 1  # the closing fence
        skip, exits, file = None, 0, None
        if mark is not None and mark["what"] == "not-run":
            skip = mark["arg"].strip("() ") or "no reason given"
        elif mark is not None and mark["what"] == "exits":
            exits = int(mark["arg"])
        elif mark is not None:
            file = mark["arg"]
        mark = None
        code = textwrap.dedent("\n".join(body))
        yield Block(page, start + 1, opening["lang"], code, skip, exits, file, tuple(includes))


def test_every_not_run_mark_says_why() -> None:
    unexplained = [
        block.where for page in PAGES for block in blocks(page) if block.skip == "no reason given"
    ]
    assert not unexplained


def test_every_file_mark_names_a_file() -> None:
    bad = [
        block.where
        for page in PAGES
        for block in blocks(page)
        if block.file is not None and not re.fullmatch(r"[\w.-]+", block.file)
    ]
    assert not bad


# --- the reader's files and environment -------------------------------------------------------


def _write_file(block: Block, folder: Path) -> None:
    assert block.file is not None
    (folder / block.file).write_text(block.code + "\n", encoding="utf-8")


def _reader_files(page: Path, folder: Path) -> None:
    """The files a page's examples read: those it shows, and a few it only names."""
    rows = "".join(f"+86135{i:08d},Customer {i},Paris\n" for i in range(5000))
    (folder / "customers.csv").write_text("phone,name,city\n" + rows, encoding="utf-8")
    rows = "".join(f"+86132{i:08d},Member {i}\n" for i in range(500))
    (folder / "members.csv").write_text("phone,name\n" + rows, encoding="utf-8")
    lines = "".join(f'{{"phone": "+86137{i:08d}", "name": "J {i}"}}\n' for i in range(100))
    (folder / "members.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    for block in blocks(page):
        if block.file is not None:
            _write_file(block, folder)


@contextlib.contextmanager
def _served_fake() -> Iterator[tuple[FakeSmsServer, str]]:
    """A fresh fake on a loopback port: ids from 1001, tasks that end as soon as sent."""
    fake = FakeSmsServer(
        USER, KEY, clock=FakeClock(realtime=True), task_start_delay=0, task_duration=0
    )
    with fake.serve_in_thread() as url:
        yield fake, url


def _env(url: str) -> dict[str, str]:
    return {
        "SMS_ASYNC_USER": USER,
        "SMS_ASYNC_KEY": KEY,
        "SMS_ASYNC_BASE_URL": url,
        "SMS_ASYNC_TASK_BASE_URL": url,
    }


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Examples configure logging (basicConfig, levels): undo it for the tests that follow."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.setLevel(levels.get(name, logging.NOTSET))


# --- the Python examples ----------------------------------------------------------------------


def _python_pages() -> list[Path]:
    return [page for page in PAGES if any(b.lang == "python" for b in blocks(page))]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("page", _python_pages(), ids=lambda page: page.name)
def test_the_python_examples_of_a_page_run(
    page: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    _reader_files(page, tmp_path)
    runnable = [b for b in blocks(page) if b.lang == "python" and b.skip is None]
    with contextlib.ExitStack() as stack:
        _, url = stack.enter_context(_served_fake())
        for name, value in _env(url).items():
            monkeypatch.setenv(name, value)
        if any("REDIS_URL" in block.code for block in runnable):
            redis = RedisProcess()
            stack.callback(redis.stop)
            monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{redis.port}/0")
        stack.enter_context(_logging_restored())
        _run_python_blocks(page, tmp_path)


def _run_python_blocks(page: Path, folder: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    loop = asyncio.new_event_loop()
    try:
        for block in blocks(page):
            if block.file is not None:
                _write_file(block, folder)
            if block.lang != "python" or block.skip is not None:
                continue
            for included in block.includes:
                shutil.copyfile(included, folder / included.name)
            if re.search(r"^\s*(async )?def test_", block.code, re.MULTILINE):
                _run_as_pytest(block)
                continue
            try:
                code = compile(
                    block.code, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
                )
                outcome = eval(code, namespace)  # our own documentation
                if asyncio.iscoroutine(outcome):
                    loop.run_until_complete(asyncio.wait_for(outcome, 120))
            except BaseException as exc:
                raise AssertionError(f"the example at {block.where} failed: {exc!r}") from exc
    finally:
        # As a program's asyncio.run() ends: the tasks still running (a Redis
        # limiter's connection task, say) are cancelled, and finish, before the
        # loop closes.
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
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
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), *_pythonpath()])},
    )
    assert done.returncode == 0, f"the tests at {block.where} failed:\n{done.stdout}{done.stderr}"


def _pythonpath() -> list[str]:
    return [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]


# --- the shell examples of cli.md -------------------------------------------------------------


def _shell_blocks() -> list[Block]:
    return [b for b in blocks(CLI_PAGE) if b.lang in SHELLS]


def _script(block: Block) -> str:
    """The block's commands, without its ``pip`` lines: installing is not the example."""
    return "\n".join(
        line for line in block.code.splitlines() if not re.match(r"\s*(python -m )?pip ", line)
    )


@pytest.fixture(scope="module")
def cli_page_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[int, subprocess.CompletedProcess[str]]:
    """Run cli.md's shell blocks in page order, on one fake, in one folder.

    The page tells a story (the first list created is 1001, the first task
    9001, later examples import into them), so each block runs in the state
    the blocks before it left. Every block runs, whatever the others did; each
    test then checks its own block.
    """
    folder = tmp_path_factory.mktemp("cli")
    _reader_files(CLI_PAGE, folder)
    done: dict[int, subprocess.CompletedProcess[str]] = {}
    with _served_fake() as (_, url):
        env = {
            **os.environ,
            **_env(url),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        for block in blocks(CLI_PAGE):
            if block.file is not None:
                _write_file(block, folder)
            if block.lang not in SHELLS or block.skip is not None or not _script(block):
                continue
            done[block.line] = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", _script(block)],
                cwd=folder,
                input=f"{KEY}\n",  # what the reader types when a command reads the key
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=env,
            )
    return done


@pytest.mark.timeout(300)  # the first test runs the whole page
@pytest.mark.parametrize(
    "block",
    # Blocks marked not-run (with their reason, checked above) and blocks of
    # nothing but pip lines (installing is not the example) are not collected.
    [b for b in _shell_blocks() if b.skip is None and _script(b)],
    ids=lambda block: f"cli.md:{block.line}",
)
def test_the_shell_examples_of_the_cli_page_run(
    block: Block, request: pytest.FixtureRequest
) -> None:
    done = request.getfixturevalue("cli_page_run")[block.line]
    assert done.returncode == block.exits, (
        f"cli.md:{block.line} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    )
