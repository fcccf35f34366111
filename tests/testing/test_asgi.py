"""The network front-end: the ASGI app, alone and under uvicorn."""

from __future__ import annotations

import base64
import logging
from typing import Any

import httpx
import pytest

from sms_async.testing import FakeSmsServer

from .conftest import KEY, LISTS, USER, raw_exchange

AUTH = "Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode()


async def test_injected_drops_close_without_a_byte_or_a_traceback(
    fake: FakeSmsServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail_next("contact_lists.create", "drop", "drop_after")
    async with fake.serve() as url:
        request = (
            b"POST /v1/contact_lists HTTP/1.1\r\nHost: localhost\r\nAuthorization: "
            + AUTH.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
            + b'{"contact_list_name":"one"}'
        )
        assert await raw_exchange(url, request) == b""  # closed before any response byte
        assert fake.contact_lists == []
        async with httpx.AsyncClient(base_url=url, auth=(USER, KEY)) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(LISTS, json={"contact_list_name": "two"})
            assert [item.contact_list_name for item in fake.contact_lists] == ["two"]
            after = await http.post(LISTS, json={"contact_list_name": "three"})
            assert after.status_code == 200
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert problems == []
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert fake.stats.statuses == {200: 1}


async def test_every_fault_over_the_network(fake: FakeSmsServer) -> None:
    fake.fail_next("contact_lists.list", "429", "503")
    async with fake.serve() as url, httpx.AsyncClient(base_url=url, auth=(USER, KEY)) as http:
        limited = await http.get(LISTS)
        unavailable = await http.get(LISTS)
        fine = await http.get(LISTS)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "1")
    assert (unavailable.status_code, unavailable.text[:6]) == (503, "<html>")
    assert fine.status_code == 200


async def test_a_body_over_the_limit_is_413(fake: FakeSmsServer) -> None:
    item = fake.create_list("big")
    body = b'{"members":[' + b" " * (8 * 1024 * 1024) + b"]}"
    async with fake.serve() as url, httpx.AsyncClient(base_url=url, auth=(USER, KEY)) as http:
        response = await http.post(f"{LISTS}/{item.contact_list_id}/members", content=body)
    assert response.status_code == 413
    assert response.json()["code"] == 413
    assert fake.stats.member_batches == []


async def test_asgi_lifespan_and_websocket_scopes() -> None:
    app = FakeSmsServer().asgi_app
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    await app({"type": "websocket"}, receive, send)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
        "websocket.close",
    ]


async def test_asgi_streamed_body_and_early_disconnect() -> None:
    fake = FakeSmsServer()
    app = fake.asgi_app
    scope = {
        "type": "http",
        "method": "POST",
        "path": LISTS,
        "query_string": b"",
        "headers": [(b"authorization", AUTH.encode())],
    }
    chunks = [
        {"type": "http.request", "body": b'{"contact_list_name"', "more_body": True},
        {"type": "http.request", "body": b':"streamed"}', "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    assert (b"content-length", str(len(sent[1]["body"])).encode()) in sent[0]["headers"]
    assert fake.get_list("streamed").description == ""

    async def gone() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    sent.clear()
    await app(scope, gone, send)
    assert sent == []
    assert fake.stats.requests["contact_lists.create"] == 1


async def test_asgi_drop_under_another_server_aborts_the_response() -> None:
    fake = FakeSmsServer()
    fake.fail_next("contact_lists.list", "drop")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:  # a plain function: no transport to close
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": LISTS, "query_string": b"", "headers": []}
    with pytest.raises(Exception, match="injected dropped connection"):
        await fake.asgi_app(scope, receive, send)
    assert [m["type"] for m in sent] == ["http.response.start"]
