"""The HTTP stack behind the transport: the httpx client the SDK makes for itself.

Everything that knows httpx's and httpcore's insides lives here, so that a
move to another stack (httpx2, aiohttp) is a change of this module.

**The pool survives cancellation.** httpcore 1.0 (encode/httpcore#1093) leaks
a connection when a request is cancelled after the pool assigned it a *new*
connection but before the request used it -- while the connection is still
connecting, or connected but not yet sending (HTTP/1.1 state ``NEW``): the
connection stays in the pool, neither idle nor available nor expired, owned
by no request. After
``max_connections`` such leaks every request waits for a connection until it
fails with ``PoolTimeout``, for the life of the client. ``harden_pool`` gives
the pool a subclass that, when a request enters the pool and whenever one
leaves it with an exception (a cancellation included), closes every
never-used connection that no request owns and hands the waiting requests
new ones. It changes nothing
else, and does nothing on an httpcore whose insides it does not recognise.
"""

from __future__ import annotations

import contextlib
import functools
import select
import socket
import ssl
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import httpcore
import httpx

from ._cancel import Background, honour_cancellation
from ._constants import CLOSE_TIMEOUT
from ._exchange import Outgoing, Reply, SendProgress

if TYPE_CHECKING:
    from ._answers import Answers

__all__ = [
    "HttpxBackend",
    "default_ssl_context",
    "harden_client",
    "harden_pool",
    "is_hardened",
    "make_http_client",
    "traces_sends",
]


class _CancellationSafePool(httpcore.AsyncConnectionPool):
    """httpcore's pool, less the orphaned-connection leak of encode/httpcore#1093."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        with self._optional_thread_lock:
            closing = self._drop_orphans()
        if closing:
            await self._close_connections(closing)
        try:
            return await super().handle_async_request(request)
        except BaseException:
            with self._optional_thread_lock:
                closing = self._drop_orphans()
            await self._close_connections(closing)
            raise

    def _drop_orphans(self) -> list[Any]:
        owned = {id(pool_request.connection) for pool_request in self._requests}
        orphans = [
            connection
            for connection in self._connections
            if id(connection) not in owned and _stranded(connection)
        ]
        if not orphans:
            return []
        for connection in orphans:
            self._connections.remove(connection)
        # The slots they held go to the requests waiting for one.
        closing: list[Any] = self._assign_requests_to_connections()
        return [*orphans, *closing]


def _stranded(connection: object) -> bool:
    """True for a connection no request can ever use or free again, once no request owns it.

    Either it never connected (``CONNECTING``), or it is an HTTP/1.1 connection
    that is neither idle nor closed: ``NEW`` (connected, and the request was
    cancelled before it began) or ``ACTIVE`` (its request's cleanup was cut
    short by a second cancellation). httpcore counts such a connection as
    neither idle, available nor expired, so nothing would ever take it out of
    the pool. Only called for connections that no request owns.
    """
    if not isinstance(connection, httpcore.AsyncHTTPConnection):
        return False
    inner = getattr(connection, "_connection", False)
    if inner is None:
        return getattr(connection, "_connect_failed", True) is False
    if isinstance(inner, httpcore.AsyncHTTP11Connection):
        return not (inner.is_idle() or inner.is_closed())
    return False


def harden_pool(transport: object) -> bool:
    """Make *transport*'s connection pool cancellation-safe; return whether it could.

    Only httpx's own ``AsyncHTTPTransport`` over httpcore's plain
    ``AsyncConnectionPool`` is changed (its class, no state); any other
    transport (a mock, the in-process fake, a proxy pool) is left alone.
    """
    pool = getattr(transport, "_pool", None)
    if type(pool) is httpcore.AsyncConnectionPool and _knows_pool_internals(pool):
        pool.__class__ = _CancellationSafePool
        return True
    return is_hardened(transport)


def is_hardened(transport: object) -> bool:
    """Whether *transport*'s pool is the cancellation-safe one."""
    return isinstance(getattr(transport, "_pool", None), _CancellationSafePool)


def _knows_pool_internals(pool: object) -> bool:
    return all(
        hasattr(pool, name)
        for name in (
            "_requests",
            "_connections",
            "_optional_thread_lock",
            "_assign_requests_to_connections",
            "_close_connections",
        )
    )


def _transports(http_client: httpx.AsyncClient) -> list[object]:
    """Every transport *http_client* may send through: its own and its mounts' (proxies)."""
    transports = [getattr(http_client, "_transport", None)]
    transports += list(getattr(http_client, "_mounts", {}).values())
    return [transport for transport in transports if transport is not None]


def harden_client(http_client: httpx.AsyncClient) -> bool:
    """Harden the pools of *http_client*'s transports (its own and its mounts)."""
    hardened = [harden_pool(transport) for transport in _transports(http_client)]
    return any(hardened)


def traces_sends(http_client: httpx.AsyncClient) -> bool:
    """Whether every transport of *http_client* is httpcore's (which emits trace events)."""
    return all(
        isinstance(transport, httpx.AsyncHTTPTransport) for transport in _transports(http_client)
    )


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """One SSL context per process for every client with the default TLS settings.

    Building one (loading the CA bundle) costs about 20 ms of CPU; a context is
    safe to share between connections and clients.
    """
    return httpx.create_ssl_context()


def make_http_client(*, timeout: httpx.Timeout, max_connections: int) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` an ``AsyncSmsClient`` makes when it is given none."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    transport = httpx.AsyncHTTPTransport(verify=default_ssl_context(), limits=limits)
    harden_pool(transport)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if pool is not None and isinstance(backend, httpcore.AsyncNetworkBackend):
        pool._network_backend = _QuickBackend(backend)
    return httpx.AsyncClient(timeout=timeout, transport=transport)


def _is_readable(sock: socket.socket | None) -> bool:
    """Whether *sock* has bytes (or an end of stream) to read now; True without a socket."""
    if sock is None or sock.fileno() < 0:
        return True
    if sys.platform == "win32" or not hasattr(select, "poll"):
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    return bool(poll.poll(0))


class _QuickStream(httpcore.AsyncNetworkStream):
    """httpcore's network stream, its socket looked up once.

    httpcore asks every idle connection of the pool "is it readable?" (a server
    that closed it) whenever a request starts or ends; the anyio stream builds
    its table of attributes for each answer, which cost about a tenth of a
    listing's client CPU. The answer is the same: a zero-timeout poll of the socket.
    """

    __slots__ = ("_inner", "_socket")

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(
        self,
        max_bytes: int,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
    ) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(
        self,
        buffer: bytes,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
    ) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        return _QuickStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _is_readable(self._socket)
        return self._inner.get_extra_info(info)


class _QuickBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, its streams wrapped in ``_QuickStream``."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _QuickStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  # httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _QuickStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


#: Network failures after which the request was certainly not sent.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpcore.ConnectError,
    httpcore.ConnectTimeout,
    httpcore.PoolTimeout,
)
_TIMEOUTS = (httpx.TimeoutException, httpcore.TimeoutException)
#: What httpcore raises (httpx maps these to its own; a respx mock raises httpx's).
_HTTPCORE_ERRORS = (
    httpcore.NetworkError,
    httpcore.TimeoutException,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)
_ERRORS = (httpx.HTTPError, *_HTTPCORE_ERRORS)


async def _close_quietly(response: httpx.Response | httpcore.Response) -> None:
    with contextlib.suppress(*_ERRORS):  # the connection is dropped either way
        await response.aclose()


class _Origin:
    """What the direct path needs of a base URL, parsed once."""

    __slots__ = ("host", "netloc", "port", "prefix", "scheme")

    def __init__(self, base: str) -> None:
        url = httpx.URL(base)
        self.scheme = url.raw_scheme
        self.host = url.raw_host
        self.port = url.port
        self.netloc = url.netloc
        self.prefix = url.raw_path.rstrip(b"/")


class HttpxBackend:
    """Exchanges through an ``httpx.AsyncClient``: the SDK's own, or one a user passed.

    With the client the SDK made for itself (no auth, hooks, cookies, mounts or
    redirects to honour), a request goes straight to its httpcore pool: the
    same connections, limits, TLS and cancellation-safe pool, without building
    httpx's request and response objects (about a third of the CPU of a small
    request). A user's client is used through ``send``, so that everything it
    was configured with applies.
    """

    def __init__(self, http_client: httpx.AsyncClient, *, owned: bool = False) -> None:
        self.http_client = http_client
        # With httpcore underneath, trace events tell whether a timed-out request
        # had begun to be sent; with any other transport, assume it had.
        self._traced = traces_sends(http_client)
        self._pool = _direct_pool(http_client) if owned else None
        self._origins: dict[str, _Origin] = {}
        self._background = Background("sms_async httpx backend")

    def __repr__(self) -> str:
        return "<HttpxBackend>"

    def request_timeout(self, timeout: httpx.Timeout | None) -> object:
        """*timeout* for the request: httpx's, or the phases httpcore reads."""
        if self._pool is not None:
            return (timeout if timeout is not None else self.http_client.timeout).as_dict()
        return timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT

    @property
    def is_closed(self) -> bool:
        """Whether the httpx client is closed."""
        return self.http_client.is_closed

    async def exchange(
        self, request: Outgoing, answers: Answers, progress: SendProgress, phases: object
    ) -> Reply:
        """One request through httpx, its body read within the cap, the response closed."""
        try:
            if self._pool is not None:
                return await self._direct(self._pool, request, answers, progress, phases)
            return await self._through_client(request, answers, progress, phases)
        except _ERRORS as exc:
            if isinstance(exc, httpx.RequestError):
                exc._request = None  # holds the Authorization header; .request then raises
            raise answers.connection_error(
                exc,
                request.method,
                request.path,
                sent=not isinstance(exc, _NOT_SENT),
                timeout=isinstance(exc, _TIMEOUTS),
            ) from exc

    async def _through_client(
        self, request: Outgoing, answers: Answers, progress: SendProgress, phases: object
    ) -> Reply:
        outgoing = self.http_client.build_request(
            request.method,
            request.url,
            params=request.params,
            content=request.content,
            headers=request.headers,
            timeout=phases,  # type: ignore[arg-type]  # a Timeout or USE_CLIENT_DEFAULT
        )
        if self._traced:
            outgoing.extensions["trace"] = progress.trace
        else:
            progress.sent = True
        response = await self.http_client.send(outgoing, stream=True)
        try:
            honour_cancellation()
            # The raw stream, not ``response.aiter_raw()``: that one closes the
            # response at its end, in this task, where a cancellation could cut
            # the close short. A streamed response's .stream is typed
            # SyncByteStream | AsyncByteStream; an AsyncClient's is the async one.
            headers = response.headers
            body = await answers.read_body(
                response.status_code,
                headers.get("Content-Length"),
                headers.get("Content-Encoding"),
                response.stream,  # type: ignore[arg-type]  # the async stream of an async client
            )
        finally:
            await self._close(response)
        return Reply(response.status_code, response.reason_phrase, headers.get("Retry-After"), body)

    async def _direct(
        self,
        pool: httpcore.AsyncConnectionPool,
        request: Outgoing,
        answers: Answers,
        progress: SendProgress,
        phases: object,
    ) -> Reply:
        origin = self._origins.get(request.base)
        if origin is None:
            origin = self._origins[request.base] = _Origin(request.base)
        target = origin.prefix + request.path.encode("ascii")
        if request.params:
            target += b"?" + urlencode(request.params, quote_via=quote).encode("ascii")
        headers = [(b"Host", origin.netloc)]
        headers += [(name.encode(), value.encode()) for name, value in request.headers.items()]
        content = request.content
        if content is not None:
            headers.append((b"Content-Length", str(len(content)).encode()))
        elif request.method in _BODY_METHODS:
            headers.append((b"Content-Length", b"0"))
        outgoing = httpcore.Request(
            request.method.encode(),
            httpcore.URL(scheme=origin.scheme, host=origin.host, port=origin.port, target=target),
            headers=headers,
            content=content if content is not None else b"",
            extensions={"timeout": phases, "trace": progress.trace},
        )
        response = await pool.handle_async_request(outgoing)
        try:
            honour_cancellation()
            length = encoding = retry_after = None
            for name, value in response.headers:
                name = name.lower()
                if name == b"content-length":
                    length = value.decode("latin-1")
                elif name == b"content-encoding":
                    encoding = value.decode("latin-1")
                elif name == b"retry-after":
                    retry_after = value.decode("latin-1")
            body = await answers.read_body(
                response.status,
                length,
                encoding,
                response.stream,  # type: ignore[arg-type]  # the async stream of an async pool
            )
        finally:
            await self._close(response)
        reason = response.extensions.get("reason_phrase", b"")
        return Reply(
            response.status,
            reason.decode("latin-1") if isinstance(reason, bytes) else "",
            retry_after,
            body,
        )

    async def _close(self, response: httpx.Response | httpcore.Response) -> None:
        """Close *response* in a task of its own, so that no cancellation can cut it short.

        httpcore gives a connection back to its pool at the end of the close; a
        cancellation landing inside it (anyio's shield does not stop a native
        asyncio cancel) would leave the connection busy for ever. The caller
        waits for the close, unless it is cancelled: then the close goes on
        in the background, bounded by ``CLOSE_TIMEOUT``.
        """
        await self._background.finish(_close_quietly(response), CLOSE_TIMEOUT)

    async def aclose(self, *, close_stack: bool) -> None:
        """Let background closes finish; close the httpx client if the SDK made it."""
        await self._background.drain(CLOSE_TIMEOUT)
        if close_stack:
            await self.http_client.aclose()


#: Methods that send a body: without one, they say ``Content-Length: 0`` (as httpx does).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _direct_pool(http_client: httpx.AsyncClient) -> httpcore.AsyncConnectionPool | None:
    """The pool of an SDK-made client, when requests can go straight to it."""
    transport = getattr(http_client, "_transport", None)
    if (
        type(transport) is not httpx.AsyncHTTPTransport
        or getattr(http_client, "_mounts", None)
        or not is_hardened(transport)
    ):
        return None
    pool: httpcore.AsyncConnectionPool = transport._pool
    return pool
