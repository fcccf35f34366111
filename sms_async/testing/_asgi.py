"""The network front-end: a raw ASGI 3 app over the fake's core (no web framework).

An injected dropped connection must close the socket without sending a byte
and without a traceback in the server's log. ASGI has no message for that: an
app that raises makes uvicorn log the exception and, before
``http.response.start``, answer 500. So, under uvicorn (h11, httptools or
zttp), the app closes the connection's transport itself (the bound ``send`` it
is given belongs to uvicorn's per-request cycle, which holds the transport),
then waits for ``http.disconnect``: uvicorn sees a client that went away and
logs nothing. Under another server the app falls back to starting a response
and then aborting it, which that server may log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._rules import MAX_BODY_BYTES
from ._service import ConnectionDropped, FakeService
from ._wire import Request, too_large

__all__ = ["FakeAsgiApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Seconds to wait for the server to notice a connection the app closed.
_DISCONNECT_WAIT = 5.0


class FakeAsgiApp:
    """An ASGI 3 application serving both APIs of a fake service.

    Run it with any ASGI server, e.g. ``uvicorn.run(fake.asgi_app)``; the
    ``python -m sms_async.testing`` command and ``FakeSmsServer.serve`` do
    that for you on 127.0.0.1.
    """

    def __init__(self, service: FakeService) -> None:
        self._service = service

    def __repr__(self) -> str:
        return f"<FakeAsgiApp {self._service!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                reply = too_large()
                await _respond(send, reply.status, reply.headers, reply.body, close=True)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        try:
            reply = await self._service.serve(
                Request(
                    scope["method"],
                    scope["path"],
                    scope.get("query_string", b""),
                    headers,
                    b"".join(chunks),
                )
            )
        except ConnectionDropped:
            await _drop(receive, send)
            return
        await _respond(send, reply.status, reply.headers, reply.body)


async def _respond(
    send: Send,
    status: int,
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    *,
    close: bool = False,
) -> None:
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    raw.append((b"content-length", str(len(body)).encode("ascii")))
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class _AbortedResponse(Exception):
    """Raised after ``http.response.start`` by the fallback drop: the server closes."""


async def _drop(receive: Receive, send: Send) -> None:
    """Close the connection without a response (see the module's docstring)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and callable(getattr(transport, "close", None)):
        transport.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_DISCONNECT_WAIT):
                while (await receive())["type"] != "http.disconnect":
                    pass
        return
    # Another ASGI server: start a response and abort it; the client sees the
    # connection close before a complete response.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"1")],
        }
    )
    raise _AbortedResponse("injected dropped connection")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
