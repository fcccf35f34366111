"""Streaming readers and writers for the command line: CSV and JSONL members, rejects.

The readers are the hot path of an import. Each row becomes the plain dict that
``members.add`` takes (``{"phone": ..., "name": ..., "vars": {...}}``), checked
once here with the SDK's own rule (``payload_problem``: the check of
``members.add``'s fast path, so the SDK accepts every member handed on). A row
handed on is kept as its *token* (for a CSV row, the list ``csv.reader`` made of
it), and only a rejected row -- here, or later by the API or with its batch --
becomes a record of its original columns.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Generator
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any, Protocol

from .._models import Member
from .._phones import DUPLICATE
from .._validation import CheckedMember, payload_problem
from ._input import (
    _SURROGATE,
    _UNDECODED,
    _UNDECODED_ASCII,
    count_rows,
    delimiter_from,
    encoding_from,
    encoding_label,
    input_format,
    open_input,
)

if TYPE_CHECKING:
    from .._phones import PhoneRules

__all__ = [
    "CsvRows",
    "JsonlRows",
    "RejectsWriter",
    "Rows",
    "count_rows",
    "delimiter_from",
    "encoding_from",
    "input_format",
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

#: Called with a rejected row's original columns and the reason (without ``invalid: ``).
RejectRow = Callable[[dict[str, str], str], None]
#: Called with the tokens of each batch of members handed on, in input order.
TakeBatch = Callable[[list[Any]], None]


class Rows(Protocol):
    """The rows of an input, as the members to send (``CsvRows``, ``JsonlRows``).

    Attributes:
        fields: The rejects file's columns (before ``reason``): the input's own.
    """

    fields: list[str]

    def members(
        self,
        batch_size: int,
        take_batch: TakeBatch,
        reject: RejectRow,
        phones: PhoneRules | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Yield the valid rows as members, in input order; pass each invalid one to *reject*.

        Before the last member of each *batch_size* members is yielded (and at the
        end of the input, for the rest), *take_batch* gets the tokens of the rows
        of those members, in order. With *phones* (``--region``, ``--dedupe``),
        each phone is normalized, and a repeated one refused, before it is yielded.
        """
        ...

    def original(self, token: Any) -> dict[str, str]:
        """The original columns of a row handed on, by its token."""
        ...

    def phone(self, token: Any) -> str:
        """The phone of the member a row handed on became, by its token."""
        ...


def read_rows(handle: IO[str], fmt: str, *, delimiter: str | None = None) -> CsvRows | JsonlRows:
    """The rows of a CSV or JSONL stream, read one at a time as they are asked for.

    A CSV header that cannot be used (an empty file, no ``phone`` column, a column
    named twice) raises ``ValueError`` here, before any row is read.

    Args:
        handle: The text stream, as ``open_input`` opens it.
        fmt: ``csv`` or ``jsonl``.
        delimiter: The CSV delimiter; by default it is sniffed.
    """
    label = encoding_label(getattr(handle, "encoding", None))
    return CsvRows(handle, delimiter, label) if fmt == "csv" else JsonlRows(handle, label)


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


class CsvRows:
    """The rows of a CSV stream (see ``read_rows``).

    Each row is a member: ``phone`` (its spaces around removed), ``name`` (an empty
    cell is no name) and every other column in ``vars`` (a string each). A row with
    more cells than the header, one with bytes not valid in the encoding, and one
    the SDK would refuse are rejected; a row with fewer cells gets empty strings.
    """

    def __init__(self, handle: IO[str], delimiter: str | None, label: str) -> None:
        sample = handle.read(SNIFF_CHARS)
        if sample and sample[-1] != "\n":
            sample += handle.readline()  # whole lines: the reader goes on with the next one
        if delimiter is None:
            delimiter = _sniff(sample[:SNIFF_CHARS])
        self._reader = csv.reader(
            itertools.chain(io.StringIO(sample, newline=""), handle), delimiter=delimiter
        )
        del sample
        try:
            header = next(filter(None, self._reader), None)  # blank lines before it are skipped
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
        self._label = label
        self._header = header
        self._phone_at = phone_at
        self._name_at = _column(names, "name")
        self._vars = [
            (at, key) for at, key in enumerate(names) if at not in (phone_at, self._name_at)
        ]
        # Every cell is in the member sent (so a byte not valid in the encoding breaks a
        # rule of the SDK), unless a later column has the same name: then its cells are
        # searched for such bytes before the member is checked.
        self._shadowed = len({key for _, key in self._vars}) < len(self._vars)
        self.fields = list(dict.fromkeys(header))

    def original(self, token: list[str]) -> dict[str, str]:
        """The row's columns, keyed by the header's own names."""
        return dict(zip(self._header, token, strict=False))

    def phone(self, token: list[str]) -> str:
        """The row's phone, as sent (normalized: kept after the row's own cells)."""
        if len(token) > len(self._header):
            return token[-1]
        return token[self._phone_at].strip()

    def members(
        self,
        batch_size: int,
        take_batch: TakeBatch,
        reject: RejectRow,
        phones: PhoneRules | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Yield the valid rows as members (see ``Rows.members``).

        A row whose phone *phones* changed keeps the phone sent after its own
        cells (in its token): the rejects file shows the phone as written.
        """
        width = len(self._header)
        phone_at, name_at = self._phone_at, self._name_at
        # The vars of a row, built the cheapest way for the header's shape.
        keys = tuple(key for _, key in self._vars)
        cells_of = itemgetter(*(at for at, _ in self._vars)) if len(keys) > 1 else None
        key_at, key = self._vars[0] if len(keys) == 1 else (0, "")
        has_vars = bool(keys)
        shadowed = self._shadowed
        problem_of = payload_problem
        tokens: list[list[str]] = []
        keep = tokens.append
        count = 0
        try:
            for cells in self._reader:
                if len(cells) != width:
                    if not cells:
                        continue  # a blank line
                    if len(cells) > width:
                        more = len(cells) - width
                        reject(
                            self.original(cells), f"row has {more} more field(s) than the header"
                        )
                        continue
                    cells += [""] * (width - len(cells))
                if shadowed and _UNDECODED.search("".join(cells)):
                    reject(self.original(cells), f"row is not valid {self._label}")
                    continue
                phone = cells[phone_at].strip()
                if phones is not None:
                    sent, refused = phones.normalize(phone)
                    if sent is None:
                        reject(self.original(cells), self._reason(cells, _refused(phones, refused)))
                        continue
                    if sent != phone:
                        phone = sent
                        cells.append(sent)
                # checked below and never changed again: members.add sends it as it is
                member = CheckedMember(phone=phone)
                if name_at is not None and cells[name_at]:
                    member["name"] = cells[name_at]
                if cells_of is not None:
                    member["vars"] = dict(zip(keys, cells_of(cells), strict=True))
                elif has_vars:
                    member["vars"] = {key: cells[key_at]}
                problem = problem_of(member)
                if problem is not None:
                    reject(self.original(cells), self._reason(cells, problem))
                    continue
                if phones is not None and not phones.first_time(phone):
                    reject(self.original(cells), DUPLICATE)
                    continue
                keep(cells)
                count += 1
                if count == batch_size:
                    take_batch(tokens)
                    tokens = []
                    keep = tokens.append
                    count = 0
                yield member
        except Exception:
            if tokens:  # the input raised: the rows handed on so far are in a batch
                take_batch(tokens)
            raise
        if tokens:
            take_batch(tokens)

    def _reason(self, cells: list[str], problem: str) -> str:
        # Bytes not valid in the encoding (lone surrogates) in a cell of the member
        # break a rule of the SDK too (text it cannot encode): only a rejected row
        # is searched for them.
        if _UNDECODED.search("".join(cells)):
            return f"row is not valid {self._label}"
        return problem


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


class JsonlRows:
    """The lines of a JSONL stream, one member per line (see ``read_rows``).

    A token is the line's number, the member it became, and its phone as written.
    """

    def __init__(self, handle: IO[str], label: str) -> None:
        self.fields = list(JSONL_REJECT_FIELDS)
        self._handle = handle
        self._label = label

    def original(self, token: tuple[int, dict[str, Any], str]) -> dict[str, str]:
        """The line's number, and its values as text (``vars`` as JSON)."""
        number, member, written = token
        name, variables = member.get("name"), member.get("vars")
        return {
            "line": str(number),
            "phone": written,
            "name": "" if name is None else name,
            "vars": "" if variables is None else json.dumps(variables, ensure_ascii=False),
        }

    def phone(self, token: tuple[int, dict[str, Any], str]) -> str:
        """The line's phone, as sent."""
        phone: str = token[1]["phone"]
        return phone

    def members(
        self,
        batch_size: int,
        take_batch: TakeBatch,
        reject: RejectRow,
        phones: PhoneRules | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """Yield the valid lines as members (see ``Rows.members``)."""
        tokens: list[tuple[int, dict[str, Any], str]] = []
        try:
            for number, line in enumerate(self._handle, start=1):
                if not line.strip():
                    continue
                read = self._member(number, line, reject, phones)
                if read is None:
                    continue
                member, written = read
                tokens.append((number, member, written))
                if len(tokens) == batch_size:
                    take_batch(tokens)
                    tokens = []
                yield member
        except Exception:
            if tokens:
                take_batch(tokens)
            raise
        if tokens:
            take_batch(tokens)

    def _member(
        self, number: int, line: str, reject: RejectRow, phones: PhoneRules | None
    ) -> tuple[dict[str, Any], str] | None:
        """The line as a member and its phone as written, or ``None`` (passed to *reject*)."""
        original = {"line": str(number), "phone": "", "name": "", "vars": ""}
        if _UNDECODED.search(line):
            original["vars"] = line.rstrip("\r\n")[:1000]
            reject(original, f"line is not valid {self._label}")
            return None
        try:
            data = json.loads(line)
        except ValueError:
            original["vars"] = line.rstrip("\r\n")[:1000]
            reject(original, "line is not valid JSON")
            return None
        if not isinstance(data, dict):
            reject(original, "line is not a JSON object")
            return None
        phone, name, variables = data.get("phone"), data.get("name"), data.get("vars")
        original.update(
            phone="" if phone is None else str(phone),
            name="" if name is None else str(name),
            vars="" if variables is None else json.dumps(variables, ensure_ascii=False),
        )
        if _SURROGATE.search("".join(original.values())):
            # a "\ud800" escape decodes to a character no file can hold: keep the raw line
            original.update(phone="", name="", vars=line.rstrip("\r\n")[:1000])
            reject(original, "line has characters that are not valid Unicode")
            return None
        if not isinstance(phone, str) or (name is not None and not isinstance(name, str)):
            reject(original, "phone and name must be strings")
            return None
        if variables is not None and not isinstance(variables, dict):
            reject(original, "vars must be a JSON object")
            return None
        written = phone
        if phones is not None:
            sent, refused = phones.normalize(phone)
            if sent is None:
                reject(original, _refused(phones, refused))
                return None
            phone = sent
        member = CheckedMember(phone=phone)
        if name is not None:
            member["name"] = name
        if variables is not None:
            member["vars"] = variables
        problem = payload_problem(member)
        if problem is not None:
            reject(original, problem)
            return None
        if phones is not None and not phones.first_time(phone):
            reject(original, DUPLICATE)
            return None
        return member, written


def _refused(phones: PhoneRules, reason: str | None) -> str:
    """The rejects file's reason for a phone *phones* refused."""
    return f"phone refused (region {phones.region}): {reason}"


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

    def write(self, original: dict[str, str], reason: str) -> None:
        """Record one rejected row (its original columns) with its reason."""
        self.count += 1
        if self._writer is not None:
            record = {
                key: _UNDECODED_ASCII.sub(_ascii_byte, value) if _UNDECODED.search(value) else value
                for key, value in original.items()
            }
            self._writer.writerow({**record, "reason": reason})
