"""Bounded decoding of response bodies: the size cap holds for bytes as they are inflated.

httpx inflates a compressed chunk in one call, so a 1 MB gzip body can become
1 GB in memory before any size check sees it. These decoders hand out at
most ``CHUNK`` bytes of output at a time and stop as soon as the body passes
the cap: memory stays within the cap plus one chunk per response.

gzip and deflate are always available (zlib); ``br`` when the ``brotli``
package (1.2 or newer, which can bound its output) is installed; ``zstd`` when
``zstandard`` is. Only those are asked for in ``Accept-Encoding``; a body in
any other encoding is refused.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "BadEncoding",
    "BodyTooLarge",
    "BoundedBody",
    "UnsupportedEncoding",
    "accept_encoding",
]

#: Output handed out per step of inflation.
CHUNK = 64 * 1024


class BodyTooLarge(Exception):
    """The body passed the cap (raised as soon as it does)."""


class BadEncoding(Exception):
    """The body's bytes cannot be inflated in the encoding it declares."""


class UnsupportedEncoding(Exception):
    """The body's ``Content-Encoding`` is not one the SDK can inflate within bounds."""


class _Zlib:
    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._inflate = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._inflate.decompress(data, CHUNK)
            except zlib.error:
                if self._started or self._wbits != zlib.MAX_WBITS:
                    raise
                # "deflate" is sent both zlib-wrapped and raw: retry as raw.
                self._wbits = -zlib.MAX_WBITS
                self._inflate = zlib.decompressobj(self._wbits)
                continue
            self._started = True
            yield out
            if self._inflate.eof:
                return  # trailing bytes after the stream are ignored, as httpx does
            data = self._inflate.unconsumed_tail

    def flush(self) -> Iterator[bytes]:
        while not self._inflate.eof:
            out = self._inflate.decompress(b"", CHUNK)
            if not out:
                break
            yield out


class _Brotli:
    def __init__(self, module: Any) -> None:
        self._inflate = module.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        yield self._inflate.process(data, output_buffer_limit=CHUNK)
        while not self._inflate.can_accept_more_data():
            yield self._inflate.process(b"", output_buffer_limit=CHUNK)

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Sink:
    """Where zstandard writes its output; refuses more than the body has room for."""

    __slots__ = ("out", "pending", "room")

    def __init__(self, room: Callable[[], int]) -> None:
        self.out: list[bytes] = []
        self.pending = 0
        self.room = room

    def write(self, data: bytes) -> int:
        # zstandard hands out at most CHUNK bytes per call: the cap is checked
        # between them, so a tiny frame that inflates to gigabytes stops early.
        self.pending += len(data)
        if self.pending > self.room():
            raise BodyTooLarge
        self.out.append(bytes(data))
        return len(data)


class _Zstd:
    def __init__(self, module: Any, room: Callable[[], int]) -> None:
        self._sink = _Sink(room)
        self._inflate = module.ZstdDecompressor().stream_writer(
            self._sink, write_size=CHUNK, write_return_read=True
        )

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._inflate.write(data)
        return self._drain()

    def _drain(self) -> Iterator[bytes]:
        out, self._sink.out, self._sink.pending = self._sink.out, [], 0
        return iter(out)

    def flush(self) -> Iterator[bytes]:
        self._inflate.flush()
        return self._drain()


def _brotli_module() -> Any:
    try:
        # Optional and untyped; "unused-ignore" covers installs where it is absent.
        import brotli  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    decompressor = getattr(brotli, "Decompressor", None)
    if decompressor is None or not hasattr(decompressor, "can_accept_more_data"):
        return None  # too old to bound its output
    return brotli


def _zstd_module() -> Any:
    try:
        # Optional; typed in some releases, hence the same three codes.
        import zstandard  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    return zstandard


@functools.cache
def _decoders() -> dict[str, Callable[[Callable[[], int]], Any]]:
    """Decoder factories by encoding; each takes a function giving the room left in the body.

    Built on first use, so that importing the SDK does not import brotli and zstandard.
    """
    decoders: dict[str, Callable[[Callable[[], int]], Any]] = {
        "gzip": lambda room: _Zlib(zlib.MAX_WBITS | 16),
        "x-gzip": lambda room: _Zlib(zlib.MAX_WBITS | 16),
        "deflate": lambda room: _Zlib(zlib.MAX_WBITS),
    }
    brotli = _brotli_module()
    if brotli is not None:
        decoders["br"] = lambda room: _Brotli(brotli)
    zstd = _zstd_module()
    if zstd is not None:
        decoders["zstd"] = lambda room: _Zstd(zstd, room)
    return decoders


@functools.cache
def accept_encoding() -> str:
    """The ``Accept-Encoding`` the SDK sends: only what it can inflate within bounds."""
    return ", ".join(name for name in _decoders() if name != "x-gzip")


class BoundedBody:
    """Collects a response body, inflating it per ``Content-Encoding``, up to *limit* bytes."""

    __slots__ = ("_chunks", "_decoders", "_limit", "_size")

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        names = [
            name.strip().lower()
            for name in (content_encoding or "").split(",")
            if name.strip() and name.strip().lower() != "identity"
        ]
        decoders = _decoders()
        unknown = [name for name in names if name not in decoders]
        if unknown:
            raise UnsupportedEncoding(", ".join(unknown))
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0
        # Encodings apply in the order listed: undo them in reverse.
        self._decoders = [decoders[name](self._room) for name in reversed(names)]

    def _room(self) -> int:
        return self._limit - self._size

    def feed(self, data: bytes) -> None:
        """Add raw bytes as read from the wire.

        Raises:
            BodyTooLarge: The body passed the cap.
            BadEncoding: The bytes cannot be inflated.
        """
        try:
            self._take(self._through(0, iter((data,))))
        except BodyTooLarge:
            raise
        except Exception as exc:  # zlib.error, brotli.error, zstandard.ZstdError, ...
            raise BadEncoding(type(exc).__name__) from None

    def finish(self) -> bytes:
        """Flush the decoders and return the whole body (raises like ``feed``)."""
        try:
            for level, decoder in enumerate(self._decoders):
                self._take(self._through(level + 1, decoder.flush()))
        except BodyTooLarge:
            raise
        except Exception as exc:
            raise BadEncoding(type(exc).__name__) from None
        return b"".join(self._chunks)

    def _through(self, level: int, pieces: Iterator[bytes]) -> Iterator[bytes]:
        if level == len(self._decoders):
            yield from pieces
            return
        decoder = self._decoders[level]
        for piece in pieces:
            yield from self._through(level + 1, decoder.feed(piece))

    def _take(self, pieces: Iterator[bytes]) -> None:
        for piece in pieces:
            if not piece:
                continue
            self._size += len(piece)
            if self._size > self._limit:
                raise BodyTooLarge
            self._chunks.append(piece)
