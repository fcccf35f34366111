"""``FakeSmsServer``: our own client against the fake, through ``fake.client()``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sms_async import (
    AuthenticationError,
    BadRequestError,
    NewMember,
    NotFoundError,
    RateLimitError,
    ServerError,
    TaskStatus,
)
from sms_async.testing import FakeSmsServer

from .conftest import T0, people


async def test_round_trip_through_every_endpoint(fake: FakeSmsServer) -> None:
    async with fake.client() as client:
        created = await client.contact_lists.create(contact_list_name="promo", description="spring")
        assert created.create_time == T0
        result = await client.members.add(
            created.contact_list_id, [*people(3), NewMember("bad phone")]
        )
        assert (result.count, result.invalid) == (3, ["bad phone"])
        members = [m async for m in client.members.list(created.contact_list_id)]
        assert [m.vars for m in members] == [{"i": "0"}, {"i": "1"}, {"i": "2"}]
        assert (
            await client.members.update(created.contact_list_id, members[0].member_id, name="Zed")
            == 1
        )
        assert await client.members.delete(created.contact_list_id, members[1].member_id) == 1
        assert await client.contact_lists.update(created.contact_list_id, description="summer") == 1
        [listed] = [item async for item in client.contact_lists.list()]
        assert (listed.contact_list_id, listed.member_count, listed.description) == (
            created.contact_list_id,
            2,
            "summer",
        )
        task = await client.tasks.send(
            contact_list_name="promo", task_name="t", template_id=7, sender_name="me"
        )
        assert (task.status, task.member_count) == (TaskStatus.WAITING, 2)
        fake.clock.advance(3600)
        done = await client.tasks.wait(task.task_id, poll_interval=0)
        assert done.status is TaskStatus.SUCCEEDED
        assert done.end_time == T0 + timedelta(seconds=3)
        assert await client.contact_lists.delete(created.contact_list_id) == 1
    assert fake.contact_lists == []


async def test_errors_map_to_the_client_exceptions(fake: FakeSmsServer) -> None:
    async with fake.client(sms_key="wrong") as client:
        with pytest.raises(AuthenticationError) as v1:
            await client.contact_lists.create(contact_list_name="x")
        assert v1.value.code == 30000
        with pytest.raises(AuthenticationError) as smsapi:
            await client.tasks.get(1)
        assert smsapi.value.code == 422
    async with fake.client(max_retries=0) as client:
        with pytest.raises(NotFoundError) as missing:
            await client.contact_lists.delete(424242)
        assert missing.value.code == 35002
        fake.create_list("dup")
        with pytest.raises(BadRequestError):
            await client.contact_lists.create(contact_list_name="dup")
        fake.fail_next("contact_lists.list", "429")
        with pytest.raises(RateLimitError) as limited:
            [item async for item in client.contact_lists.list()]
        assert limited.value.retry_after == 1.0
        fake.fail_next("contact_lists.list", "503")
        with pytest.raises(ServerError):
            [item async for item in client.contact_lists.list()]
