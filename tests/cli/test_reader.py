"""The fast CSV reader (``_files.CsvRows``) against a plain ``csv.DictReader`` reference.

The reference is the rule as written in docs/cli.md, the slow obvious way: one
dict per row, one ``NewMember`` per row checked with ``member_problem``, and
the reasons in the documented order. The fast reader must yield the same
members, reject the same rows with the same reasons and original columns, hand
its rows on in batches that match the members yielded, and yield only members
the SDK's ``members.add`` accepts as they are.
"""

import codecs
import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sms_async._models import NewMember
from sms_async._validation import member_problem
from sms_async.cli._files import CsvRows, read_rows
from sms_async.cli._input import _UNDECODED, encoding_label, open_input
from sms_async.resources.members import _accept

Member = tuple[str, str | None, dict[str, Any] | None]
Event = tuple[str, Any, Any]  # ("ok", member, original) or ("rejected", original, reason)

# --- the reference -------------------------------------------------------------------------


def reference(path: str, encoding: str | None, delimiter: str) -> tuple[list[str], list[Event]]:
    """The rejects file's columns, and the rows, by the documented rules with ``csv.DictReader``."""
    with open_input(path, encoding) as handle:
        label = encoding_label(handle.encoding)
        header = next(row for row in csv.reader(handle, delimiter=delimiter) if row)
        header[0] = header[0].lstrip("\ufeff")
        width = len(header)
        names = [name.strip() for name in header]
        phone_at = names.index(next(n for n in names if n.casefold() == "phone"))
        name_at = next((at for at, n in enumerate(names) if n.casefold() == "name"), None)
        events: list[Event] = []
        # keyed by position: a column named twice keeps its cells (to search them)
        for row in csv.DictReader(handle, range(width), "extra", "", delimiter=delimiter):
            extra = row.pop("extra", [])
            original = {header[at]: row[at] for at in range(width)}
            if extra:
                reason = f"row has {len(extra)} more field(s) than the header"
                events.append(("rejected", original, reason))
                continue
            variables = {names[at]: row[at] for at in range(width) if at not in (phone_at, name_at)}
            member = NewMember(
                row[phone_at].strip(),
                row[name_at] or None if name_at is not None else None,
                variables or None,
            )
            problem = member_problem(member)
            if _UNDECODED.search("".join(row.values())):
                events.append(("rejected", original, f"row is not valid {label}"))
            elif problem is not None:
                events.append(("rejected", original, problem))
            else:
                events.append(("ok", (member.phone, member.name, member.vars), original))
        return list(dict.fromkeys(header)), events


# --- the fast reader -----------------------------------------------------------------------


def fast(
    path: str, encoding: str | None, delimiter: str, batch_size: int
) -> tuple[list[str], list[Event]]:
    """The fast reader's columns and events; its batches and the SDK's verdict checked."""
    with open_input(path, encoding) as handle:
        rows = read_rows(handle, "csv", delimiter=delimiter)
        assert isinstance(rows, CsvRows)
        events: list[Event] = []
        batches: list[list[Any]] = []
        yielded: list[dict[str, Any]] = []

        def take_batch(tokens: list[Any]) -> None:
            # before the batch's last member is yielded (or at the end, after the last one)
            before = sum(map(len, batches))
            assert len(yielded) in (before + len(tokens) - 1, before + len(tokens))
            assert len(tokens) == batch_size or len(yielded) == before + len(tokens)
            batches.append(list(tokens))

        def reject(original: dict[str, str], reason: str) -> None:
            events.append(("rejected", original, reason))

        for member in rows.members(batch_size, take_batch, reject):
            yielded.append(member)
            assert _accept(member, []) is not None  # members.add takes it as it is
            events.append(("ok", member, None))
        tokens = [token for batch in batches for token in batch]
        assert len(tokens) == len(yielded)
        assert all(len(batch) == batch_size for batch in batches[:-1])
        kept = iter(tokens)
        result: list[Event] = []
        for kind, first, second in events:
            if kind == "ok":
                token = next(kept)
                assert rows.phone(token) == first["phone"]
                normal = (first["phone"], first.get("name"), first.get("vars"))
                result.append((kind, normal, rows.original(token)))
            else:
                result.append((kind, first, second))
        return rows.fields, result


# --- the files ------------------------------------------------------------------------------

#: How each encoding writes a byte sequence it cannot decode (None: it decodes every byte).
BAD_BYTES = {"utf-8": b"\xff\xfe", "cp1252": b"\x81", "latin-1": None, "utf-16-le": b"\x00\xdc"}
BOMS = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE}
#: Written where a cell holds bytes that are not valid in the encoding.
MARK = "\x07"

text = st.text(
    st.sampled_from(list("ab Z09+-,;|\t:\"'\n\r%é李🙂")) | st.characters(codec="utf-8"),
    max_size=12,
)
phones = st.from_regex(r"\A\+?[0-9]{1,15}\Z") | text
keys = st.text(st.sampled_from(list("abcXYZ _-%é")), min_size=0, max_size=6) | st.just("k" * 33)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str | None, str]:
    """A CSV file (bytes), the --encoding to read it with, and its delimiter."""
    encoding = draw(st.sampled_from(sorted(BAD_BYTES)))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", ":", " ", "#"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    phone_name = draw(st.sampled_from(["phone", " Phone ", "PHONE"]))
    name_name = draw(st.sampled_from([None, "name", "Name "]))
    var_names = draw(st.lists(keys, max_size=3))
    taken = {"phone", "name"}
    var_names = [k for k in var_names if k.strip().casefold() not in taken]
    header = [phone_name, *([name_name] if name_name else []), *var_names]
    header = draw(st.permutations(header))
    long_values = draw(st.booleans())  # past the sniffed sample of 8,192 characters
    if long_values:
        header.append("long")
    if encoding.startswith("utf") and draw(st.booleans()):
        header[0] = "\ufeff" + header[0]  # a byte-order mark in the text (or a second one)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator=newline)
    out.write(newline * draw(st.integers(0, 2)))  # blank lines before the header
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 40 if long_values else 12))):
        row = [
            draw(phones) if column == phone_name else "v" * 300 if column == "long" else draw(text)
            for column in header
        ]
        shape = draw(st.sampled_from(["whole", "whole", "whole", "short", "long", "blank"]))
        if shape == "short":
            row = row[: draw(st.integers(0, len(row)))]
        elif shape == "long":
            row += draw(st.lists(text, min_size=1, max_size=2))
        elif shape == "blank":
            out.write(newline)
            continue
        if draw(st.booleans()) and draw(st.booleans()) and row and BAD_BYTES[encoding]:
            at = draw(st.integers(0, len(row) - 1))
            row[at] += MARK
        writer.writerow(row)
    body = out.getvalue().encode(encoding, errors="replace")
    bad = BAD_BYTES[encoding]
    if bad is not None:
        body = body.replace(MARK.encode(encoding), bad)
    with_bom = encoding in BOMS and draw(st.booleans())
    data = (BOMS[encoding] if with_bom else b"") + body
    given_encoding = None if encoding == "utf-8" or with_bom else encoding
    if encoding == "utf-16-le" and not with_bom:
        given_encoding = "utf-16-le"
    return data, given_encoding, delimiter


@contextlib.contextmanager
def written(data: bytes) -> Iterator[str]:
    """*data* in a file of its own, for the length of the block."""
    handle, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        yield path
    finally:
        os.unlink(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(), st.sampled_from([1, 2, 3, 1000]))
@example((b"phone,name\n+1555,Li\nbad,x\n+1556,Wang,extra\n+1557\n", None, ","), 2)
@example(("\ufeffphone;name\n+1555;Zo\xeb\n".encode() + b"+1556;\xff\n", None, ";"), 1)
@example((b"phone,a, a\n+1555,\xff,ok\n+1556,ok,\xff\n", None, ","), 1000)  # a column twice
def test_the_fast_reader_reads_as_the_reference(
    file: tuple[bytes, str | None, str], batch_size: int
) -> None:
    data, encoding, delimiter = file
    with written(data) as path:
        assert fast(path, encoding, delimiter, batch_size) == reference(path, encoding, delimiter)
