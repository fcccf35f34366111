"""The fake on a real 127.0.0.1 port: the ASGI app, uvicorn, threads, processes, the CLI."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
from typing import Any

import httpx
import pytest

from sms_async.testing import FakeSmsServer, FaultConfig, spawn_server
from sms_async.testing import __main__ as cli
from sms_async.testing._asgi import FakeAsgiApp

from .conftest import KEY, USER

LISTS = "/v1/contact_lists"
AUTH = "Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode()


async def raw_exchange(url: str, request: bytes) -> bytes:
    """Send bytes on a fresh TCP connection and read until the server closes it."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_serve_binds_loopback_and_answers(fake: FakeSmsServer) -> None:
    async with fake.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url, auth=(USER, KEY)) as http:
            created = await http.post(LISTS, json={"contact_list_name": "net"})
            listed = await http.get(LISTS)
    assert created.status_code == 200
    assert (
        listed.json()["result"][0]["contact_List_id"] == created.json()["result"]["contact_list_id"]
    )
    assert fake.stats.requests == {"contact_lists.create": 1, "contact_lists.list": 1}


async def test_a_plain_http_11_client_can_talk_to_it(fake: FakeSmsServer) -> None:
    fake.create_list("curl")
    async with fake.serve() as url:
        data = await raw_exchange(
            url,
            b"GET /v1/contact_lists?limit=1 HTTP/1.1\r\nHost: localhost\r\n"
            b"Authorization: " + AUTH.encode() + b"\r\nConnection: close\r\n\r\n",
        )
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"content-length: " + str(len(body)).encode() in head.lower()
    assert json.loads(body)["result"][0]["contact_list_name"] == "curl"


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


async def test_serve_in_thread_stops_on_exit() -> None:
    fake = FakeSmsServer()
    with fake.serve_in_thread() as url:
        async with httpx.AsyncClient(base_url=url, auth=(USER, KEY)) as http:
            assert (await http.get(LISTS)).status_code == 200
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((host, int(port)), timeout=5),
    ):
        pass


def test_spawn_server_runs_the_cli_in_a_child_process(capsys: pytest.CaptureFixture[str]) -> None:
    with spawn_server(
        "alice", "secret", faults=FaultConfig(retry_after=None), extra_args=["--access-log"]
    ) as child:
        assert child.base_url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=child.base_url) as http:
            created = http.post(LISTS, json={"contact_list_name": "p"}, auth=("alice", "secret"))
            refused = http.get(LISTS, auth=("alice", "wrong"))
        stats = child.stats()
        pid = child.pid
    assert created.status_code == 200
    assert refused.status_code == 401
    assert stats["requests"] == {"contact_lists.create": 1, "contact_lists.list": 1}
    assert stats["statuses"] == {"200": 1, "401": 1}
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # what the child prints after its first line (here its access log) is relayed
    assert '"GET /v1/contact_lists HTTP/1.1" 401' in capsys.readouterr().out


def test_cli_help_and_bad_values(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "--rate-drop-after" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        cli.main(["--rate-429", "2"])
    assert exc.value.code == 2
    assert "rate_429" in capsys.readouterr().err


def test_cli_without_uvicorn_says_which_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> None:
        raise ImportError("the loopback fake server needs uvicorn: pip install 'sms-async[server]'")

    monkeypatch.setattr(cli, "load_uvicorn", missing)
    assert cli.main(["--port", "0"]) == 2
    assert "sms-async[server]" in capsys.readouterr().err


def test_load_uvicorn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from sms_async.testing import _server

    real = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> Any:
        if name == "uvicorn":
            raise ModuleNotFoundError("No module named 'uvicorn'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(ImportError, match=r"sms-async\[server\]"):
        _server.load_uvicorn()


def test_cli_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["--port", str(port)]) == 1
    assert "cannot listen" in capsys.readouterr().err


# --- the ASGI app without a server -------------------------------------------------------------


async def test_asgi_lifespan_and_websocket_scopes() -> None:
    app = FakeAsgiApp(FakeSmsServer().service)
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
