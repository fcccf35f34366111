"""The import's reader (delimiters, headers, encodings) and its progress line."""

import codecs
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from rich.text import Text

from sms_async.cli import cli
from sms_async.cli._app import _print_summary
from sms_async.cli._files import delimiter_from, encoding_from, open_input, read_rows
from sms_async.cli._import import ImportSummary
from sms_async.cli._progress import ImportProgress, plural, rate_text
from sms_async.testing import FakeSmsServer

USER, KEY = "cli-user", "cli-key-0123456789-secret"


@pytest.fixture
def fake() -> FakeSmsServer:
    return FakeSmsServer(USER, KEY)


@pytest.fixture
def env(fake: FakeSmsServer) -> Iterator[dict[str, str]]:
    with fake.serve_in_thread() as url:
        yield {
            "SMS_ASYNC_USER": USER,
            "SMS_ASYNC_KEY": KEY,
            "SMS_ASYNC_BASE_URL": url,
            "SMS_ASYNC_TASK_BASE_URL": url,
        }


def invoke(env: dict[str, str], *args: str, stdin: bytes | None = None) -> Result:
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
    return [(m.phone, m.name or None, m.vars or None) for m in fake.get_list("imported").ordered()]


# --- delimiters --------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path, delimiter: str
) -> None:
    d = delimiter
    text = f'phone{d}name{d}city\n+15550000001{d}Li{d}Paris\n+15550000002{d}"Sun{d} Jr."{d}Rome\n'
    result = import_bytes(fake, env, tmp_path, text.encode())
    assert result.exit_code == 0, result.output
    assert stored(fake) == [
        ("+15550000001", "Li", {"city": "Paris"}),
        ("+15550000002", f"Sun{d} Jr.", {"city": "Rome"}),
    ]


def test_a_file_of_one_column_falls_back_to_a_comma(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    result = import_bytes(fake, env, tmp_path, b"phone\n+15550000001\n+15550000002\n")
    assert result.exit_code == 0, result.output
    assert [phone for phone, _, _ in stored(fake)] == ["+15550000001", "+15550000002"]


def test_delimiter_option(fake: FakeSmsServer, env: dict[str, str], tmp_path: Path) -> None:
    data = b"phone:name:city\n+15550000001:Li:Paris\n"
    sniffed = import_bytes(fake, env, tmp_path, data)
    assert sniffed.exit_code == 2
    assert (
        "the header has no 'phone' column; columns found: phone:name:city "
        "(if the columns are separated by another character, pass --delimiter)"
    ) in sniffed.stderr
    given = invoke(
        env, "members", "import", str(fake.get_list("imported").contact_list_id),
        str(tmp_path / "m.csv"), "--delimiter", ":",
    )  # fmt: skip
    assert given.exit_code == 0, given.output
    assert stored(fake) == [("+15550000001", "Li", {"city": "Paris"})]


def test_delimiter_option_is_used_instead_of_sniffing(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    result = import_bytes(fake, env, tmp_path, b"phone;name\n+15550000001;Li\n", "--delimiter", ",")
    assert result.exit_code == 2
    assert "the header has no 'phone' column; columns found: phone;name" in result.stderr


def test_a_header_with_the_sniffers_guess_as_a_cell_value(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    # csv.Sniffer guesses a comma here; the header shows it is not
    data = b"phone;name,title\n+15550000001;Li,Dr\n+15550000002;Wang,Ms\n"
    result = import_bytes(fake, env, tmp_path, data)
    assert result.exit_code == 0, result.output
    assert stored(fake) == [
        ("+15550000001", None, {"name,title": "Li,Dr"}),
        ("+15550000002", None, {"name,title": "Wang,Ms"}),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("tab", "\t"), ("TAB", "\t"), ("\\t", "\t"), ("\t", "\t"), (";", ";"), (" ", " ")],
)
def test_delimiter_names(value: str, expected: str) -> None:
    assert delimiter_from(value) == expected


def test_a_tab_by_name_on_the_command_line(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    # commas in every line: csv.Sniffer alone would pick them; --delimiter tab says tabs
    data = b"phone\tname, title\n+15550000001\tLi, Dr\n+15550000002\tWang, Ms\n"
    result = import_bytes(fake, env, tmp_path, data, "--delimiter", "tab")
    assert result.exit_code == 0, result.output
    assert stored(fake) == [
        ("+15550000001", None, {"name, title": "Li, Dr"}),
        ("+15550000002", None, {"name, title": "Wang, Ms"}),
    ]


@pytest.mark.parametrize("value", ["", "ab", "comma", '"', "\n"])
def test_a_bad_delimiter_is_a_usage_error(env: dict[str, str], tmp_path: Path, value: str) -> None:
    (tmp_path / "m.csv").write_text("phone\n+15550000001\n", encoding="utf-8")
    result = invoke(env, "members", "import", "1", str(tmp_path / "m.csv"), "--delimiter", value)
    assert result.exit_code == 2
    assert "Invalid value for '--delimiter'" in result.stderr


def test_delimiter_is_for_csv_only(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text('{"phone": "+15550000001"}\n', encoding="utf-8")
    result = invoke(env, "members", "import", "1", str(tmp_path / "m.jsonl"), "--delimiter", ";")
    assert result.exit_code == 2
    assert "--delimiter is for CSV files" in result.stderr


# --- headers -----------------------------------------------------------------------------


def test_phone_and_name_columns_match_in_any_case_and_with_spaces(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    data = b" PHONE ;Name ; City \n+15550000001;Li;Paris\nnot-a-phone;X;Rome\n"
    result = import_bytes(fake, env, tmp_path, data)
    assert result.exit_code == 0, result.output
    assert stored(fake) == [("+15550000001", "Li", {"City": "Paris"})]
    rejects = (tmp_path / "rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0] == " PHONE ,Name , City ,reason"  # the input's own header
    assert rejects[1].startswith("not-a-phone,X,Rome,invalid: phone")


def test_phone_capitalised(fake: FakeSmsServer, env: dict[str, str], tmp_path: Path) -> None:
    result = import_bytes(fake, env, tmp_path, b"Phone,Name\n+15550000001,Li\n")
    assert result.exit_code == 0, result.output
    assert stored(fake) == [("+15550000001", "Li", None)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"Name,Mobile,City\nLi,+15550000001,Paris\n",
            "the header has no 'phone' column; columns found: Name, Mobile, City",
        ),
        (
            b"Phone,Name,City, phone\n+15550000001,Li,Paris,+15550000002\n",
            "the header has the 'phone' column twice (columns 1 and 4); "
            "columns found: Phone, Name, City, phone",
        ),
        (
            b"phone,NAME,name,Name\n+15550000001,a,b,c\n",
            "the header has the 'name' column 3 times (columns 2, 3 and 4); "
            "columns found: phone, NAME, name, Name",
        ),
        (b"", "the file is empty: a header row with a 'phone' column is needed"),
        (b"\r\n\n", "the file is empty: a header row with a 'phone' column is needed"),
    ],
    ids=["no-phone", "phone-twice", "name-three-times", "empty", "blank-lines"],
)
def test_header_problems_are_usage_errors(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path, data: bytes, message: str
) -> None:
    result = import_bytes(fake, env, tmp_path, data)
    assert result.exit_code == 2
    assert f"Error: {message}\n" in result.stderr
    assert fake.stats.requests.get("members.add", 0) == 0


def test_a_header_not_valid_in_the_encoding_is_a_usage_error(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    data = b"phone,caf\x81\n+15550000001,x\n"
    result = import_bytes(fake, env, tmp_path, data, "--encoding", "cp1252")
    assert result.exit_code == 2
    assert "Error: the CSV header row is not valid cp1252" in result.stderr


def test_a_wide_header_lists_its_first_columns(tmp_path: Path) -> None:
    source = tmp_path / "m.csv"
    source.write_text(",".join(f"c{i}" for i in range(30)) + "\n", encoding="utf-8")
    with open_input(str(source)) as handle, pytest.raises(ValueError, match=r"c19 and 10 more$"):
        next(read_rows(handle, "csv"))


# --- encodings ---------------------------------------------------------------------------

TEXT = "phone,name,city\r\n+15550000001,Zoë,Paris\r\n+15550000002,李雷,北京\r\n"
STORED = [
    ("+15550000001", "Zoë", {"city": "Paris"}),
    ("+15550000002", "李雷", {"city": "北京"}),
]


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF16_LE + TEXT.replace(",", "\t").encode("utf-16-le"),  # Excel's Unicode text
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
    ],
    ids=["utf-16-le", "utf-16-be", "utf-8-bom", "utf-32-le"],
)
def test_a_byte_order_mark_sets_the_encoding(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path, data: bytes
) -> None:
    result = import_bytes(fake, env, tmp_path, data)
    assert result.exit_code == 0, result.output
    assert stored(fake) == STORED
    assert "importing: 2/2 rows, 2 added" in result.stderr  # the total was counted right
    header = (tmp_path / "rejects.csv").read_bytes()
    assert header == b"phone,name,city,reason\r\n"  # no byte-order mark in a column name


def test_encoding_latin1(fake: FakeSmsServer, env: dict[str, str], tmp_path: Path) -> None:
    data = "phone,name,city\n+15550000001,Zoë,Paris\n+15550000002,José,Málaga\n".encode("latin-1")
    result = import_bytes(fake, env, tmp_path, data, "--encoding", "latin-1")
    assert result.exit_code == 0, result.output
    assert stored(fake) == [
        ("+15550000001", "Zoë", {"city": "Paris"}),
        ("+15550000002", "José", {"city": "Málaga"}),
    ]


def test_a_byte_order_mark_wins_over_encoding(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    data = codecs.BOM_UTF8 + "phone,name\n+15550000001,Zoë\n".encode()
    result = import_bytes(fake, env, tmp_path, data, "--encoding", "latin-1")
    assert result.exit_code == 0, result.output
    assert stored(fake) == [("+15550000001", "Zoë", None)]


@pytest.mark.parametrize(
    ("value", "message"),
    [("nope", "unknown encoding 'nope'"), ("base64", "'base64' is not a text encoding")],
)
def test_an_unknown_encoding_is_a_usage_error(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path, value: str, message: str
) -> None:
    result = import_bytes(fake, env, tmp_path, b"phone\n+15550000001\n", "--encoding", value)
    assert result.exit_code == 2
    assert message in result.stderr
    with pytest.raises(ValueError, match=re.escape(message)):
        encoding_from(value)


def test_bytes_not_valid_in_the_encoding_reject_their_row_and_are_kept(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    data = b"phone,name\n+15550000001,Caf\xe9\n+15550000002,Bad \x81 byte\n+15550000003,ok\n"
    result = import_bytes(fake, env, tmp_path, data, "--encoding", "cp1252")
    assert result.exit_code == 0, result.output
    assert stored(fake) == [("+15550000001", "Café", None), ("+15550000003", "ok", None)]
    rejects = (tmp_path / "rejects.csv").read_bytes()
    assert rejects.splitlines()[1] == b"+15550000002,Bad \x81 byte,invalid: row is not valid cp1252"


def test_a_bad_utf16_sequence_rejects_its_row_only(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    def le(text: str) -> bytes:
        return text.encode("utf-16-le")

    lone_surrogate = b"\x00\xd8"  # U+D800 alone: not UTF-16, and it holds an ASCII byte
    data = (
        codecs.BOM_UTF16_LE
        + le("phone,name\n+15550000001,a\n+15550000002,")
        + lone_surrogate
        + le("b\n+15550000003,c\n")
    )
    result = import_bytes(fake, env, tmp_path, data)
    assert result.exit_code == 0, result.output
    assert [phone for phone, _, _ in stored(fake)] == ["+15550000001", "+15550000003"]
    rejects = (tmp_path / "rejects.csv").read_bytes()
    assert b"+15550000002," + lone_surrogate + b"b,invalid: row is not valid UTF-16" in rejects


def test_jsonl_with_a_utf16_byte_order_mark(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    text = '{"phone": "+15550000001", "name": "Zoë"}\r\n'  # PowerShell 5's "> file"
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    result = import_bytes(fake, env, tmp_path, data, name="m.jsonl")
    assert result.exit_code == 0, result.output
    assert stored(fake) == [("+15550000001", "Zoë", None)]


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="needs /dev/fd")
def test_a_pipe_is_streamed_once_with_its_byte_order_mark(
    fake: FakeSmsServer, env: dict[str, str]
) -> None:
    target = fake.create_list("imported")
    read_end, write_end = os.pipe()  # what bash's <(gunzip -c members.csv.gz) passes
    try:
        os.write(write_end, codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"))
        os.close(write_end)
        result = invoke(
            env, "members", "import", str(target.contact_list_id), f"/dev/fd/{read_end}",
            "--format", "csv",
        )  # fmt: skip
    finally:
        os.close(read_end)
    assert result.exit_code == 0, result.output
    assert stored(fake) == STORED
    assert "importing: 2 rows, 2 added" in result.stderr  # not counted: a pipe is read once


def test_stdin_with_a_byte_order_mark(fake: FakeSmsServer, env: dict[str, str]) -> None:
    target = fake.create_list("imported")
    result = invoke(
        env, "members", "import", str(target.contact_list_id), "-", "--format", "csv",
        stdin=codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert stored(fake) == STORED


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
