"""The in-process front-end: an httpx transport over the fake's core, no sockets."""

from __future__ import annotations

import asyncio

import httpx

from ._service import ConnectionDropped, FakeService
from ._wire import Request

__all__ = ["FakeTransport"]


class FakeTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` that answers every request from a fake service.

    Use it as ``httpx.AsyncClient(transport=fake.transport)``. The host of the
    URL is ignored: requests are routed by path, so both APIs can share it.

    Like a network it honours the request's read timeout (an injected latency
    longer than it raises ``httpx.ReadTimeout``), and an injected dropped
    connection raises ``httpx.RemoteProtocolError`` as httpx does when a server
    closes the connection without a response. Once the fake is closed every
    request raises ``httpx.ConnectError``.
    """

    def __init__(self, service: FakeService) -> None:
        self._service = service
        self.closed = False

    def __repr__(self) -> str:
        return f"<FakeTransport {self._service!r}>"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer *request* from the fake service (httpx calls this)."""
        if self.closed:
            raise httpx.ConnectError("the fake SMS server is closed", request=request)
        body = await request.aread()
        headers = {name.lower(): value for name, value in request.headers.items()}
        timeouts = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read")
        try:
            async with asyncio.timeout(read_timeout):
                reply = await self._service.serve(
                    Request(request.method, request.url.path, request.url.query, headers, body)
                )
        except ConnectionDropped:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        except TimeoutError:
            raise httpx.ReadTimeout(
                "the fake SMS server did not answer in time", request=request
            ) from None
        return httpx.Response(
            reply.status, headers=list(reply.headers), content=reply.body, request=request
        )

    async def aclose(self) -> None:
        """Nothing to release: no connections are opened."""
