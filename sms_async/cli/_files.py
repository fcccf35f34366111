"""Streaming readers and writers for the command line: CSV and JSONL members, rejects."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from .._models import Member, NewMember
from .._validation import member_problem

__all__ = ["Row", "count_rows", "member_record", "open_input", "read_rows"]

MEMBER_FIELDS = ("member_id", "phone", "name", "vars", "create_time", "update_time")
JSONL_REJECT_FIELDS = ("line", "phone", "name", "vars")


@attrs.frozen
class Row:
    """One input row: the member to send, or why it cannot be sent, and its original columns.

    Attributes:
        original: The row's columns as read (CSV), or its fields (JSONL).
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


#: Bytes that are not UTF-8 are read as these (``surrogateescape``) and the row rejected.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
#: Any surrogate: what a JSON ``\\ud800`` escape can decode to.
_SURROGATE = re.compile("[\ud800-\udfff]")


def open_input(path: str) -> IO[str]:
    """Open *path* for reading as UTF-8 text (``-`` is standard input).

    Bytes that are not UTF-8 do not stop the import: they are kept as they are
    (``surrogateescape``), and the row that holds them is rejected.
    """
    if path == "-":
        return io.TextIOWrapper(
            sys.stdin.buffer, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
    return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")


def count_rows(path: str, fmt: str) -> int | None:
    """Count the data rows of a regular file cheaply (for the ETA), or ``None`` for stdin."""
    if path == "-":
        return None
    lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(0, lines - 1) if fmt == "csv" else lines


def read_rows(handle: IO[str], fmt: str) -> Iterator[Row]:
    """Yield the rows of a CSV or JSONL stream, one at a time (memory does not grow)."""
    return _csv_rows(handle) if fmt == "csv" else _jsonl_rows(handle)


def _csv_rows(handle: IO[str]) -> Iterator[Row]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None or "phone" not in reader.fieldnames:
        raise ValueError("the CSV file needs a header row with a 'phone' column")
    if _NOT_UTF8.search("".join(reader.fieldnames)):
        raise ValueError("the CSV header row is not valid UTF-8")
    for raw in reader:
        extra = raw.pop(None, None)
        original = {key: value if value is not None else "" for key, value in raw.items()}
        if extra:
            yield Row(original, None, f"row has {len(extra)} more field(s) than the header")
            continue
        if _NOT_UTF8.search("".join(original.values())):
            yield Row(original, None, "row is not valid UTF-8")
            continue
        variables = {k: v for k, v in original.items() if k not in ("phone", "name")}
        member = NewMember(
            phone=original["phone"].strip(),
            name=original.get("name") or None,
            vars=variables or None,
        )
        yield _checked(original, member)


def _jsonl_rows(handle: IO[str]) -> Iterator[Row]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        original = {"line": str(number), "phone": "", "name": "", "vars": ""}
        if _NOT_UTF8.search(line):
            original["vars"] = line.rstrip("\r\n")[:1000]
            yield Row(original, None, "line is not valid UTF-8")
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


class RejectsWriter:
    """Writes rejected rows as CSV: the original columns plus ``reason``."""

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

    def write(self, row: Row | dict[str, str], reason: str) -> None:
        """Record one rejected row with its reason."""
        self.count += 1
        if self._writer is not None:
            original = row.original if isinstance(row, Row) else row
            self._writer.writerow({**original, "reason": reason})
