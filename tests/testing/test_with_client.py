"""Our own client against the fake, in-process and over loopback."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

from sms_async import (
    APIConnectionError,
    AsyncSmsClient,
    AuthenticationError,
    BadRequestError,
    NewMember,
    NotFoundError,
    RateLimitError,
    ServerError,
    TaskStatus,
)
from sms_async.testing import FakeClock, FakeSmsServer

from .conftest import CST, T0


def people(n: int, start: int = 0) -> list[NewMember]:
    return [
        NewMember(f"+86138{i:08d}", name=f"p{i}", vars={"i": str(i)})
        for i in range(start, start + n)
    ]


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


@pytest.mark.parametrize("quirks", [True, False])
async def test_the_client_reads_both_shapes(quirks: bool) -> None:
    async with FakeSmsServer(quirks=quirks) as fake, fake.client() as client:
        created = await client.contact_lists.create(contact_list_name="shapes")
        await client.members.add(
            created.contact_list_id, [NewMember("+1", vars={"a": "b", "n": 1})]
        )
        [listed] = [item async for item in client.contact_lists.list()]
        [member] = [m async for m in client.members.list(created.contact_list_id)]
    assert listed.contact_list_id == created.contact_list_id
    assert member.vars == {"a": "b", "n": 1}


async def test_sha256_signatures_are_accepted(fake: FakeSmsServer) -> None:
    fake.create_list("l")
    async with fake.client(signature_method="sha256") as client:
        task = await client.tasks.send(
            contact_list_name="l", task_name="t", template_id=1, sender_name="s"
        )
        assert (await client.tasks.get(task.task_id)).task_id == task.task_id


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


async def test_bulk_upload_stores_every_member_once(fake: FakeSmsServer) -> None:
    target = fake.create_list("bulk")
    async with fake.client(max_concurrency=4) as client:
        result = await client.members.add(target.contact_list_id, people(2500), batch_size=1000)
    assert result.count == 2500
    assert sorted(fake.stats.member_batches) == [500, 1000, 1000]
    assert sorted(target.phones) == sorted(m.phone for m in people(2500))
    assert 1 <= fake.stats.max_in_flight <= 4


async def test_retried_faults_never_store_twice() -> None:
    fake = FakeSmsServer(seed=11, allow_duplicate_phones=True)
    target = fake.create_list("retry")
    fake.set_faults("members.add", rate_429=0.3, rate_503=0.3, retry_after=0)
    async with fake.client(max_retries=20) as client:
        result = await client.members.add(target.contact_list_id, people(3000), batch_size=250)
    stored = Counter(target.phones)
    assert result.count == 3000
    assert set(stored.values()) == {1}
    assert len(stored) == 3000
    assert sum(fake.stats.faults["members.add"].values()) > 0


async def test_a_processed_but_dropped_batch_is_not_sent_again() -> None:
    fake = FakeSmsServer(allow_duplicate_phones=True)
    target = fake.create_list("once")
    fake.fail_next("members.add", "drop_after")
    async with fake.client(max_retries=5) as client:
        result = await client.members.add(
            target.contact_list_id, people(30), batch_size=10, raise_on_error=False
        )
    assert Counter(target.phones).most_common(1)[0][1] == 1  # nothing stored twice
    assert target.member_count == 30  # the dropped batch was stored by the server
    assert result.count == 20
    assert len(result.failed_members) == 10


async def test_a_task_is_created_once_despite_a_lost_response(fake: FakeSmsServer) -> None:
    fake.create_list("l")
    fake.fail_next("tasks.send", "drop_after")
    async with fake.client(max_retries=5) as client:
        with pytest.raises(APIConnectionError, match="RemoteProtocolError"):
            await client.tasks.send(
                contact_list_name="l", task_name="t", template_id=1, sender_name="s"
            )
    assert len(fake.tasks) == 1


async def test_execute_time_round_trips_on_the_api_clock(fake: FakeSmsServer) -> None:
    fake.create_list("later")
    when = datetime(2024, 5, 20, 8, 0, tzinfo=CST)
    async with fake.client() as client:
        task = await client.tasks.send(
            contact_list_name="later",
            task_name="t",
            template_id=1,
            sender_name="s",
            execute_time=when,
        )
        assert fake.get_task(task.task_id).start_time == when
        fake.clock.set(when - timedelta(seconds=1))
        assert (await client.tasks.get(task.task_id)).status is TaskStatus.WAITING
        fake.clock.set(when)
        assert (await client.tasks.get(task.task_id)).status is TaskStatus.RUNNING


async def test_the_client_over_loopback() -> None:
    fake = FakeSmsServer(clock=FakeClock(T0))
    async with (
        fake.serve() as url,
        AsyncSmsClient(fake.sms_user, fake.sms_key, base_url=url, task_base_url=url) as client,
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
