"""Opening an input file: its format, encoding (byte-order marks, --encoding), and row count.

Light on purpose: the options' parsers live here, and ``--help`` imports this
module (nothing of the SDK's HTTP or models).
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import sys
from typing import IO, TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "UNDECODABLE",
    "count_rows",
    "delimiter_from",
    "encoding_from",
    "encoding_label",
    "input_format",
    "open_input",
]

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


def input_format(path: str, fmt: str | None) -> str:
    """Return ``csv`` or ``jsonl`` for *path*, by *fmt* or by the file's extension."""
    if fmt:
        return fmt
    if path == "-":
        raise ValueError("reading standard input (-) needs --format csv or --format jsonl")
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"cannot tell the format of {path!r}: use a .csv or .jsonl file, or --format")


def encoding_from(value: str) -> str:
    """Return *value* if Python can decode text with it (``latin-1``, ``cp1252``, ``gbk``, ...).

    Raises:
        ValueError: *value* is not an encoding Python knows, or not a text encoding.
    """
    try:
        io.TextIOWrapper(io.BytesIO(), encoding=value)  # not base64, rot13, ...: not text
    except LookupError as exc:
        if "not a text encoding" in str(exc):
            raise ValueError(f"{value!r} is not a text encoding") from None
        raise ValueError(
            f"unknown encoding {value!r}: use a name Python knows, such as utf-8, latin-1, "
            "cp1252, gbk or shift_jis"
        ) from None
    return value


def encoding_label(encoding: str | None) -> str:
    """How messages name *encoding*: ``UTF-8``, ``UTF-16``, ``UTF-32``, or as it was given."""
    given = encoding or "utf-8"
    try:
        name = codecs.lookup(given).name
    except LookupError:
        return given
    for family in ("utf-8", "utf-16", "utf-32"):
        if name.startswith(family):
            return family.upper()
    return given


# --- input ---------------------------------------------------------------------------------

#: The error handler of every input: each byte that is not valid in the encoding becomes
#: the lone surrogate U+DC00 + byte, so that its row is rejected and written back as it was.
UNDECODABLE = "sms_async.undecodable"


def _escape_undecodable(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + byte) for byte in bad), exc.end


codecs.register_error(UNDECODABLE, _escape_undecodable)

#: Bytes that were not valid in the encoding (see ``UNDECODABLE``).
_UNDECODED = re.compile("[\udc00-\udcff]")
#: The ASCII bytes among them (UTF-16 and CJK codecs can refuse those), written back as
#: they were; ``surrogateescape`` writes back the others.
_UNDECODED_ASCII = re.compile("[\udc00-\udc7f]")
#: Any surrogate: what a JSON ``\\ud800`` escape can decode to.
_SURROGATE = re.compile("[\ud800-\udfff]")

#: Byte-order marks and the encoding each one means (UTF-32 LE first: it starts like UTF-16 LE).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def open_input(path: str, encoding: str | None = None) -> TextIO:
    """Open *path* for reading as text, streaming (``-`` is standard input).

    A byte-order mark decides the encoding (UTF-8, UTF-16 or UTF-32, either byte
    order) and is skipped; without one, the file is read as *encoding*, UTF-8 by
    default. Bytes that are not valid in the encoding do not stop the import: they
    are kept as they are (see ``UNDECODABLE``), and the row that holds them is rejected.

    Raises:
        ValueError: *encoding* is not a text encoding Python knows.
        OSError: *path* cannot be opened.
    """
    if encoding is not None:
        encoding_from(encoding)
    # Not a with-block (SIM115): the handle is returned open, wrapped, to the caller,
    # which closes it; it is closed here on the error paths below.
    raw: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    try:
        head = raw.read(4)
        codec, skip = next(
            ((name, len(bom)) for bom, name in _BOMS if head.startswith(bom)),
            (encoding or "utf-8", 0),
        )
        if raw.seekable():
            raw.seek(skip - len(head), io.SEEK_CUR)
            stream: IO[bytes] = raw
        else:  # a pipe: give back what was read
            stream = io.BufferedReader(_Prefixed(head[skip:], raw))
        return io.TextIOWrapper(stream, encoding=codec, errors=UNDECODABLE, newline="")
    except BaseException:
        raw.close()
        raise


class _Prefixed(io.RawIOBase):
    """*head*, then the rest of *stream*: input that cannot seek back after its first bytes."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        super().__init__()
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            size = min(len(view), len(self._head))
            view[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        read = getattr(self._stream, "read1", self._stream.read)
        data: bytes = read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


def count_rows(path: str, fmt: str, encoding: str = "utf-8") -> int | None:
    """Count the data rows of a regular file cheaply (for the ETA), or ``None``.

    ``None`` for standard input and pipes (they can be read once only) and when the
    file cannot be counted. *encoding* is the one the file is read with
    (``open_input(...).encoding``): a file in UTF-16 or UTF-32 is decoded to count.
    """
    if path == "-":
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        lines, ends_with_newline = (
            _count_newline_bytes(path)
            if "\n".encode(encoding) == b"\n"
            else _count_newlines(path, encoding)
        )
    except (OSError, LookupError, UnicodeError, ValueError):
        return None
    if not ends_with_newline:
        lines += 1
    return max(0, lines - 1) if fmt == "csv" else lines


def _count_newline_bytes(path: str) -> tuple[int, bool]:
    """Newlines of a file whose encoding writes a newline as byte 10, and only a newline."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines, last == b"\n"


def _count_newlines(path: str, encoding: str) -> tuple[int, bool]:
    decoder = codecs.getincrementaldecoder(encoding)(errors=UNDECODABLE)
    lines = 0
    last = "\n"
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(1 << 20)
            text = decoder.decode(chunk, final=not chunk)
            lines += text.count("\n")
            last = text[-1:] or last
            if not chunk:
                break
    return lines, last in ("\n", "\ufeff")
