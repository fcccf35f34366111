"""The aiohttp backend: ``AsyncSmsClient(http_backend="aiohttp")``.

aiohttp spends about 0.6x the client CPU of httpx per request; this backend
lets bulk uploads and big listings use it, with every guarantee of the httpx
backend kept (see ``_exchange.py``). Its errors are mapped here, by the SDK,
not by an httpx adapter: such adapters report a server disconnect as a
connect timeout, after which a POST would be sent twice.

**Sent or not sent.** aiohttp signals ``on_request_headers_sent`` just before
it writes the request line and headers (it buffers them until the body goes
out), so a request for which the signal never fired wrote nothing: it was not
sent. A failure is "not sent" only when that signal did not fire *and* the
failure is one of the connection phase (refused, unresolvable, TLS, connect
timeout, a URL aiohttp refused): two independent witnesses, so that a change
in either cannot make the SDK send a POST twice. A whole-attempt deadline
that fires mid-exchange is classified by the signal alone.

**Cleanup.** A response is released (its connection back to the pool) when
its body was read to the end, and closed (its connection dropped) otherwise;
both are synchronous, so a cancellation cannot cut them short. aiohttp closes
a connection it was using when a request is cancelled inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ._cancel import honour_cancellation
from ._constants import CLOSE_TIMEOUT
from ._errors import ConfigurationError
from ._exchange import Outgoing, Reply, SendProgress
from ._http import default_ssl_context

if TYPE_CHECKING:
    import aiohttp
    import httpx

    from ._answers import Answers

__all__ = ["AiohttpBackend", "import_aiohttp"]


def import_aiohttp() -> Any:
    """Import aiohttp, or raise ``ConfigurationError`` saying how to install it."""
    try:
        import aiohttp
    except ImportError:
        raise ConfigurationError(
            "http_backend='aiohttp' needs aiohttp: pip install 'sms-async[aiohttp]'"
        ) from None
    return aiohttp


async def _mark_sent(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    progress = context.trace_request_ctx
    if isinstance(progress, SendProgress):
        progress.sent = True


class AiohttpBackend:
    """Exchanges through an ``aiohttp.ClientSession`` the SDK makes (lazily, in its loop)."""

    def __init__(self, *, timeout: httpx.Timeout, max_connections: int) -> None:
        self._aiohttp = import_aiohttp()
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        aiohttp_ = self._aiohttp
        #: Failures of the connection phase: with no headers signal, nothing was sent.
        self._not_sent: tuple[type[BaseException], ...] = (
            aiohttp_.ClientConnectorError,
            aiohttp_.ConnectionTimeoutError,
            aiohttp_.InvalidURL,
            aiohttp_.NonHttpUrlClientError,
        )
        self._default_timeout = self.request_timeout(timeout)

    def __repr__(self) -> str:
        return "<AiohttpBackend>"

    def request_timeout(self, timeout: httpx.Timeout | None) -> object:
        """The aiohttp timeout for an ``httpx.Timeout``: connect and read phases.

        aiohttp has no write timeout and its pool wait is part of ``connect``:
        both stay bounded by the SDK's whole-attempt deadline.
        """
        if timeout is None:
            return self._default_timeout
        return self._aiohttp.ClientTimeout(
            total=None, sock_connect=timeout.connect, sock_read=timeout.read
        )

    @property
    def is_closed(self) -> bool:
        """Whether the session was closed."""
        return self._closed

    def _open(self) -> aiohttp.ClientSession:
        aiohttp_ = self._aiohttp
        trace = aiohttp_.TraceConfig()
        trace.on_request_headers_sent.append(_mark_sent)
        connector = aiohttp_.TCPConnector(
            limit=self._max_connections, limit_per_host=0, ssl=default_ssl_context()
        )
        session: aiohttp.ClientSession = aiohttp_.ClientSession(
            connector=connector,
            timeout=self._default_timeout,
            auto_decompress=False,  # inflated by the SDK, within its cap
            cookie_jar=aiohttp_.DummyCookieJar(),
            trace_configs=[trace],
            raise_for_status=False,
        )
        self._session = session
        return session

    async def exchange(
        self, request: Outgoing, answers: Answers, progress: SendProgress, phases: object
    ) -> Reply:
        """One request through aiohttp, its body read within the cap, the response let go."""
        session = self._session if self._session is not None else self._open()
        try:
            response = await session.request(
                request.method,
                request.url,
                params=request.params,
                data=request.content,
                headers=request.headers,
                timeout=phases,  # type: ignore[arg-type]  # a ClientTimeout, from request_timeout
                allow_redirects=False,
                trace_request_ctx=progress,
            )
            read = False
            try:
                honour_cancellation()
                headers = response.headers
                body = await answers.read_body(
                    response.status,
                    headers.get("Content-Length"),
                    headers.get("Content-Encoding"),
                    response.content.iter_any(),
                )
                read = True
            finally:
                if read:
                    response.release()
                else:
                    response.close()
        except self._aiohttp.ClientError as exc:
            _scrub(exc)
            raise answers.connection_error(
                exc,
                request.method,
                request.path,
                sent=progress.sent or not isinstance(exc, self._not_sent),
                timeout=isinstance(exc, self._aiohttp.ServerTimeoutError),
            ) from exc
        return Reply(
            response.status, response.reason or "", response.headers.get("Retry-After"), body
        )

    async def aclose(self, *, close_stack: bool) -> None:
        """Close the session (always the SDK's own)."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await session.close()


def _scrub(exc: BaseException) -> None:
    """Drop what an aiohttp error holds of the request's headers (the Authorization).

    A ``ClientResponseError`` keeps the request's ``RequestInfo`` (shown in its
    text): it gets a copy without headers. The server's headers go too.
    """
    info = getattr(exc, "request_info", None)
    if info is not None and hasattr(info, "_replace"):
        with contextlib.suppress(AttributeError, TypeError, ValueError):
            exc.request_info = info._replace(headers={})  # type: ignore[attr-defined]
    for name in ("history", "headers"):
        if name in getattr(exc, "__dict__", {}):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(exc, name, None)
