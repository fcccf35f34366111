"""Streaming readers and writers for the command line: CSV and JSONL members, rejects."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import attrs

from .._models import Member, NewMember
from .._validation import member_problem
from ._input import (
    _SURROGATE,
    _UNDECODED,
    _UNDECODED_ASCII,
    count_rows,
    encoding_from,
    encoding_label,
    open_input,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "Row",
    "count_rows",
    "delimiter_from",
    "encoding_from",
    "member_record",
    "open_input",
    "read_rows",
]

MEMBER_FIELDS = ("member_id", "phone", "name", "vars", "create_time", "update_time")
JSONL_REJECT_FIELDS = ("line", "phone", "name", "vars")

#: The delimiters a CSV file is sniffed for; ``,`` when the sniffer cannot tell.
SNIFFED_DELIMITERS = ",;\t|"
#: Characters of a CSV file the sniffer looks at (then the rest of the line they end in).
SNIFF_CHARS = 8192
#: Columns named in a header message, at most.
SHOWN_COLUMNS = 20


@attrs.frozen
class Row:
    """One input row: the member to send, or why it cannot be sent, and its original columns.

    Attributes:
        original: The row's columns as read (CSV, keyed by the header's own names), or
            its fields (JSONL).
        member: The member to send, when the row is usable.
        problem: Why the row cannot be sent, when it is not.
    """

    original: dict[str, str]
    member: NewMember | None
    problem: str | None


def input_format(path: str, fmt: str | None) -> str:
    """Return ``csv`` or ``jsonl`` for *path*, by *fmt* or by the file's extension."""
    if fmt:
        return fmt
    if path == "-":
        raise ValueError("reading standard input (-) needs --format csv or --format jsonl")
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"cannot tell the format of {path!r}: use a .csv or .jsonl file, or --format")


# --- options -------------------------------------------------------------------------------

_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t"}


def delimiter_from(value: str) -> str:
    """The CSV delimiter *value* names: one character, or ``tab`` or backslash-t for a tab.

    Raises:
        ValueError: *value* is not one character, or cannot separate columns.
    """
    delimiter = _DELIMITER_NAMES.get(value.lower(), value)
    if len(delimiter) != 1:
        raise ValueError(f"{value!r} is not one character (for a tab, use tab or \\t)")
    if delimiter in '"\r\n':
        raise ValueError(f"{value!r} cannot separate columns")
    return delimiter


def read_rows(handle: IO[str], fmt: str, *, delimiter: str | None = None) -> Iterator[Row]:
    """Yield the rows of a CSV or JSONL stream, one at a time (memory does not grow).

    A CSV header that cannot be used (an empty file, no ``phone`` column, a column
    named twice) raises ``ValueError`` when the first row is asked for.

    Args:
        handle: The text stream, as ``open_input`` opens it.
        fmt: ``csv`` or ``jsonl``.
        delimiter: The CSV delimiter; by default it is sniffed.
    """
    label = encoding_label(getattr(handle, "encoding", None))
    return _csv_rows(handle, delimiter, label) if fmt == "csv" else _jsonl_rows(handle, label)


def _sniff(sample: str) -> str:
    """The delimiter of the CSV text *sample*: ``csv.Sniffer``'s guess, else ``,``.

    A guess that leaves the header without a ``phone`` column gives way to the first
    of the other delimiters that gives it one.
    """
    guess: str
    try:
        guess = csv.Sniffer().sniff(sample, delimiters=SNIFFED_DELIMITERS).delimiter
    except csv.Error:
        guess = ","
    header = next((line for line in sample.splitlines() if line.strip()), "")
    candidates: list[str] = [guess, *SNIFFED_DELIMITERS]
    for delimiter in dict.fromkeys(candidates):
        cells = next(csv.reader([header], delimiter=delimiter), [])
        if any(cell.strip().lstrip("\ufeff").casefold() == "phone" for cell in cells):
            return delimiter
    return guess


def _csv_rows(handle: IO[str], delimiter: str | None, label: str) -> Iterator[Row]:
    sample = handle.read(SNIFF_CHARS)
    if sample and sample[-1] != "\n":
        sample += handle.readline()  # whole lines: the reader goes on with the next one
    if delimiter is None:
        delimiter = _sniff(sample[:SNIFF_CHARS])
    reader = csv.reader(
        itertools.chain(io.StringIO(sample, newline=""), handle), delimiter=delimiter
    )
    del sample
    try:
        header = next(filter(None, reader), None)  # blank lines before it are skipped
    except csv.Error as exc:
        raise ValueError(f"the CSV header row cannot be read: {exc}") from None
    if header is None:
        raise ValueError("the file is empty: a header row with a 'phone' column is needed")
    if _UNDECODED.search("".join(header)):
        raise ValueError(f"the CSV header row is not valid {label}")
    header[0] = header[0].lstrip("\ufeff")
    names = [cell.strip() for cell in header]
    phone_at = _column(names, "phone")
    if phone_at is None:
        raise ValueError(f"the header has no 'phone' column; {_found(names)}{_hint(names)}")
    name_at = _column(names, "name")
    width = len(header)
    var_columns = [(at, key) for at, key in enumerate(names) if at not in (phone_at, name_at)]
    for cells in reader:
        if not cells:
            continue  # a blank line
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        original = dict(zip(header, cells, strict=False))
        if len(cells) > width:
            yield Row(original, None, f"row has {len(cells) - width} more field(s) than the header")
            continue
        if _UNDECODED.search("".join(cells)):
            yield Row(original, None, f"row is not valid {label}")
            continue
        variables = {key: cells[at] for at, key in var_columns}
        member = NewMember(
            phone=cells[phone_at].strip(),
            name=(cells[name_at] or None) if name_at is not None else None,
            vars=variables or None,
        )
        yield _checked(original, member)


def _column(names: list[str], wanted: str) -> int | None:
    """Where the column *wanted* is (any case, spaces around it ignored), if it is there once."""
    found = [at for at, name in enumerate(names) if name.casefold() == wanted]
    if len(found) > 1:
        times = "twice" if len(found) == 2 else f"{len(found)} times"
        where = ", ".join(str(at + 1) for at in found[:-1]) + f" and {found[-1] + 1}"
        raise ValueError(
            f"the header has the {wanted!r} column {times} (columns {where}); {_found(names)}"
        )
    return found[0] if found else None


def _found(names: list[str]) -> str:
    shown = [
        name if name.isprintable() and name and len(name) <= 60 else repr(name[:60])
        for name in names[:SHOWN_COLUMNS]
    ]
    more = f" and {len(names) - SHOWN_COLUMNS} more" if len(names) > SHOWN_COLUMNS else ""
    return f"columns found: {', '.join(shown)}{more}"


def _hint(names: list[str]) -> str:
    if any("\x00" in name for name in names):
        return (
            " (the file looks like UTF-16 without a byte-order mark: "
            "pass --encoding utf-16-le or --encoding utf-16-be)"
        )
    if len(names) == 1:
        return " (if the columns are separated by another character, pass --delimiter)"
    return ""


def _jsonl_rows(handle: IO[str], label: str) -> Iterator[Row]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        original = {"line": str(number), "phone": "", "name": "", "vars": ""}
        if _UNDECODED.search(line):
            original["vars"] = line.rstrip("\r\n")[:1000]
            yield Row(original, None, f"line is not valid {label}")
            continue
        try:
            data = json.loads(line)
        except ValueError:
            original["vars"] = line.rstrip("\r\n")[:1000]
            yield Row(original, None, "line is not valid JSON")
            continue
        if not isinstance(data, dict):
            yield Row(original, None, "line is not a JSON object")
            continue
        phone, name, variables = data.get("phone"), data.get("name"), data.get("vars")
        original.update(
            phone="" if phone is None else str(phone),
            name="" if name is None else str(name),
            vars="" if variables is None else json.dumps(variables, ensure_ascii=False),
        )
        if _SURROGATE.search("".join(original.values())):
            # a "\ud800" escape decodes to a character no file can hold: keep the raw line
            original.update(phone="", name="", vars=line.rstrip("\r\n")[:1000])
            yield Row(original, None, "line has characters that are not valid Unicode")
            continue
        if not isinstance(phone, str) or (name is not None and not isinstance(name, str)):
            yield Row(original, None, "phone and name must be strings")
            continue
        if variables is not None and not isinstance(variables, dict):
            yield Row(original, None, "vars must be a JSON object")
            continue
        yield _checked(original, NewMember(phone=phone, name=name, vars=variables))


def _checked(original: dict[str, str], member: NewMember) -> Row:
    problem = member_problem(member)
    return Row(original, None if problem else member, problem)


def member_record(member: Member) -> dict[str, Any]:
    """A member as a flat JSON-ready dict (times in ISO 8601)."""
    return {
        "member_id": member.member_id,
        "phone": member.phone,
        "name": member.name,
        "vars": member.vars,
        "create_time": member.create_time.isoformat() if member.create_time else None,
        "update_time": member.update_time.isoformat() if member.update_time else None,
    }


def _ascii_byte(match: re.Match[str]) -> str:
    return chr(ord(match.group()) - 0xDC00)


class RejectsWriter:
    """Writes rejected rows as CSV: the original columns plus ``reason``.

    The handle is UTF-8 with ``surrogateescape`` (``open_output``): bytes of the input
    that were not valid in its encoding are written back as they were.
    """

    def __init__(self, handle: IO[str] | None, fields: list[str]) -> None:
        self._handle = handle
        self.count = 0
        self._writer = (
            csv.DictWriter(handle, fieldnames=[*fields, "reason"], extrasaction="ignore")
            if handle is not None
            else None
        )
        if self._writer is not None:
            self._writer.writeheader()

    def flush(self) -> None:
        """Hand what was written to the operating system (a kill then loses none of it)."""
        if self._handle is not None:
            self._handle.flush()

    def write(self, row: Row | dict[str, str], reason: str) -> None:
        """Record one rejected row with its reason."""
        self.count += 1
        if self._writer is not None:
            original = row.original if isinstance(row, Row) else row
            record = {
                key: _UNDECODED_ASCII.sub(_ascii_byte, value) if _UNDECODED.search(value) else value
                for key, value in original.items()
            }
            self._writer.writerow({**record, "reason": reason})
