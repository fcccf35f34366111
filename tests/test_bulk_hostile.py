"""Exact accounting when the server or the input misbehaves (members.add).

The invariant under test, for every server answer and every input:
``count + len(invalid) + sum(len(b.members) for b in failed) == members read``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sms_async import (
    AddMembersResult,
    AsyncSmsClient,
    AuthenticationError,
    BulkAddAbortedError,
    MalformedResponseError,
    NewMember,
    NotFoundError,
    ValidationError,
)
from sms_async.testing import FakeSmsServer

from .conftest import BASE, KEY, TASK_BASE, USER

MEMBERS = f"{BASE}/v1/contact_lists/7/members"


def people(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"phone": f"+1555{start + i:07d}"} for i in range(n)]


def accounted(result: AddMembersResult) -> int:
    return result.count + len(result.invalid) + sum(len(b.members) for b in result.failed)


class Counting:
    """An input that counts what was read from it."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items
        self.read = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self.items:
            self.read += 1
            yield item


# --- a 2xx answer that does not add up --------------------------------------------------

HOSTILE_ANSWERS = {
    "empty result": {"result": {}},
    "count short": {"result": {"count": 9, "invalid": []}},
    "count over": {"result": {"count": 11, "invalid": []}},
    "negative count": {"result": {"count": -1, "invalid": ["+15550000000"] * 11}},
    "strangers invalid": {"result": {"count": 8, "invalid": ["+19990000000", "+19990000001"]}},
    "invalid twice": {"result": {"count": 8, "invalid": ["+15550000000", "+15550000000"]}},
    "wrong shape": {"result": []},
    "count not a number": {"result": {"count": "ten", "invalid": []}},
    "invalid not a list": {"result": {"count": 10, "invalid": "none"}},
}


@pytest.mark.parametrize("answer", list(HOSTILE_ANSWERS.values()), ids=list(HOSTILE_ANSWERS))
async def test_an_answer_that_does_not_add_up_fails_the_whole_batch(
    client: AsyncSmsClient, router: respx.MockRouter, answer: dict[str, Any]
) -> None:
    router.post(MEMBERS).mock(return_value=httpx.Response(200, json=answer))
    result = await client.members.add(7, people(10), raise_on_error=False)
    assert result.count == 0  # nothing of it counted as added
    assert result.invalid == []
    (failed,) = result.failed
    assert [m.phone for m in failed.members] == [m["phone"] for m in people(10)]
    assert isinstance(failed.error, MalformedResponseError)
    assert failed.maybe_stored is True
    assert accounted(result) == 10


async def test_an_answer_that_adds_up_is_accepted(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    answer = {"result": {"count": 9, "invalid": ["+15550000003"]}}
    router.post(MEMBERS).mock(return_value=httpx.Response(200, json=answer))
    result = await client.members.add(7, people(10))
    assert (result.count, result.invalid, result.failed) == (9, ["+15550000003"], [])


# --- maybe_stored ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "maybe_stored"),
    [
        (httpx.Response(503, text="<html>"), False),
        (httpx.Response(429, json={"code": 429, "message": "slow down"}), False),
        (httpx.Response(400, json={"code": 35004, "message": "bad"}), False),
        (httpx.Response(500, json={"code": 1, "message": "boom"}), True),
        (httpx.Response(502, text="bad gateway"), True),
        (httpx.Response(200, text="<html>"), True),
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("no connect"), False),
        (httpx.ReadTimeout("no answer"), True),
        (httpx.RemoteProtocolError("closed mid-answer"), True),
        (httpx.ReadError("reset"), True),
    ],
)
async def test_maybe_stored_says_whether_the_batch_may_be_stored(
    router: respx.MockRouter, answer: httpx.Response | Exception, maybe_stored: bool
) -> None:
    route = router.post(MEMBERS)
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    async with AsyncSmsClient(USER, KEY, base_url=BASE, task_base_url=TASK_BASE) as client:
        result = await client.members.add(7, people(3), raise_on_error=False)
    (failed,) = result.failed
    assert failed.maybe_stored is maybe_stored, failed.error


# --- hypothesis: the invariant over hostile answers --------------------------------------

answers = st.one_of(
    st.tuples(st.just(200), st.integers(-3, 60), st.lists(st.sampled_from(["a", "b", "x"]))),
    st.tuples(st.sampled_from([400, 429, 500, 503]), st.just(0), st.just([])),
    st.tuples(st.sampled_from([200]), st.just("n/a"), st.just("n/a")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(answers, min_size=1, max_size=12),
    size=st.integers(0, 180),
    batch_size=st.integers(1, 40),
    fatal_at=st.one_of(st.none(), st.integers(0, 8)),
)
def test_every_member_read_is_accounted_for_whatever_the_server_answers(
    plan: list[tuple[int, Any, Any]], size: int, batch_size: int, fatal_at: int | None
) -> None:
    calls = 0

    def respond(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        index, calls = calls, calls + 1
        if fatal_at is not None and index == fatal_at:
            return httpx.Response(401, json={"code": 30000, "message": "Unauthorized"})
        status, count, invalid = plan[index % len(plan)]
        if status != 200:
            return httpx.Response(status, json={"code": 1, "message": "no"})
        sent = [m["phone"] for m in json.loads(request.content)["members"]]
        if count == "n/a":
            return httpx.Response(200, json={"result": {"count": len(sent) - 1}})
        # Invalid phones drawn from the batch ("a", "b": its first two) or strangers ("x").
        named = {"a": sent[0], "b": sent[-1], "x": "+19999999999"}
        return httpx.Response(
            200, json={"result": {"count": count, "invalid": [named[k] for k in invalid]}}
        )

    members = Counting(iter([*people(size), {"phone": "bad"}, *people(5, size)]))
    causes: list[BaseException | None] = []

    async def main() -> AddMembersResult:
        with respx.mock(assert_all_called=False) as mock:
            mock.post(MEMBERS).mock(side_effect=respond)
            async with AsyncSmsClient(
                USER, KEY, base_url=BASE, task_base_url=TASK_BASE, max_retries=0
            ) as client:
                try:
                    return await client.members.add(
                        7, members, batch_size=batch_size, concurrency=3, raise_on_error=False
                    )
                except BulkAddAbortedError as aborted:
                    causes.append(aborted.__cause__)
                    return aborted.result

    result = asyncio.run(main())
    assert all(isinstance(cause, AuthenticationError) for cause in causes)
    assert accounted(result) == members.read
    assert all(len(b.members) <= batch_size for b in result.failed)


# --- the input: snapshots, loose types, bad text ----------------------------------------


async def test_a_reused_dict_is_snapshotted_when_read() -> None:
    def reader() -> Iterator[dict[str, Any]]:
        row: dict[str, Any] = {}
        for i in range(3000):
            row["phone"] = f"+1555{i:07d}"  # the same dict, changed and yielded again
            row["vars"] = {"n": str(i)}
            yield row

    async with FakeSmsServer() as fake:
        target = fake.create_list("reused")
        async with fake.client() as client:
            result = await client.members.add(target.contact_list_id, reader(), batch_size=500)
        stored = fake.members("reused")
    assert result.count == 3000
    assert sorted(m.phone for m in stored) == [f"+1555{i:07d}" for i in range(3000)]
    assert {m.phone: m.vars["n"] for m in stored}["+15550001234"] == "1234"


async def test_vars_changed_after_they_were_read_are_not_sent(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    hold = asyncio.Event()
    seen: list[Any] = []

    async def store(request: httpx.Request) -> httpx.Response:
        await hold.wait()
        seen.extend(json.loads(request.content)["members"])
        return httpx.Response(200, json={"result": {"count": 1, "invalid": []}})

    router.post(MEMBERS).mock(side_effect=store)
    nested = {"tags": ["a"], "city": "Paris"}
    member = {"phone": "+15550000001", "vars": nested}
    upload = asyncio.ensure_future(client.members.add(7, [member], batch_size=1))
    for _ in range(10):
        await asyncio.sleep(0)
    nested["city"] = "Rome"
    nested["tags"].append("b")  # type: ignore[attr-defined]
    member["phone"] = "+15559999999"
    hold.set()
    await upload
    assert seen == [{"phone": "+15550000001", "vars": {"tags": ["a"], "city": "Paris"}}]


@pytest.mark.parametrize("members", ["+8613800000000", b"+8613800000000", {"phone": "+1555"}])
async def test_a_string_bytes_or_single_mapping_is_refused(
    client: AsyncSmsClient, router: respx.MockRouter, members: Any
) -> None:
    route = router.post(MEMBERS)
    with pytest.raises(ValidationError, match="wrap one member in a list"):
        await client.members.add(7, members)
    assert not route.called


BAD_TEXT = "caf\udce9"  # a lone surrogate, as os.fsdecode or a broken reader may leave


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"x": value}
    return value


@pytest.mark.parametrize(
    "bad",
    [
        {"phone": "+15550000500", "name": BAD_TEXT},
        {"phone": "+15550000500", "vars": {BAD_TEXT: "v"}},
        {"phone": "+15550000500", "vars": {"k": BAD_TEXT}},
        {"phone": "+15550000500", "vars": {"k": [BAD_TEXT]}},
        {"phone": "+15550000500", "vars": deep(100_000)},
        {"phone": "+15550000500", "vars": {"k": object()}},
        {"phone": "+15550000500", "vars": {"k": float("nan")}},
        NewMember("+15550000500", name=BAD_TEXT),
        NewMember("+15550000500", vars={"k": {1, 2}}),
    ],
    ids=[
        "name",
        "vars key",
        "vars value",
        "nested vars value",
        "deep vars",
        "object",
        "nan",
        "NewMember name",
        "NewMember set",
    ],
)
async def test_a_member_that_cannot_be_sent_is_invalid_and_the_rest_goes_on(bad: Any) -> None:
    async with FakeSmsServer() as fake:
        target = fake.create_list("text")
        async with fake.client() as client:
            members = [*people(500), bad, *people(499, 501)]
            result = await client.members.add(target.contact_list_id, members, batch_size=300)
        assert result.count == 999
        assert result.invalid == ["+15550000500"]
        assert result.failed == []
        assert fake.get_list("text").member_count == 999


# --- fail fast ------------------------------------------------------------------------------


async def test_a_fatal_error_stops_reading_a_huge_input() -> None:
    generated = 0

    def huge() -> Iterator[dict[str, str]]:
        nonlocal generated
        for i in range(300_000):
            generated += 1
            yield {"phone": f"+1555{i:07d}"}

    source = huge()
    async with FakeSmsServer() as fake:
        fake.fail_next("members.add", "401")
        target = fake.create_list("fatal")
        async with fake.client(max_concurrency=4) as client:
            with pytest.raises(BulkAddAbortedError) as caught:
                await client.members.add(target.contact_list_id, source)
        requests = fake.stats.requests["members.add"]
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert requests <= 4 + 2
    assert generated < 300_000  # the generator was not exhausted
    assert accounted(caught.value.result) == generated
    # ... and the caller may go on from where it stopped.
    following = f"+1555{generated:07d}"
    assert next(source) == {"phone": following}


async def test_a_missing_list_stops_the_upload_with_not_found() -> None:
    async with FakeSmsServer() as fake:
        async with fake.client() as client:
            with pytest.raises(BulkAddAbortedError) as caught:
                await client.members.add(424242, people(5000), batch_size=100)
        assert fake.stats.requests["members.add"] <= 8 + 2
    assert isinstance(caught.value.__cause__, NotFoundError)


async def test_an_input_that_raises_midway_returns_the_partial_result() -> None:
    def broken() -> Iterator[dict[str, str]]:
        yield from people(4500)
        raise OSError("the file went away")

    async with FakeSmsServer() as fake:
        target = fake.create_list("partial")
        async with fake.client() as client:
            with pytest.raises(BulkAddAbortedError, match="the input raised OSError") as caught:
                await client.members.add(target.contact_list_id, broken())
        stored = sorted(m.phone for m in fake.members("partial"))
    result = caught.value.result
    assert isinstance(caught.value.__cause__, OSError)
    assert result.count == len(stored) == 4500
    assert stored == sorted(m["phone"] for m in people(4500))


async def test_an_async_input_that_raises_midway_returns_the_partial_result() -> None:
    async def broken() -> AsyncIterator[dict[str, str]]:
        for member in people(1500):
            yield member
        raise ValueError("bad row")

    async with FakeSmsServer() as fake:
        target = fake.create_list("apartial")
        async with fake.client() as client:
            with pytest.raises(BulkAddAbortedError) as caught:
                await client.members.add(target.contact_list_id, broken(), batch_size=400)
        assert fake.get_list("apartial").member_count == 1500
    assert caught.value.result.count == 1500


async def test_on_progress_that_raises_stops_the_upload_with_the_partial_result() -> None:
    def explode(progress: object) -> None:
        raise RuntimeError("the progress bar broke")

    async with FakeSmsServer() as fake:
        target = fake.create_list("progress")
        async with fake.client(max_concurrency=2) as client:
            with pytest.raises(BulkAddAbortedError, match="on_progress raised") as caught:
                await client.members.add(
                    target.contact_list_id, people(20_000), batch_size=100, on_progress=explode
                )
        stored = fake.get_list("progress").member_count
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert caught.value.result.count == stored
    assert stored < 20_000
