import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sms_async import (
    AddMembersResult,
    AddProgress,
    AsyncSmsClient,
    BulkAddAbortedError,
    BulkAddError,
    NewMember,
    ServerError,
    SmsError,
    ValidationError,
)
from sms_async._bulk import Batch, add_members
from sms_async.resources.members import _accept as accept_member

from .conftest import BASE

MEMBERS = f"{BASE}/v1/contact_lists/7/members"


class Store:
    """A respx side effect that stores members, rejects some phones, records batches."""

    def __init__(self, *, reject: frozenset[str] = frozenset(), yields: int = 3) -> None:
        self.reject = reject
        self.yields = yields
        self.stored: list[str] = []
        self.batches: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.cancelled = 0
        self.hold = False
        self.release = asyncio.Event()
        self.full = asyncio.Event()
        self.full_at = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        members = json.loads(request.content)["members"]
        self.batches.append(len(members))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.full_at and self.in_flight >= self.full_at:
            self.full.set()
        try:
            for _ in range(self.yields):
                await asyncio.sleep(0)
            if self.hold:
                await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        invalid = [m["phone"] for m in members if m["phone"] in self.reject]
        ok = [m["phone"] for m in members if m["phone"] not in self.reject]
        self.stored.extend(ok)
        return httpx.Response(200, json={"result": {"count": len(ok), "invalid": invalid}})


def people(n: int, start: int = 0) -> list[NewMember]:
    return [NewMember(f"+86{130_0000_0000 + i}", name=f"n{i}") for i in range(start, start + n)]


@pytest.fixture
async def client(router: respx.MockRouter) -> AsyncSmsClient:
    async with AsyncSmsClient("u", "k", base_url=BASE, max_concurrency=4) as c:
        yield c


async def test_batches_of_batch_size(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    store = Store()
    router.post(MEMBERS).mock(side_effect=store)
    result = await client.members.add(7, people(2500))
    assert result == AddMembersResult(count=2500, invalid=[], failed=[])
    assert sorted(store.batches) == [500, 1000, 1000]
    assert Counter(store.stored) == Counter(m.phone for m in people(2500))


async def test_in_flight_reaches_and_never_exceeds_concurrency(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    store = Store()
    router.post(MEMBERS).mock(side_effect=store)
    await client.members.add(7, people(3000), batch_size=100, concurrency=3)
    assert store.max_in_flight == 3
    assert len(store.batches) == 30


async def test_default_concurrency_is_the_clients_max(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    store = Store()
    router.post(MEMBERS).mock(side_effect=store)
    await client.members.add(7, people(2000), batch_size=100)
    assert store.max_in_flight == 4


async def test_client_cap_holds_even_with_higher_concurrency(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    store = Store()
    router.post(MEMBERS).mock(side_effect=store)
    await client.members.add(7, people(2000), batch_size=100, concurrency=50)
    assert store.max_in_flight == 4  # the client's max_concurrency is shared by all its work


async def test_client_side_rejections_go_to_invalid_and_the_upload_goes_on(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    store = Store(reject=frozenset({"+8613000000001"}))
    router.post(MEMBERS).mock(side_effect=store)
    members: list[object] = [
        NewMember("+8613000000001"),  # rejected by the API
        NewMember("not-a-phone"),
        {"phone": "+8613000000002", "name": "x" * 49},
        {"phone": "+8613000000003", "vars": {"a%": 1}},
        {"name": "no phone"},
        {"phone": "+8613000000004", "surprise": 1},
        "+8613000000005",
        {"phone": "+8613000000006", "vars": {"k": "v"}},
    ]
    result = await client.members.add(7, members)
    assert result.count == 1
    assert sorted(result.invalid) == sorted(
        [
            "+8613000000001",
            "not-a-phone",
            "+8613000000002",
            "+8613000000003",
            "",
            "+8613000000004",
            "+8613000000005",
        ]
    )
    assert store.stored == ["+8613000000006"]
    assert store.batches == [2]


async def test_async_iterable_of_dicts(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    store = Store()
    router.post(MEMBERS).mock(side_effect=store)

    async def source() -> AsyncIterator[dict[str, object]]:
        for i in range(1500):
            yield {"phone": f"+1555{i:07d}", "vars": {"i": str(i)}}

    result = await client.members.add(7, source(), batch_size=1000)
    assert result.count == 1500
    assert sorted(store.batches) == [500, 1000]


async def test_failed_batches_carry_their_members_and_raise_after_all_finished(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    store = Store()
    calls = 0

    async def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            return httpx.Response(400, json={"code": 1, "message": "bad batch"})
        return await store(request)

    router.post(MEMBERS).mock(side_effect=flaky)
    with pytest.raises(BulkAddError) as info:
        await client.members.add(7, people(500), batch_size=100, concurrency=1)
    result = info.value.result
    assert result.count == 400
    assert len(result.failed) == 1
    assert [m.phone for m in result.failed[0].members] == [m.phone for m in people(100, 100)]
    assert result.failed_members == result.failed[0].members
    assert isinstance(result.failed[0].error, SmsError)
    assert len(store.stored) == 400
    assert "1 batch(es) with 100 member(s) failed" in str(info.value)


async def test_raise_on_error_false_returns_the_result(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.post(MEMBERS).mock(return_value=httpx.Response(400, json={"code": 1, "message": "no"}))
    result = await client.members.add(7, people(150), batch_size=100, raise_on_error=False)
    assert result.count == 0
    assert [len(b.members) for b in result.failed] == [100, 50]


async def test_on_progress_reports_running_totals(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    store = Store(reject=frozenset({people(1)[0].phone}))
    router.post(MEMBERS).mock(side_effect=store)
    seen: list[AddProgress] = []
    members = [*people(250), NewMember("bad")]
    await client.members.add(7, members, batch_size=100, concurrency=1, on_progress=seen.append)
    # The input is read only once a slot is free (never ahead of what is sent): "bad"
    # (the last input) is read, and rejected, with the third batch.
    assert [p.sent for p in seen] == [100, 200, 251]
    last = seen[-1]
    assert (last.sent, last.added, last.invalid, last.failed, last.total) == (251, 249, 2, 0, 251)
    assert last.batch is not None
    assert len(last.batch.members) == 50


async def test_on_progress_may_be_async_and_total_is_none_for_generators(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.post(MEMBERS).mock(side_effect=Store())
    seen: list[AddProgress] = []

    async def record(progress: AddProgress) -> None:
        seen.append(progress)

    await client.members.add(7, iter(people(30)), batch_size=10, on_progress=record)
    assert len(seen) == 3
    assert seen[-1].total is None
    assert seen[-1].added == 30


async def test_input_is_read_lazily_and_boundedly(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    store = Store()
    store.hold = True
    store.full_at = 3
    router.post(MEMBERS).mock(side_effect=store)
    consumed = 0

    async def endless() -> AsyncIterator[NewMember]:
        nonlocal consumed
        i = 0
        while True:
            consumed += 1
            i += 1
            yield NewMember(f"+1{i:09d}")
            if i >= 10_000_000:
                return

    task = asyncio.create_task(client.members.add(7, endless(), batch_size=100, concurrency=3))
    await store.full.wait()
    for _ in range(20):
        await asyncio.sleep(0)  # give the producer every chance to read ahead
    # 3 batches in flight, one batch being filled, and the member that waits for a slot
    assert consumed <= (3 + 1) * 100 + 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancel_cancels_batches_in_flight_at_once(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    store = Store()
    store.hold = True
    store.full_at = 4
    router.post(MEMBERS).mock(side_effect=store)
    task = asyncio.create_task(client.members.add(7, people(5000), batch_size=100))
    await store.full.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.cancelled == 4  # every batch in flight, without waiting for any
    assert store.in_flight == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # the client stays usable
    store.hold = False
    assert (await client.members.add(7, people(10))).count == 10


@pytest.mark.parametrize("concurrency", [0, -1, 1.5])
async def test_bad_concurrency(client: AsyncSmsClient, concurrency: object) -> None:
    with pytest.raises(ValidationError, match="concurrency"):
        await client.members.add(7, [], concurrency=concurrency)


async def test_an_exception_from_the_input_is_raised_as_itself(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.post(MEMBERS).mock(side_effect=Store())

    def broken() -> object:
        yield NewMember("+1")
        raise OSError("disk gone")

    # The upload stops with the account of what was read; the input's error is the cause.
    with pytest.raises(BulkAddAbortedError, match="the input raised OSError") as caught:
        await client.members.add(7, broken())
    assert isinstance(caught.value.__cause__, OSError)
    assert str(caught.value.__cause__) == "disk gone"
    assert caught.value.result.count == 1


# --- the accounting invariant ----------------------------------------------------------

member_strategy = st.one_of(
    st.builds(NewMember, phone=st.from_regex(r"\+?[0-9]{1,15}", fullmatch=True)),
    st.builds(NewMember, phone=st.sampled_from(["", "abc", "+", "12-34"])),
    st.builds(
        NewMember,
        phone=st.from_regex(r"[0-9]{5}", fullmatch=True),
        name=st.text(min_size=49, max_size=60),
    ),
    st.fixed_dictionaries({"phone": st.from_regex(r"[0-9]{3,8}", fullmatch=True)}),
    st.fixed_dictionaries(
        {
            "phone": st.from_regex(r"\+?[0-9]{1,12}", fullmatch=True) | st.sampled_from(["x", ""]),
            "name": st.none() | st.text(max_size=50),
            "vars": st.none()
            | st.dictionaries(st.text(max_size=34), st.text(max_size=60), max_size=3),
        }
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    members=st.lists(member_strategy, max_size=60),
    batch_size=st.integers(1, 12),
    concurrency=st.integers(1, 5),
    failures=st.lists(st.booleans(), min_size=64, max_size=64),
    api_rejects=st.lists(st.booleans(), min_size=64, max_size=64),
)
def test_every_member_ends_in_exactly_one_place(
    members: list[object],
    batch_size: int,
    concurrency: int,
    failures: list[bool],
    api_rejects: list[bool],
) -> None:
    stored: list[str] = []
    batch_no = 0

    async def send(sent: Batch) -> tuple[object, object]:
        nonlocal batch_no
        batch = sent.members()
        mine = batch_no
        batch_no += 1
        await asyncio.sleep(0)
        if failures[mine % 64]:
            raise ServerError("boom", status_code=500)
        rejected = [str(m["phone"]) for i, m in enumerate(batch) if api_rejects[(mine + i) % 64]]
        added = [str(m["phone"]) for i, m in enumerate(batch) if not api_rejects[(mine + i) % 64]]
        stored.extend(added)
        return len(added), rejected

    result = asyncio.run(
        add_members(
            members,
            send,
            batch_size=batch_size,
            concurrency=concurrency,
            raise_on_error=False,
            accept=accept_member,
        )
    )
    failed = [m.phone for m in result.failed_members]
    input_phones = [m.phone if isinstance(m, NewMember) else m["phone"] for m in members]
    assert result.count == len(stored)
    assert Counter(stored) + Counter(result.invalid) + Counter(failed) == Counter(input_phones)
    assert all(len(b.members) <= batch_size for b in result.failed)


async def test_failed_batches_are_in_input_order_even_when_they_finish_out_of_order(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    async def fail_in_reverse(request: httpx.Request) -> httpx.Response:
        first = json.loads(request.content)["members"][0]["phone"]
        # the earlier the batch, the later it fails
        for _ in range(100 - int(first[-3:]) // 10):
            await asyncio.sleep(0)
        return httpx.Response(400, json={"code": 1, "message": "no"})

    router.post(MEMBERS).mock(side_effect=fail_in_reverse)
    members = [NewMember(f"+1{i:03d}") for i in range(40)]
    result = await client.members.add(7, members, batch_size=10, raise_on_error=False)
    assert [m.phone for m in result.failed_members] == [m.phone for m in members]


async def test_slow_progress_callbacks_hold_their_slot(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.post(MEMBERS).mock(side_effect=Store())
    running = 0
    most = 0

    async def slow(progress: AddProgress) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        for _ in range(10):
            await asyncio.sleep(0)
        running -= 1

    await client.members.add(7, people(2000), batch_size=100, concurrency=3, on_progress=slow)
    assert most <= 3


async def test_progress_carries_the_batch_outcome(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    store = Store(reject=frozenset({people(1)[0].phone}))
    router.post(MEMBERS).mock(side_effect=store)
    outcomes = []
    await client.members.add(
        7, people(15), batch_size=10, concurrency=1, on_progress=lambda p: outcomes.append(p.batch)
    )
    assert [len(o.members) for o in outcomes] == [10, 5]
    assert (outcomes[0].count, outcomes[0].invalid, outcomes[0].error) == (
        9,
        [people(1)[0].phone],
        None,
    )


async def test_a_none_phone_is_recorded_as_empty(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.post(MEMBERS).mock(side_effect=Store())
    result = await client.members.add(7, [{"phone": None}, {"phone": None, "x": 1}])
    assert result.invalid == ["", ""]


async def test_a_closed_client_raises_a_typed_error(router: respx.MockRouter) -> None:
    from sms_async import APIConnectionError

    client = AsyncSmsClient("u", "k", base_url=BASE)
    await client.aclose()
    with pytest.raises(APIConnectionError, match="closed"):
        await client.contact_lists.delete(1)
    # Every batch would meet the closed client: the upload stops at the first one.
    with pytest.raises(BulkAddAbortedError) as caught:
        await client.members.add(7, people(3), raise_on_error=False)
    result = caught.value.result
    assert isinstance(result.failed[0].error, APIConnectionError)
    assert caught.value.__cause__ is result.failed[0].error
    assert result.failed[0].maybe_stored is False


async def test_plain_dicts_are_sent_as_they_are_without_none_fields(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.post(MEMBERS).mock(
        return_value=httpx.Response(200, json={"result": {"count": 3, "invalid": []}})
    )
    await client.members.add(
        7,
        [
            {"phone": "+1", "name": "a", "vars": {"k": "v"}},
            {"phone": "+2", "name": None, "vars": None},
            {"phone": "+3"},
        ],
    )
    assert json.loads(route.calls.last.request.content) == {
        "members": [
            {"phone": "+1", "name": "a", "vars": {"k": "v"}},
            {"phone": "+2"},
            {"phone": "+3"},
        ]
    }


async def test_vars_given_as_any_mapping_are_sent_as_objects(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    from types import MappingProxyType

    route = router.post(MEMBERS).mock(
        return_value=httpx.Response(200, json={"result": {"count": 2, "invalid": []}})
    )
    frozen = MappingProxyType({"k": "v"})
    result = await client.members.add(
        7,
        [NewMember("+1", vars=frozen), {"phone": "+2", "vars": frozen}],
    )
    assert result.count == 2
    sent = json.loads(route.calls.last.request.content)["members"]
    assert [m["vars"] for m in sent] == [{"k": "v"}, {"k": "v"}]
    update = router.put(f"{MEMBERS}/5").mock(return_value=httpx.Response(200, json={"count": 1}))
    assert await client.members.update(7, 5, vars=frozen) == 1
    assert json.loads(update.calls.last.request.content) == {"member": {"vars": {"k": "v"}}}


async def test_batches_and_failed_batches_know_their_place_in_the_upload() -> None:
    from sms_async.testing import FakeSmsServer

    seen: list[int | None] = []
    rows = [{"phone": f"+1555{i:07d}"} for i in range(250)]
    rows.insert(120, {"phone": "bad"})  # rejected before sending: takes no place
    async with FakeSmsServer() as fake:
        target = fake.create_list("places")
        fake.set_faults("members.add", rate_503=1.0)
        async with fake.client(max_retries=0) as client:
            result = await client.members.add(
                target.contact_list_id,
                rows,
                batch_size=100,
                raise_on_error=False,
                on_progress=lambda p: seen.append(p.batch.index if p.batch else None),
            )
    assert sorted(i for i in seen if i is not None) == [0, 1, 2]
    assert [batch.index for batch in result.failed] == [0, 1, 2]
    assert [batch.members[0].phone for batch in result.failed] == [
        "+15550000000",
        "+15550000100",
        "+15550000200",
    ]
