"""Fixtures and helpers for the fake's own tests: raw HTTP through both front-ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import httpx
import pytest
from hypothesis import strategies as st

from sms_async import NewMember, sign_params
from sms_async.testing import FakeClock, FakeSmsServer

USER = "test-user"
KEY = "test-key"
CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 19, 14, 22, 57, tzinfo=CST)
V1_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0800"
TASK_TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
SEND = "/smsapi/sendContactListTask"
QUERY = "/smsapi/queryContactListTask"
LISTS = "/v1/contact_lists"


def signed(params: Mapping[str, str], *, key: str = KEY, method: str = "md5") -> dict[str, str]:
    return {**params, "signature": sign_params(params, key, method)}


@attrs.define
class Api:
    """Raw HTTP to one fake, through one front-end."""

    fake: FakeSmsServer
    http: httpx.AsyncClient
    kind: str

    async def v1(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("auth", (USER, KEY))
        return await self.http.request(method, path, **kwargs)

    async def create(self, name: str, **extra: Any) -> int:
        response = await self.v1(
            "POST", "/v1/contact_lists", json={"contact_list_name": name, **extra}
        )
        assert response.status_code == 200, response.text
        list_id: int = response.json()["result"]["contact_list_id"]
        return list_id

    async def smsapi(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        http_method: str = "POST",
        sign: str | None = "md5",
        user: str = USER,
    ) -> httpx.Response:
        data = {"smsUser": user, **params}
        if sign is not None:
            data = signed(data, method=sign)
        if http_method == "GET":
            return await self.http.get(path, params=data)
        return await self.http.post(path, data=data)


@pytest.fixture(scope="session")
def threaded_fake() -> Iterator[tuple[FakeSmsServer, str]]:
    """One fake on a loopback port for the session, served from a background thread."""
    fake = FakeSmsServer(USER, KEY, clock=FakeClock(T0))
    with fake.serve_in_thread() as url:
        yield fake, url


@pytest.fixture(params=["transport", "loopback"])
async def api(
    request: pytest.FixtureRequest, threaded_fake: tuple[FakeSmsServer, str]
) -> AsyncIterator[Api]:
    """Raw httpx to a fresh fake: in-process (transport) and over 127.0.0.1 (loopback)."""
    if request.param == "transport":
        fake = FakeSmsServer(USER, KEY, clock=FakeClock(T0))
        http = fake.http_client(base_url="http://fake.test")
    else:
        fake, url = threaded_fake
        fake.reset()
        fake.clock.set(T0)
        http = httpx.AsyncClient(base_url=url)
    async with http:
        yield Api(fake, http, request.param)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSmsServer]:
    async with FakeSmsServer(USER, KEY, clock=FakeClock(T0)) as server:
        yield server


def task_params(**overrides: str) -> dict[str, str]:
    params = {
        "contactListName": "test",
        "taskName": "campaign",
        "senderName": "sendcloud",
        "templateId": "999",
    }
    params.update(overrides)
    return params


async def lists(api: Api) -> None:
    api.fake.create_list("test", members=[{"phone": f"+86{i}"} for i in range(4)])
    api.fake.create_list("other", members=[{"phone": "+1"}])


def raw(fake: FakeSmsServer) -> httpx.AsyncClient:
    return fake.http_client(base_url="http://fake.test", auth=(USER, KEY))


async def outcome(
    http: httpx.AsyncClient, method: str = "GET", path: str = LISTS, **kwargs: Any
) -> str:
    try:
        response = await http.request(method, path, **kwargs)
    except httpx.RemoteProtocolError:
        return "dropped"
    return str(response.status_code)


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


def people(n: int, start: int = 0) -> list[NewMember]:
    return [
        NewMember(f"+86138{i:08d}", name=f"p{i}", vars={"i": str(i)})
        for i in range(start, start + n)
    ]


json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=20)


json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
