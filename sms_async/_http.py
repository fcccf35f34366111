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

import functools
import ssl
from typing import Any

import httpcore
import httpx

__all__ = [
    "SendProgress",
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


class SendProgress:
    """Learns from httpcore's trace events whether a request has begun to be sent.

    A request that timed out while it waited for a pooled connection, or while
    it connected, was never sent; one whose headers had started may have been.
    """

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        """Httpcore's ``trace`` extension."""
        if event.endswith("send_request_headers.started"):
            self.sent = True


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
    return httpx.AsyncClient(timeout=timeout, transport=transport)
