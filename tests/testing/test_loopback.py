"""The fake on a real 127.0.0.1 port: in the loop, in a thread, in a child process."""

from __future__ import annotations

import base64
import json
import os
import socket
from typing import Any

import httpx
import pytest

from sms_async import AsyncSmsClient
from sms_async.testing import FakeClock, FakeSmsServer, FaultConfig, spawn_server

from .conftest import KEY, LISTS, T0, USER, people, raw_exchange

AUTH = "Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode()


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


def test_load_uvicorn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from sms_async.testing import _loopback

    real = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> Any:
        if name == "uvicorn":
            raise ModuleNotFoundError("No module named 'uvicorn'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(ImportError, match=r"sms-async\[server\]"):
        _loopback.load_uvicorn()


@pytest.mark.parametrize("http_backend", ["httpx", "aiohttp"])
async def test_the_client_over_loopback(http_backend: str) -> None:
    fake = FakeSmsServer(clock=FakeClock(T0))
    async with (
        fake.serve() as url,
        AsyncSmsClient(
            fake.sms_user,
            fake.sms_key,
            base_url=url,
            task_base_url=url,
            http_backend=http_backend,  # type: ignore[arg-type]  # the fixture's str
        ) as client,
    ):
        created = await client.contact_lists.create(contact_list_name="net")
        result = await client.members.add(created.contact_list_id, people(1200))
        read = [m async for m in client.members.list(created.contact_list_id)]
        task = await client.tasks.send(
            contact_list_name="net", task_name="t", template_id=1, sender_name="s"
        )
    assert result.count == 1200
    assert len(read) == 1200
    assert task.member_count == 1200
    assert sorted(fake.stats.member_batches) == [200, 1000]


def test_the_in_process_client_says_how_to_use_aiohttp() -> None:
    fake = FakeSmsServer()
    with pytest.raises(TypeError, match=r"fake.serve\(\)"):
        fake.client(http_backend="aiohttp")
