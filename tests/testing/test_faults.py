"""Fault injection and latency: seeded, per route, scripted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_async.testing import ROUTES, FakeSmsServer, FaultConfig

from .conftest import KEY, LISTS, USER, Api, outcome, raw


async def test_429_carries_retry_after(api: Api) -> None:
    api.fake.fail_next("contact_lists.list", "429")
    response = await api.v1("GET", LISTS)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == 429
    api.fake.set_faults("contact_lists.list", retry_after=2.5)
    api.fake.fail_next("contact_lists.list", "429")
    assert (await api.v1("GET", LISTS)).headers["retry-after"] == "2.5"
    api.fake.set_faults("contact_lists.list", retry_after=None)
    api.fake.fail_next("contact_lists.list", "429")
    assert "retry-after" not in (await api.v1("GET", LISTS)).headers
    assert (await api.v1("GET", LISTS)).status_code == 200


async def test_503_is_an_html_page(api: Api) -> None:
    api.fake.fail_next("tasks.get", "503")
    response = await api.smsapi("/smsapi/queryContactListTask", {"taskId": "1"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().startswith("<html>")


async def test_drop_closes_before_processing(api: Api) -> None:
    api.fake.fail_next("contact_lists.create", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        await api.v1("POST", LISTS, json={"contact_list_name": "never"})
    assert api.fake.contact_lists == []
    assert api.fake.stats.faults["contact_lists.create"]["drop"] == 1
    # the next request goes through, on a new connection
    assert (await api.v1("POST", LISTS, json={"contact_list_name": "later"})).status_code == 200


async def test_drop_after_processes_then_closes(api: Api) -> None:
    api.fake.fail_next("contact_lists.create", "drop_after")
    with pytest.raises(httpx.RemoteProtocolError):
        await api.v1("POST", LISTS, json={"contact_list_name": "acted"})
    assert [item.contact_list_name for item in api.fake.contact_lists] == ["acted"]


async def test_scripted_faults_come_in_order_then_stop(fake: FakeSmsServer) -> None:
    fake.fail_next("contact_lists.list", "503", "429", "drop", "drop_after")
    async with raw(fake) as http:
        results = [await outcome(http) for _ in range(6)]
    assert results == ["503", "429", "dropped", "dropped", "200", "200"]
    assert fake.stats.requests["contact_lists.list"] == 6
    assert fake.stats.statuses == {503: 1, 429: 1, 200: 2}
    assert dict(fake.stats.faults["contact_lists.list"]) == {
        "503": 1,
        "429": 1,
        "drop": 1,
        "drop_after": 1,
    }


async def test_faults_are_per_route(fake: FakeSmsServer) -> None:
    fake.set_faults("contact_lists.list", rate_503=1.0)
    async with raw(fake) as http:
        assert await outcome(http) == "503"
        assert await outcome(http, "POST", LISTS, json={"contact_list_name": "ok"}) == "200"
    fake.set_faults(rate_429=1.0)  # the default: every route without its own setting
    async with raw(fake) as http:
        assert await outcome(http) == "503"
        assert await outcome(http, "POST", LISTS, json={"contact_list_name": "no"}) == "429"
    fake.clear_faults()
    async with raw(fake) as http:
        assert await outcome(http) == "200"


async def sequence(seed: int, config: FaultConfig, n: int, *, noise: bool = False) -> list[str]:
    fake = FakeSmsServer(USER, KEY, seed=seed)
    fake.set_faults(
        **{name: getattr(config, name) for name in ("rate_429", "rate_503", "rate_drop")}
    )
    results = []
    async with raw(fake) as http:
        for _ in range(n):
            if noise:  # requests to another route must not shift this route's faults
                await outcome(http, "POST", LISTS, json={"contact_list_name": "x"})
            results.append(await outcome(http))
    await fake.aclose()
    return results


rates = st.floats(min_value=0, max_value=0.3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), r429=rates, r503=rates, rdrop=rates)
async def test_same_seed_same_faults(seed: int, r429: float, r503: float, rdrop: float) -> None:
    config = FaultConfig(rate_429=r429, rate_503=r503, rate_drop=rdrop)
    first = await sequence(seed, config, 20)
    assert await sequence(seed, config, 20) == first
    assert await sequence(seed, config, 20, noise=True) == first


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32))
async def test_rate_zero_never_rate_one_always(seed: int) -> None:
    assert set(await sequence(seed, FaultConfig(), 10)) == {"200"}
    assert set(await sequence(seed, FaultConfig(rate_503=1.0), 10)) == {"503"}
    assert set(await sequence(seed, FaultConfig(rate_drop=1.0), 10)) == {"dropped"}


async def test_rates_are_roughly_honoured_for_a_seed() -> None:
    results = await sequence(7, FaultConfig(rate_429=0.2, rate_503=0.1, rate_drop=0.1), 400)
    assert 40 <= results.count("429") <= 120
    assert 15 <= results.count("503") <= 65
    assert 15 <= results.count("dropped") <= 65


async def test_other_seeds_give_other_faults() -> None:
    config = FaultConfig(rate_503=0.5)
    assert await sequence(1, config, 40) != await sequence(2, config, 40)


@pytest.mark.parametrize(
    "changes",
    [
        {"rate_429": -0.1},
        {"rate_503": 1.5},
        {"rate_429": 0.6, "rate_drop": 0.6},
        {"latency": -1},
        {"latency": float("inf")},
        {"retry_after": -1},
        {"rate_drop": "often"},
    ],
)
def test_bad_fault_settings_are_refused(changes: dict[str, Any]) -> None:
    fake = FakeSmsServer()
    with pytest.raises(ValueError):  # noqa: PT011 - each message names the field
        fake.set_faults(**changes)
    assert fake.fault_config() == FaultConfig()


def test_unknown_routes_and_kinds_are_refused() -> None:
    fake = FakeSmsServer()
    with pytest.raises(ValueError, match="unknown route"):
        fake.set_faults("members.upload", rate_503=1)
    with pytest.raises(ValueError, match="unknown fault"):
        fake.fail_next("members.add", "500")
    with pytest.raises(TypeError):
        fake.set_faults(rate_500=1)
    assert set(ROUTES) == {
        "contact_lists.list",
        "contact_lists.create",
        "contact_lists.update",
        "contact_lists.delete",
        "members.list",
        "members.add",
        "members.update",
        "members.delete",
        "tasks.send",
        "tasks.get",
    }


def recording_sleep() -> tuple[list[float], Callable[[float], Awaitable[None]]]:
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    return delays, sleep


async def test_latency_is_slept_per_request() -> None:
    delays, sleep = recording_sleep()
    fake = FakeSmsServer(sleep=sleep, seed=3)
    fake.set_faults(latency=0.25)
    fake.set_faults("members.list", latency=1.0, latency_jitter=0.5)
    async with raw(fake) as http:
        await outcome(http)
        await outcome(http)
        list_id = (await http.post(LISTS, json={"contact_list_name": "l"})).json()["result"][
            "contact_list_id"
        ]
        await outcome(http, "GET", f"{LISTS}/{list_id}/members")
    assert delays[:3] == [0.25, 0.25, 0.25]
    assert 1.0 <= delays[3] <= 1.5
    assert fake.stats.total_delay == pytest.approx(sum(delays))
