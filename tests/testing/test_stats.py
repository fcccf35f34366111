"""``FakeStats``: what reached the fake, counted per route, and ``GET /_fake/stats``."""

from __future__ import annotations

import asyncio

from sms_async.testing import FakeSmsServer

from .conftest import LISTS, Api, outcome, raw


async def test_max_in_flight_counts_overlapping_requests() -> None:
    arrived = 0
    everyone = asyncio.Event()

    async def barrier(delay: float) -> None:
        nonlocal arrived
        arrived += 1
        if arrived == 5:
            everyone.set()
        await everyone.wait()

    fake = FakeSmsServer(sleep=barrier)
    async with raw(fake) as http:
        responses = await asyncio.gather(*(http.get(LISTS) for _ in range(5)))
        assert fake.stats.in_flight == 0
        await http.get(LISTS)
    assert [r.status_code for r in responses] == [200] * 5
    assert fake.stats.max_in_flight == 5
    fake.stats.reset()
    assert (fake.stats.max_in_flight, fake.stats.total_requests) == (0, 0)


async def test_member_batches_record_processed_adds_only(fake: FakeSmsServer) -> None:
    item = fake.create_list("b")
    path = f"{LISTS}/{item.contact_list_id}/members"
    fake.fail_next("members.add", "503", "drop", "drop_after")
    async with raw(fake) as http:
        for size in (3, 4, 5, 6):
            await outcome(
                http,
                "POST",
                path,
                json={"members": [{"phone": f"+{size}{i}"} for i in range(size)]},
            )
    assert fake.stats.member_batches == [5, 6]
    assert fake.stats.members_received == 11
    assert fake.stats.requests["members.add"] == 4
    assert item.member_count == 11


async def test_unmatched_requests_are_counted_without_faults(fake: FakeSmsServer) -> None:
    fake.set_faults(rate_503=1.0)
    async with raw(fake) as http:
        assert (await http.get("/nowhere")).status_code == 404
    assert fake.stats.requests["unmatched"] == 1
    assert fake.stats.faults == {}


async def test_stats_endpoint_is_not_counted(api: Api) -> None:
    await api.v1("GET", LISTS)
    data = (await api.http.get("/_fake/stats")).json()
    assert data["requests"] == {"contact_lists.list": 1}
    assert data["statuses"] == {"200": 1}
    assert data["max_in_flight"] == 1
    assert api.fake.stats.total_requests == 1
