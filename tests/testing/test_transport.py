"""The in-process front-end: an httpx transport, with timeouts and closing like a network."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sms_async.testing import FakeSmsServer

from .conftest import KEY, LISTS, USER


async def test_latency_longer_than_the_read_timeout_times_out() -> None:
    never = asyncio.Event()

    async def stuck(delay: float) -> None:
        if delay:
            await never.wait()

    fake = FakeSmsServer(sleep=stuck)
    fake.set_faults("contact_lists.list", latency=3600)
    async with fake.http_client(
        base_url="http://fake.test", timeout=httpx.Timeout(5, read=0.01)
    ) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(LISTS, auth=(USER, KEY))
    assert fake.stats.in_flight == 0


async def test_a_closed_fake_refuses_connections() -> None:
    fake = FakeSmsServer()
    http = fake.http_client()
    await fake.aclose()
    with pytest.raises(httpx.ConnectError):
        await fake.transport.handle_async_request(httpx.Request("GET", "http://x/v1/contact_lists"))
    assert http.is_closed
