"""Reading contact files (``_files.py``): CSV and JSONL, delimiters, headers, encodings."""

import codecs
import os
import re
from pathlib import Path

import pytest

from sms_async.cli._files import delimiter_from, encoding_from, open_input, read_rows
from sms_async.testing import FakeSmsServer

from ._helpers import import_bytes, invoke, stored

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


def test_bytes_that_are_not_utf8_reject_their_row_only(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("bytes")
    source = tmp_path / "m.csv"
    good = "".join(f"+1555{i:07d},n{i}\n" for i in range(20_000)).encode()
    source.write_bytes(b"phone,name\n" + good + b"+15559999999,\xff\xfe broken\n+15558888888,ok\n")
    rejects = tmp_path / "r.csv"
    result = invoke(
        env,
        "members",
        "import",
        str(target.contact_list_id),
        str(source),
        "--rejects",
        str(rejects),
    )
    assert result.exit_code == 0, result.output
    assert fake.get_list("bytes").member_count == 20_001
    data = rejects.read_bytes()
    assert b"\xff\xfe broken" in data  # the original bytes, so the row can be fixed
    assert b"row is not valid UTF-8" in data


def test_stdin_needs_a_format(env: dict[str, str]) -> None:
    result = invoke(env, "members", "import", "1", "-", stdin="phone\n")
    assert result.exit_code == 2
    assert "--format" in result.stderr


def test_a_header_that_is_not_utf8_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "m.csv"
    source.write_bytes(b"phone,caf\xe9\n+15550000001,x\n")
    result = invoke(env, "members", "import", "1", str(source))
    assert result.exit_code == 2
    assert "header row is not valid UTF-8" in result.stderr


def test_a_jsonl_lone_surrogate_rejects_the_line(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("surrogates")
    source = tmp_path / "m.jsonl"
    source.write_text(
        '{"phone": "+15550000001", "name": "\\ud800"}\n{"phone": "+15550000002"}\n',
        encoding="utf-8",
    )
    rejects = tmp_path / "r.csv"
    result = invoke(
        env,
        "members",
        "import",
        str(target.contact_list_id),
        str(source),
        "--rejects",
        str(rejects),
    )
    assert result.exit_code == 0, result.output
    assert fake.get_list("surrogates").phones == ["+15550000002"]
    assert "not valid Unicode" in rejects.read_text(encoding="utf-8")
