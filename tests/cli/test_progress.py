"""The progress line and the summary (``_progress.py``)."""

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from sms_async.cli._import import ImportSummary
from sms_async.cli._members import _print_summary
from sms_async.cli._progress import ImportProgress, plural, rate_text
from sms_async.testing import FakeSmsServer

from ._helpers import import_bytes, invoke

# --- progress ----------------------------------------------------------------------------


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def running(clock: Clock, console: Console, total: int | None = 20_000) -> ImportProgress:
    """A progress 4 s into an import of *total* rows, 18,018 of them read."""
    progress = ImportProgress(io.StringIO(), total, clock=clock, console=console)
    clock.now += 7.0  # the client starts and checks the list: not part of the import
    progress.clock()  # run_import's first reading: the import starts
    clock.now += 4.0
    progress.update(18_018, 10_000, 18, 3)
    return progress


def lines_of(output: str) -> list[str]:
    """The lines a terminal shows, styles and cursor moves left out."""
    shown = (Text.from_ansi(line).plain for line in re.split(r"[\r\n]", output))
    return [line for line in shown if line]


@pytest.mark.parametrize("width", [120, 80, 60])
def test_the_progress_line_fits_the_terminal(width: int) -> None:
    out = io.StringIO()
    console = Console(width=width, force_terminal=True, file=out)
    progress = running(Clock(), console)
    console.print(progress.render(console, width))
    (line,) = lines_of(out.getvalue())
    assert len(line) <= width
    assert re.search("[━╸╺]{10,}", line), line  # the bar, at least 10 wide
    for count in ("18,018/20,000 rows", "18 rejected", "3 failed"):
        assert count in line
    if width >= 80:
        assert "10,000 added" in line
        assert "ETA 0:01" in line  # 1,982 rows left at 4,504 rows/s
    if width >= 120:
        assert "4,504 rows/s" in line
        assert "0:04 elapsed" in line


@pytest.mark.parametrize("width", [120, 80, 60])
def test_the_live_bar_on_a_terminal(width: int) -> None:
    out = io.StringIO()
    clock = Clock()
    console = Console(width=width, force_terminal=True, file=out)
    with running(clock, console) as progress:
        clock.now += 1.0
        progress.update(20_000, 19_979, 18, 3, final=True, seconds=5.0)
    shown = lines_of(out.getvalue())
    assert all(len(line) <= width for line in shown), shown
    assert "20,000/20,000 rows" in shown[-1]
    assert "━━━━━━━━━━" in shown[-1]
    assert "ETA" not in shown[-1]  # it has ended
    if width >= 120:
        assert "4,000 rows/s  0:05 elapsed" in shown[-1]  # the summary's rate and time


def test_fields_go_in_order_as_the_terminal_narrows() -> None:
    marks = {
        "label": "importing",
        "elapsed": "elapsed",
        "rate": "rows/s",
        "added": "10,000 added",
        "eta": "ETA",
        "rejected": "18 rejected",
        "failed": "3 failed",
        "bar": "━",
    }
    console = Console(width=200, force_terminal=True, file=io.StringIO())
    progress = running(Clock(), console)
    gone: list[str] = []
    shown_before = set(marks)
    for width in range(200, 9, -1):
        line = progress.render(console, width).plain
        assert len(line) <= width
        shown = {field for field, mark in marks.items() if mark in line}
        assert shown <= shown_before, (width, line)  # nothing comes back
        gone += [field for field in marks if field in shown_before - shown]
        shown_before = shown
        if width >= 18:
            assert "18,018/20,000 rows" in line  # the one field that always stays
    assert gone == ["label", "elapsed", "rate", "added", "eta", "rejected", "failed", "bar"]


def test_the_layout_holds_as_the_numbers_grow() -> None:
    console = Console(width=80, force_terminal=True, file=io.StringIO())
    progress = ImportProgress(io.StringIO(), 500_000, clock=Clock(), console=console)
    progress.clock()
    first = progress.render(console, 80).plain
    progress.update(499_000, 498_000, 0, 0)
    last = progress.render(console, 80).plain
    assert "      0/500,000 rows        0 added" in first  # as wide as the total, from the start
    assert "499,000/500,000 rows  498,000 added" in last
    assert first.index("/500,000 rows") == last.index("/500,000 rows")


def test_without_a_total_the_bar_pulses_and_there_is_no_eta() -> None:
    console = Console(width=80, force_terminal=True, file=io.StringIO())
    line = running(Clock(), console, total=None).render(console, 80).plain
    assert "18,018 rows" in line
    assert "━" in line
    assert "ETA" not in line


def test_the_live_rate_is_rows_over_the_time_since_the_import_started(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    clock = Clock(50.0)
    progress = ImportProgress(out, 10_000, clock=clock, console=Console(file=out, width=200))
    clock.now = 60.0  # the client starts and checks the list: not part of the import
    started = progress.clock()
    clock.now = 64.0
    progress.update(2_000, 1_000, 0, 0)
    assert out.getvalue() == (
        "importing: 2,000/10,000 rows, 1,000 added, 0 rejected, 0 failed, 500 rows/s, ETA 16 s\n"
    )
    # the summary computes its rate the same way: rows over the import's wall time
    summary = ImportSummary(2_000, 2_000, 0, 0, 0, seconds=clock() - started)
    _print_summary(summary, None, as_json=False)
    assert capsys.readouterr().out == (
        "2,000 rows: 2,000 added, 0 rejected, 0 in 0 failed batches in 4.0 s (500 rows/s)\n"
    )


def test_the_last_progress_line_and_the_summary_agree(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    rows = "".join(f"+1555{i:07d}\n" for i in range(50))
    result = import_bytes(fake, env, tmp_path, f"phone\n{rows}".encode())
    assert result.exit_code == 0, result.output
    last = re.search(r"^importing: 50/50 rows, .* ([\d,]+ rows/s)$", result.stderr, re.M)
    summary = re.search(r"^50 rows: .* \(([\d,]+ rows/s)\)$", result.stdout, re.M)
    assert last is not None, result.stderr
    assert summary is not None, result.stdout
    assert last.group(1) == summary.group(1)


def test_plurals() -> None:
    assert [plural(n, "row") for n in (0, 1, 2, 1000)] == [
        "0 rows",
        "1 row",
        "2 rows",
        "1,000 rows",
    ]
    assert plural(1, "failed batch", "failed batches") == "1 failed batch"
    assert plural(2, "failed batch", "failed batches") == "2 failed batches"
    assert [rate_text(n, 1.0) for n in (0, 1, 2, 2807)] == [
        "0 rows/s",
        "1 row/s",
        "2 rows/s",
        "2,807 rows/s",
    ]
    console = Console(width=120, force_terminal=True, file=io.StringIO())
    progress = ImportProgress(io.StringIO(), 1, clock=Clock(), console=console)
    progress.update(1, 1, 0, 0, final=True, seconds=1.0)
    assert "1/1 row  1 added  0 rejected  0 failed  1 row/s" in progress.render(console, 120).plain


def test_one_row_in_one_failed_batch_is_singular(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    fake.fail_next("members.add", "401")
    result = import_bytes(fake, env, tmp_path, b"phone\n+15550000001\n")
    assert result.exit_code == 1
    assert "importing: 1/1 row, 0 added, 0 rejected, 1 failed, " in result.stderr
    assert result.stdout.startswith("1 row: 0 added, 0 rejected, 1 in 1 failed batch in ")
    assert "error: stopped after 1 row: AuthenticationError" in result.stderr


def test_plain_progress_lines_when_not_a_terminal(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("progress")
    source = tmp_path / "m.csv"
    source.write_text("phone\n" + "".join(f"+1555{i:07d}\n" for i in range(50)), encoding="utf-8")
    result = invoke(env, "members", "import", str(target.contact_list_id), str(source))
    assert result.exit_code == 0
    assert "importing: 50/50 rows, 50 added, 0 rejected, 0 failed" in result.stderr
