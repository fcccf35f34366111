"""The transport against servers that misbehave on a real socket (see tests/hostile.py).

Every test that is not about httpcore's pool runs on both HTTP backends.

A server that trickles, loops on ``100 Continue`` or never answers is cut off
by the whole-attempt deadline; a compression bomb is refused within bounded
memory; the pool survives a cancellation in the window of encode/httpcore#1093.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import select
import socket
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpcore
import httpx
import pytest

import sms_async._http
from sms_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncSmsClient,
    MalformedResponseError,
)
from sms_async._constants import MAX_RESPONSE_BYTES

from .conftest import KEY, USER
from .hostile import (
    Handler,
    HostileServer,
    answer,
    close_after_answer,
    continue_loop,
    gzip_bomb,
    read_request,
    silent,
    trickle_body,
    trickle_headers,
)

MIB = 1024 * 1024
#: Generous: the deadlines under test are 0.3 to 0.5 s.
BOUND = 5.0

try:
    import brotli
except ImportError:  # pragma: no cover - installed in the test environment
    brotli = None
try:
    import zstandard
except ImportError:  # pragma: no cover - installed in the test environment
    zstandard = None

needs_brotli = pytest.mark.skipif(brotli is None, reason="brotli is not installed")
needs_zstd = pytest.mark.skipif(zstandard is None, reason="zstandard is not installed")


def make_client(url: str, **options: object) -> AsyncSmsClient:
    return AsyncSmsClient(USER, KEY, base_url=url, task_base_url=url, max_retries=0, **options)


@contextlib.asynccontextmanager
async def serving(
    server: HostileServer | Handler, **options: object
) -> AsyncIterator[AsyncSmsClient]:
    """A HostileServer (or one running a handler) and a client on it; both closed after."""
    if not isinstance(server, HostileServer):
        server = HostileServer(server)
    async with server as url, make_client(url, **options) as client:
        yield client


# --- the whole-attempt deadline ---------------------------------------------------------

SLOW_SERVERS = [
    pytest.param(trickle_body, id="trickle_body"),
    pytest.param(trickle_headers, id="trickle_headers"),
    pytest.param(continue_loop, id="continue_loop"),
]
TIMEOUTS = [
    pytest.param(0.5, id="float"),
    pytest.param(httpx.Timeout(0.3, connect=0.3), id="httpx.Timeout"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("client_timeout", TIMEOUTS)
@pytest.mark.parametrize("handler", SLOW_SERVERS)
async def test_a_server_that_never_finishes_hits_the_whole_attempt_deadline(
    handler: Handler, client_timeout: float | httpx.Timeout, http_backend: str
) -> None:
    # Each byte comes well within the read timeout: only the whole-attempt
    # deadline can end these calls.
    async with serving(handler, timeout=client_timeout, http_backend=http_backend) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await client.contact_lists.delete(5)
        elapsed = time.monotonic() - started
    assert info.value.request_sent is True
    assert info.value.method == "DELETE"
    assert info.value.path == "/v1/contact_lists/5"
    assert elapsed < BOUND, f"the call ended after {elapsed:.1f} s"


@pytest.mark.timeout(30)
async def test_a_silent_server_times_out_with_the_request_sent(http_backend: str) -> None:
    async with serving(silent, timeout=0.3, http_backend=http_backend) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await client.contact_lists.delete(5)
        elapsed = time.monotonic() - started
    assert info.value.request_sent is True
    assert elapsed < BOUND


@pytest.mark.timeout(30)
async def test_a_refused_connection_was_not_sent(http_backend: str) -> None:
    # A socket bound but not listening: a connect to its port is refused, and
    # no one else can take the port while we hold it.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        async with make_client(url, timeout=2, http_backend=http_backend) as client:
            with pytest.raises(APIConnectionError) as info:
                await client.contact_lists.delete(5)
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.request_sent is False


@pytest.mark.timeout(30)
async def test_a_request_that_never_got_a_connection_was_not_sent() -> None:
    # Your own http_client with one connection, shared by two SDK clients: A (with
    # a long timeout) holds the connection at a server that never answers, while B
    # (0.3 s) waits in httpx's pool until its whole-attempt deadline.
    server = HostileServer(answer(b'{"count": 1}', hold=asyncio.Event()))  # never released
    seen = server.seen
    async with (
        server as url,
        httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as http,
        make_client(url, timeout=BOUND, http_client=http) as holder,
        make_client(url, timeout=0.3, http_client=http) as client,
    ):
        a = asyncio.ensure_future(holder.contact_lists.delete(1))
        async with asyncio.timeout(BOUND):
            await seen.wait_for(1)  # A holds the only connection
        with pytest.raises(APITimeoutError) as info:
            await client.contact_lists.delete(2)
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
    assert len(seen) == 1  # B never reached the server
    assert info.value.request_sent is False, str(info.value)


@pytest.mark.timeout(30)
async def test_a_request_that_waited_for_a_slot_until_its_deadline_was_not_sent(
    http_backend: str,
) -> None:
    # One slot: A holds it at a server that never answers; B waits for the slot
    # until its whole-attempt deadline.
    server = HostileServer(answer(b'{"count": 1}', hold=asyncio.Event()))  # never released
    seen = server.seen
    async with (
        server as url,
        make_client(url, timeout=BOUND, max_concurrency=1, http_backend=http_backend) as client,
    ):
        a = asyncio.ensure_future(client.contact_lists.delete(1))
        async with asyncio.timeout(BOUND):
            await seen.wait_for(1)  # A holds the only slot
        b_client = client.with_options(timeout=0.3)
        with pytest.raises(APITimeoutError) as info:
            await b_client.contact_lists.delete(2)
        a.cancel()
        with pytest.raises(asyncio.CancelledError):
            await a
    assert len(seen) == 1  # B never reached the server
    assert info.value.request_sent is False, str(info.value)


# --- bodies: bombs, encodings --------------------------------------------------------------

ENCODINGS = [
    pytest.param("gzip"),
    pytest.param("deflate"),
    pytest.param("br", marks=needs_brotli),
    pytest.param("zstd", marks=needs_zstd),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_a_compression_bomb_is_refused_within_bounded_memory(
    encoding: str, http_backend: str
) -> None:
    handler = gzip_bomb(encoding)  # the compressed bytes exist before tracing starts
    async with serving(handler, timeout=20, http_backend=http_backend) as client:
        was_tracing = tracemalloc.is_tracing()
        if not was_tracing:
            tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            baseline, _ = tracemalloc.get_traced_memory()
            with pytest.raises(MalformedResponseError) as info:
                await client.contact_lists.delete(5)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            if not was_tracing:
                tracemalloc.stop()
    assert info.value.status_code == 200
    assert f"larger than {MAX_RESPONSE_BYTES} bytes" in str(info.value)
    # The cap is 16 MiB; inflating the whole bomb would take 300 MiB.
    allocated = peak - baseline
    assert allocated < 64 * MIB, f"{encoding}: {allocated / MIB:.0f} MiB allocated during the call"


@pytest.mark.timeout(30)
async def test_an_unknown_content_encoding_is_malformed(http_backend: str) -> None:
    handler = answer(b"\x1f\x9d\x90{", headers={"Content-Encoding": "compress"})
    async with serving(handler, timeout=5, http_backend=http_backend) as client:
        with pytest.raises(MalformedResponseError) as info:
            await client.contact_lists.delete(5)
    assert info.value.status_code == 200
    assert "unsupported Content-Encoding 'compress'" in str(info.value)


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


COMPRESSORS: list[object] = [
    pytest.param("gzip", gzip.compress, id="gzip"),
    pytest.param("deflate", zlib.compress, id="deflate-zlib"),
    pytest.param("deflate", _raw_deflate, id="deflate-raw"),
    pytest.param("br", lambda data: brotli.compress(data), id="br", marks=needs_brotli),
    pytest.param(
        "zstd",
        lambda data: zstandard.compress(data),
        id="zstd",
        marks=needs_zstd,
    ),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("encoding", "compress"), COMPRESSORS)
async def test_a_small_compressed_body_is_decoded(
    encoding: str, compress: Callable[[bytes], bytes], http_backend: str
) -> None:
    body = compress(b'{"count": 3}')
    server = HostileServer(answer(body, headers={"Content-Encoding": encoding}))
    async with serving(server, timeout=5, http_backend=http_backend) as client:
        assert await client.contact_lists.delete(5) == 3
    assert len(server.seen) == 1
    assert server.seen[0].method == "DELETE"
    assert server.seen[0].target == "/v1/contact_lists/5"


@pytest.mark.timeout(30)
async def test_accept_encoding_lists_what_the_sdk_can_inflate(http_backend: str) -> None:
    server = HostileServer(close_after_answer)
    async with serving(server, timeout=5, http_backend=http_backend) as client:
        assert await client.contact_lists.delete(5) == 1
    seen = server.seen
    offered = {name.strip() for name in seen[0].headers["accept-encoding"].split(",")}
    assert {"gzip", "deflate"} <= offered
    assert ("br" in offered) == (brotli is not None)
    assert ("zstd" in offered) == (zstandard is not None)
    assert b"\r\nAccept-Encoding: " in seen[0].head


@pytest.mark.timeout(30)
async def test_a_server_that_closes_after_each_answer_serves_call_after_call(
    http_backend: str,
) -> None:
    async with serving(
        close_after_answer, timeout=5, max_concurrency=1, http_backend=http_backend
    ) as client:
        for list_id in range(1, 4):
            assert await client.contact_lists.delete(list_id) == 1


# --- the pool and cancellation (encode/httpcore#1093) ----------------------------------------
#
# Request A is held at the server and holds the client's only slot; B waits for
# the slot. The server closes every connection after its answer, so when A ends
# B needs a new connection: the pool makes one for it, and B is cancelled
# before its first use of it. httpcore's own pool then keeps that connection
# for ever (neither idle, available, expired nor closed, owned by no request):
# with max_concurrency=1 every later request waits for it until it times out.
#
# Where B can be cancelled: with the SDK's slot in front of the pool, B reaches
# the pool alone and assigns the new connection to itself, then goes straight
# into it; a cancellation while it connects is harmless (httpcore marks the
# connection failed). The window that leaks is just after the TCP connect: the
# connection is made (HTTP/1.1 state NEW) and B is suspended at the checkpoint
# of the connection's state lock, before it marks the connection ACTIVE.

#: Event-loop turns between A's end and B's cancellation, each on a fresh client.
TURNS = range(16)

CancelB = Callable[[asyncio.Task[int], AsyncSmsClient], Awaitable[None]]


def _pool(client: AsyncSmsClient) -> Any:
    """The client's httpcore connection pool (SDK and httpx internals)."""
    return client._transport._backend.http_client._transport._pool


def _connected_unused(client: AsyncSmsClient) -> bool:
    """Whether the pool holds a connection that is connected but never used (state NEW)."""
    return any(", NEW, Request Count: 0" in c.info() for c in _pool(client).connections)


def after_turns(turns: int) -> CancelB:
    """Cancel B *turns* event-loop turns after A ended (0: at B's first suspension)."""

    async def cancel(b: asyncio.Task[int], client: AsyncSmsClient) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)
        b.cancel()

    return cancel


async def when_connected_unused(b: asyncio.Task[int], client: AsyncSmsClient) -> None:
    """Cancel B exactly in httpcore#1093's window: its new connection connected, unused.

    B runs without a pause from the end of the TCP connect to the state lock's
    checkpoint, so whenever this task sees the connection NEW, B is suspended
    there; B is cancelled before its next step.
    """
    async with asyncio.timeout(BOUND):
        # No event to wait for: the state is httpcore's.
        while not _connected_unused(client):  # noqa: ASYNC110
            await asyncio.sleep(0)  # one turn at a time: B must not run past the window
    b.cancel()


async def _cancel_b_then_call_c(
    cancel_b: CancelB, *, client_timeout: float
) -> BaseException | None:
    """Run A, B and C as described above; return what C raised (``None``: it succeeded)."""
    hold = asyncio.Event()
    server = HostileServer(answer(b'{"count": 1}', hold=hold))
    async with serving(server, timeout=client_timeout, max_concurrency=1) as client:
        a = asyncio.ensure_future(client.contact_lists.delete(1))
        async with asyncio.timeout(BOUND):
            await server.seen.wait_for(1)  # A is at the server, holding the client's only slot
        b = asyncio.ensure_future(client.contact_lists.delete(2))
        await asyncio.sleep(0)  # one turn: B runs until it waits for the slot
        assert not b.done()
        hold.set()
        async with asyncio.timeout(BOUND):
            assert await a == 1
        # A's release of the slot woke B, and B ran to its first suspension
        # before this task resumed.
        await cancel_b(b, client)
        done, _ = await asyncio.wait([b], timeout=BOUND)
        assert done, "B did not end after its cancellation"
        try:
            assert await client.contact_lists.delete(3) == 1
        except (APIConnectionError, AssertionError) as exc:
            return exc
        return None


@pytest.mark.timeout(30)
async def test_the_pool_survives_a_cancellation_in_the_httpcore_1093_window() -> None:
    assert await _cancel_b_then_call_c(when_connected_unused, client_timeout=BOUND) is None


@pytest.mark.timeout(30)
async def test_the_pool_survives_a_cancellation_at_any_turn_after_a_connection_was_made() -> None:
    failures = {}
    for turns in TURNS:
        failure = await _cancel_b_then_call_c(after_turns(turns), client_timeout=2.0)
        if failure is not None:
            failures[turns] = repr(failure)
    assert failures == {}


@pytest.mark.timeout(30)
async def test_canary_httpcore_1093_an_unhardened_pool_still_wedges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CANARY for encode/httpcore#1093: httpcore's own pool still leaks the connection.

    If this test fails, httpcore's pool no longer wedges here: httpcore may have
    fixed #1093, and ``sms_async._http.harden_pool`` may no longer be needed.
    """
    monkeypatch.setattr(sms_async._http, "harden_pool", lambda transport: False)
    failure = await _cancel_b_then_call_c(when_connected_unused, client_timeout=1.0)
    assert isinstance(failure, APITimeoutError), (
        f"httpcore {httpcore.__version__}'s own pool did not wedge: {failure!r}"
    )


# --- idle connections the server closed (the SDK's own pool) ---------------------------------
#
# httpcore asks each idle connection "is the socket readable?" before it reuses
# it: readable while idle means the server hung up. The SDK's own client answers
# from the socket it looked up once (sms_async._http._QuickStream), not through
# anyio's attribute table; the answers must be the same.

_KEEP_ALIVE_ANSWER = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"count": 1}'
)


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on the connection, keeping it open, until the client leaves."""
    with contextlib.suppress(asyncio.IncompleteReadError):
        while True:
            await read_request(reader)
            writer.write(_KEEP_ALIVE_ANSWER)
            await writer.drain()


def keep_alive_then_hang_up(hang_up: asyncio.Event) -> Handler:
    """Answer one request without ``Connection: close``; close the connection on *hang_up*."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(_KEEP_ALIVE_ANSWER)
        await writer.drain()
        await hang_up.wait()

    return handler


def _idle_streams(client: AsyncSmsClient) -> list[Any]:
    """The network streams of the pool's idle connections."""
    return [c._connection._network_stream for c in _pool(client).connections if c.is_idle()]


@pytest.mark.timeout(30)
async def test_an_idle_connection_the_server_keeps_open_is_reused() -> None:
    server = HostileServer(keep_alive)
    async with serving(server, timeout=5, max_concurrency=1) as client:
        for list_id in range(1, 4):
            assert await client.contact_lists.delete(list_id) == 1
            (stream,) = _idle_streams(client)
            assert isinstance(stream, sms_async._http._QuickStream)
            assert stream.get_extra_info("is_readable") is False
            assert stream._inner.get_extra_info("is_readable") is False  # httpcore's answer
    assert server.connections == 1


@pytest.mark.timeout(30)
async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    hang_up = asyncio.Event()
    server = HostileServer(keep_alive_then_hang_up(hang_up))
    async with serving(server, timeout=5, max_concurrency=1) as client:
        for list_id in range(1, 4):
            hang_up.clear()
            assert await client.contact_lists.delete(list_id) == 1
            (stream,) = _idle_streams(client)
            assert stream.get_extra_info("is_readable") is False
            hang_up.set()  # the server closes the idle connection
            sock = stream.get_extra_info("socket")
            # Wait (in a thread, no sleeping) for the hang-up to reach the socket.
            readable, _, _ = await asyncio.to_thread(select.select, [sock], [], [], BOUND)
            assert readable
            assert stream.get_extra_info("is_readable") is True
            assert stream._inner.get_extra_info("is_readable") is True  # httpcore's answer
    # Each call went out on a new connection, none on the one the server closed
    # (with max_retries=0, a call sent on it would have failed).
    assert server.connections == 3


# --- the test server itself ---------------------------------------------------------------

REQUEST = b"DELETE /v1/contact_lists/5 HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\n{}"

HANDLERS = [
    pytest.param(lambda: trickle_body, id="trickle_body"),
    pytest.param(lambda: trickle_headers, id="trickle_headers"),
    pytest.param(lambda: continue_loop, id="continue_loop"),
    pytest.param(lambda: silent, id="silent"),
    pytest.param(lambda: close_after_answer, id="close_after_answer"),
    pytest.param(lambda: gzip_bomb("gzip"), id="gzip_bomb"),
    pytest.param(lambda: answer(b"{}", hold=asyncio.Event()), id="held"),
]


async def _raw_request(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = httpx.URL(url)
    reader, writer = await asyncio.open_connection(address.host, address.port)
    writer.write(REQUEST)
    await writer.drain()
    return reader, writer


@pytest.mark.timeout(30)
@pytest.mark.parametrize("make_handler", HANDLERS)
async def test_every_handler_ends_when_its_client_goes_away(
    make_handler: Callable[[], Handler],
) -> None:
    server = HostileServer(make_handler())
    async with server as url:
        _, writer = await _raw_request(url)
        async with asyncio.timeout(BOUND):
            await server.seen.wait_for(1)
        assert server.seen[0].body == b"{}"
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(BOUND):
            await server.wait_idle()
        assert server.active == 0
    assert server.connections == 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("make_handler", HANDLERS)
async def test_leaving_the_server_closes_its_connections_promptly(
    make_handler: Callable[[], Handler],
) -> None:
    server = HostileServer(make_handler())
    async with server as url:
        reader, writer = await _raw_request(url)
        async with asyncio.timeout(BOUND):
            await server.seen.wait_for(1)
        started = time.monotonic()
    assert time.monotonic() - started < BOUND
    assert server.active == 0
    # The client is never left hanging: its connection ends (EOF or a reset).
    async with asyncio.timeout(BOUND):
        with contextlib.suppress(ConnectionError):
            while await reader.read(64 * 1024):
                pass
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
