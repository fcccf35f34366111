"""A tiny raw asyncio HTTP/1.1 server that misbehaves on purpose, for tests.

    async with HostileServer(trickle_body) as url:
        ...  # point a client at url

A handler is ``async (reader, writer) -> None``: it reads the request (with
``read_request``) and then does what it likes with the connection. The server
closes the connection when the handler returns; network errors from a client
that went away end the handler quietly; any other error in a handler is
re-raised by ``__aexit__``, so a broken handler cannot pass a test unseen.

Every loop in the handlers here ends when the client disconnects, and
``__aexit__`` cancels the handlers still running, closes every connection and
returns within ``shutdown_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import weakref
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

__all__ = [
    "BOMB_SIZE",
    "TICK",
    "Handler",
    "HostileServer",
    "Request",
    "Seen",
    "answer",
    "bomb",
    "close_after_answer",
    "continue_loop",
    "drop_after_reading",
    "drop_before_reading",
    "gzip_bomb",
    "read_request",
    "reset_after_reading",
    "script",
    "silent",
    "trickle_body",
    "trickle_headers",
]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

#: The pace of the trickling handlers: one write every TICK seconds.
TICK = 0.05
#: What a compression bomb inflates to: 300 MiB of zeros.
BOMB_SIZE = 300 * 1024 * 1024
_MIB = 1024 * 1024

#: Errors that only mean the client went away (or never finished its request).
_GONE = (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


@dataclass
class Request:
    """A request as read off the wire: the head verbatim, headers lower-cased."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    head: bytes


class Seen:
    """The requests a handler read, in order; ``await seen.wait_for(n)`` for n of them."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._changed = asyncio.Condition()

    def __len__(self) -> int:
        return len(self.requests)

    def __getitem__(self, index: int) -> Request:
        return self.requests[index]

    async def add(self, request: Request) -> None:
        async with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    async def wait_for(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: len(self.requests) >= count)


#: Where ``read_request`` records what it read: each connection's server's ``seen``.
_RECORDERS: weakref.WeakKeyDictionary[asyncio.StreamReader, Seen] = weakref.WeakKeyDictionary()


async def read_request(reader: asyncio.StreamReader) -> Request:
    """Read one request: its head, then as many body bytes as ``Content-Length`` says.

    The request is recorded in the server's ``seen``.
    """
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    request = Request(method, target, headers, body, head)
    recorder = _RECORDERS.get(reader)
    if recorder is not None:
        await recorder.add(request)
    return request


def _gone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Whether the client closed its side (or the connection is being closed)."""
    return writer.is_closing() or reader.at_eof()


async def _drip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pieces: Iterable[bytes]
) -> None:
    """Write *pieces* one every ``TICK`` seconds, until they run out or the client is gone."""
    for piece in pieces:
        if _gone(reader, writer):
            return
        writer.write(piece)
        await writer.drain()  # raises ConnectionResetError once the connection is lost
        await asyncio.sleep(TICK)


async def _until_gone(reader: asyncio.StreamReader) -> None:
    """Read (and drop) whatever the client sends until it closes its side."""
    while await reader.read(64 * 1024):
        pass


def _response_head(status: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# --- handlers -------------------------------------------------------------------------


async def trickle_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Valid headers (``Content-Length`` of a megabyte), then one body byte per ``TICK``."""
    await read_request(reader)
    writer.write(
        _response_head("200 OK", {"Content-Type": "application/json", "Content-Length": "1000000"})
    )
    await _drip(reader, writer, itertools.repeat(b" "))


async def trickle_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A status line and a header that never ends, one byte per ``TICK``."""
    await read_request(reader)
    prefix = b"HTTP/1.1 200 OK\r\nX-Trickle: "
    pieces = itertools.chain((bytes([byte]) for byte in prefix), itertools.repeat(b"a"))
    await _drip(reader, writer, pieces)


async def continue_loop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``100 Continue``, one per ``TICK``, for ever: never a final response."""
    await read_request(reader)
    await _drip(reader, writer, itertools.repeat(b"HTTP/1.1 100 Continue\r\n\r\n"))


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, read the request, never answer (until the client goes away)."""
    await read_request(reader)
    await _until_gone(reader)


def answer(
    body: bytes,
    *,
    status: str = "200 OK",
    headers: Mapping[str, str] | None = None,
    hold: asyncio.Event | None = None,
) -> Handler:
    """A handler that answers *body* with ``Connection: close``, then closes.

    ``Content-Type: application/json`` and ``Content-Length`` are added unless
    *headers* sets them. With *hold*, every answer waits until the event is
    set (or the client goes away).
    """
    all_headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        **(headers or {}),
        "Connection": "close",
    }
    head = _response_head(status, all_headers)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if hold is not None and not hold.is_set():
            released = asyncio.ensure_future(hold.wait())
            gone = asyncio.ensure_future(_until_gone(reader))
            try:
                await asyncio.wait([released, gone], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (released, gone):
                    waiter.cancel()
                await asyncio.gather(released, gone, return_exceptions=True)
            if not hold.is_set():
                return  # the client left while held
        writer.write(head + body)
        await writer.drain()

    return handler


#: A valid 200 JSON answer (``{"count": 1}``) with ``Connection: close``.
close_after_answer = answer(b'{"count": 1}')


async def drop_before_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close the connection as soon as it is accepted, reading nothing."""


async def drop_after_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request (the server may have acted on it), then close without a word."""
    await read_request(reader)


async def reset_after_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request, then reset the connection (RST)."""
    await read_request(reader)
    writer.transport.abort()


def script(*handlers: Handler) -> Handler:
    """A handler that serves the n-th connection with the n-th of *handlers* (then the last)."""
    connections = itertools.count()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handlers[min(next(connections), len(handlers) - 1)](reader, writer)

    return handler


# --- compression bombs ----------------------------------------------------------------


def _zlib_bomb(wbits: int, size: int) -> bytes:
    """A gzip (wbits 31) or zlib (wbits 15) stream of *size* zeros, built in milliseconds.

    After a full flush the compressor starts afresh, so every further MiB of
    zeros compresses to the same bytes: compress two MiB, repeat the second,
    and write the trailer's checksum for the whole length.
    """
    zeros = bytes(_MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()  # the last (empty) block and a trailer for 2 MiB
    count = size // _MIB
    if wbits > zlib.MAX_WBITS:  # gzip: CRC-32 and length, little-endian
        crc = 0
        for _ in range(count):
            crc = zlib.crc32(zeros, crc)
        trailer = crc.to_bytes(4, "little") + (size % 2**32).to_bytes(4, "little")
    else:  # zlib: Adler-32, big-endian
        adler = 1
        for _ in range(count):
            adler = zlib.adler32(zeros, adler)
        trailer = adler.to_bytes(4, "big")
    return first + again * (count - 1) + end[: -len(trailer)] + trailer


@functools.cache
def bomb(encoding: str) -> bytes:
    """A small body in *encoding* that inflates to ``BOMB_SIZE`` zeros (built once a session)."""
    if encoding == "gzip":
        return _zlib_bomb(zlib.MAX_WBITS | 16, BOMB_SIZE)
    if encoding == "deflate":
        return _zlib_bomb(zlib.MAX_WBITS, BOMB_SIZE)
    zeros = bytes(_MIB)
    if encoding == "br":
        import brotli

        compressor = brotli.Compressor(quality=1)
        parts = [compressor.process(zeros) for _ in range(BOMB_SIZE // _MIB)]
        return b"".join([*parts, compressor.finish()])
    if encoding == "zstd":
        import zstandard

        stream = zstandard.ZstdCompressor(level=1).compressobj()
        parts = [stream.compress(zeros) for _ in range(BOMB_SIZE // _MIB)]
        return b"".join([*parts, stream.flush()])
    raise ValueError(f"no bomb for {encoding!r}")


def gzip_bomb(encoding: str = "gzip") -> Handler:
    """A handler answering 200 with a body in *encoding* that inflates to 300 MiB of zeros.

    *encoding* is ``gzip``, ``deflate``, ``br`` or ``zstd``; the compressed
    bytes are made here (once a session), not while the handler runs.
    """
    return answer(bomb(encoding), headers={"Content-Encoding": encoding})


# --- the server -----------------------------------------------------------------------


@dataclass
class HostileServer:
    """``async with HostileServer(handler) as url``: *handler* serves every connection."""

    handler: Handler
    shutdown_timeout: float = 2.0
    host: str = "127.0.0.1"
    #: Connections accepted so far.
    connections: int = 0
    #: Every request the handlers read (with ``read_request``), in order.
    seen: Seen = field(default_factory=Seen)
    url: str = ""
    _server: asyncio.Server | None = field(default=None, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set, repr=False)
    _errors: list[BaseException] = field(default_factory=list, repr=False)
    _closing: bool = field(default=False, repr=False)
    _idle: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def active(self) -> int:
        """Handlers running now."""
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Wait until no handler is running (every connection is closed)."""
        while self._tasks:
            await self._idle.wait()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"
        return self.url

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._closing:
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self.connections += 1
        self._tasks.add(task)
        self._idle.clear()
        self._writers.add(writer)
        _RECORDERS[reader] = self.seen
        try:
            await self.handler(reader, writer)
        except _GONE:
            pass  # the client went away: nothing to report
        except asyncio.CancelledError:
            # __aexit__ ends handlers so. End quietly: on Python 3.11, start_server's
            # done-callback calls task.exception(), which raises on a cancelled task.
            pass
        except Exception as exc:
            self._errors.append(exc)
        finally:
            # Closing flushes what is still buffered; leaving, or after a client
            # that stopped reading for shutdown_timeout, the rest is dropped.
            if self._closing:
                writer.transport.abort()
            else:
                writer.close()
            try:
                async with asyncio.timeout(self.shutdown_timeout):
                    await writer.wait_closed()
            except (Exception, asyncio.CancelledError):
                writer.transport.abort()
            self._writers.discard(writer)
            self._tasks.discard(task)
            if not self._tasks:
                self._idle.set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        assert self._server is not None
        self._server.close()
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self.shutdown_timeout)
        for writer in list(self._writers):  # only a handler that ignored its cancellation
            writer.transport.abort()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.shutdown_timeout):
                await self._server.wait_closed()
        if self._errors and exc_type is None:
            raise self._errors[0]
