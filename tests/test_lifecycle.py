"""One client per event loop, closed clients, and ``with_options``."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest
import respx

from sms_async import AsyncSmsClient, ConfigurationError

from .conftest import BASE, KEY, TASK_BASE, USER

LIST = f"{BASE}/v1/contact_lists/1"


def test_a_client_made_at_import_time_is_refused_in_a_second_event_loop() -> None:
    client = AsyncSmsClient(USER, KEY, base_url=BASE, task_base_url=TASK_BASE)  # a module global

    async def delete() -> int:
        return await client.contact_lists.delete(1)

    with respx.mock(assert_all_called=False) as mock:
        route = mock.delete(LIST).mock(return_value=httpx.Response(200, json={"count": 1}))
        assert asyncio.run(delete()) == 1  # the first loop binds it
        with pytest.raises(ConfigurationError, match="another event loop") as caught:
            asyncio.run(delete())
        assert route.call_count == 1  # nothing was sent from the second loop
    assert "Create one client per event loop" in str(caught.value)


def test_a_client_made_inside_a_loop_belongs_to_it() -> None:
    async def make() -> AsyncSmsClient:
        return AsyncSmsClient(USER, KEY, base_url=BASE, task_base_url=TASK_BASE)

    client = asyncio.run(make())
    with pytest.raises(ConfigurationError, match="another event loop"):
        asyncio.run(client.contact_lists.delete(1))


async def test_async_with_on_a_closed_client_raises_at_once() -> None:
    client = AsyncSmsClient(USER, KEY, base_url=BASE)
    async with client:
        pass
    with pytest.raises(ConfigurationError, match="closed"):
        async with client:
            pytest.fail("entered a closed client")


async def test_with_options_shares_the_pool_and_limits(router: respx.MockRouter) -> None:
    route = router.delete(LIST).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json={"count": 1})]
    )
    async with AsyncSmsClient(USER, KEY, base_url=BASE, max_retries=3) as client:
        quick = client.with_options(timeout=2, max_retries=0)
        assert (quick.max_retries, client.max_retries) == (0, 3)
        assert quick.timeout == httpx.Timeout(2.0)
        with pytest.raises(Exception, match="503"):
            await quick.contact_lists.delete(1)  # no retry on the derived client
        assert await client.contact_lists.delete(1) == 1
        await quick.aclose()  # closes nothing: the parent still works
        route.side_effect = None
        route.return_value = httpx.Response(200, json={"count": 1})
        assert await client.contact_lists.delete(1) == 1
    assert route.call_count == 3


async def test_with_options_timeout_sets_each_request_and_the_whole_attempt(
    router: respx.MockRouter,
) -> None:
    seen: list[object] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"count": 1})

    router.delete(LIST).mock(side_effect=record)
    async with AsyncSmsClient(USER, KEY, base_url=BASE) as client:
        await client.with_options(timeout=httpx.Timeout(3.0, connect=1.0)).contact_lists.delete(1)
        assert client.with_options(timeout=7)._transport._deadline == 7.0
    assert seen == [{"connect": 1.0, "read": 3.0, "write": 3.0, "pool": 3.0}]


def test_with_options_checks_its_values() -> None:
    client = AsyncSmsClient(USER, KEY, base_url=BASE)
    with pytest.raises(ConfigurationError, match="max_retries"):
        client.with_options(max_retries=-1)
    with pytest.raises(ConfigurationError, match="timeout"):
        client.with_options(timeout=0)


def test_the_redis_extra_missing_says_what_to_install() -> None:
    code = "import sys; sys.modules['redis'] = None; import sms_async.contrib.redis"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "ModuleNotFoundError: sms_async.contrib.redis needs redis-py: "
        "pip install 'sms-async[redis]'"
    )


async def test_a_closed_client_sends_nothing_even_on_an_http_client_left_open() -> None:
    from sms_async import APIConnectionError
    from sms_async.testing import FakeSmsServer

    async with FakeSmsServer() as fake:
        target = fake.create_list("closed")
        client = fake.client()  # its httpx client belongs to the fake, and stays open
        await client.aclose()
        with pytest.raises(APIConnectionError, match="closed") as caught:
            await client.contact_lists.delete(target.contact_list_id)
        assert caught.value.request_sent is False
        assert fake.stats.total_requests == 0


async def test_with_options_uses_the_same_connection_pool() -> None:
    from sms_async import APIConnectionError
    from sms_async.testing import FakeSmsServer

    async with FakeSmsServer() as fake, httpx.AsyncClient(transport=fake.transport) as http:
        client = AsyncSmsClient(fake.sms_user, fake.sms_key, http_client=http, base_url=BASE)
        quick = client.with_options(max_retries=0)
        target = fake.create_list("pool")
        assert await quick.contact_lists.delete(target.contact_list_id) == 1
        await http.aclose()  # the one pool both clients use
        with pytest.raises(APIConnectionError, match="closed"):
            await quick.contact_lists.delete(1)
