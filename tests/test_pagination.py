import asyncio
import contextlib

import httpx
import pytest
import respx

from sms_async import AsyncSmsClient, Page

from .conftest import BASE

MEMBERS = f"{BASE}/v1/contact_lists/7/members"


class Listing:
    """A respx side effect serving `total` members, recording what was asked and in flight."""

    def __init__(
        self,
        total: int,
        *,
        reported_total: int | None = None,
        yields: int = 3,
        hold_from: int | None = None,
    ) -> None:
        self.total = total
        self.hold_from = hold_from
        self.release = asyncio.Event()
        self.reported_total = total if reported_total is None else reported_total
        self.yields = yields
        self.requests: list[tuple[int, int]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.cancelled = 0
        self.completed = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        self.requests.append((offset, limit))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            # Later pages answer first, so order must be restored by the paginator.
            for _ in range(self.yields + max(0, 50 - offset // 100)):
                await asyncio.sleep(0)
            if self.hold_from is not None and offset >= self.hold_from:
                await self.release.wait()  # held in flight until the test lets go
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
        self.completed += 1
        rows = [
            {"member_id": i, "phone": f"+1{i}"}
            for i in range(offset, min(offset + limit, self.total))
        ]
        return httpx.Response(
            200, json={"result": rows, "count": len(rows), "total": self.reported_total}
        )


@pytest.fixture
async def client(router: respx.MockRouter) -> AsyncSmsClient:
    async with AsyncSmsClient("u", "k", base_url=BASE, max_concurrency=4) as c:
        yield c


async def test_prefetch_yields_every_item_in_order(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    listing = Listing(1234)
    router.get(MEMBERS).mock(side_effect=listing)
    ids = [m.member_id async for m in client.members.list(7)]
    assert ids == list(range(1234))
    assert sorted(listing.requests) == [(o, 100) for o in range(0, 1200, 100)] + [(1200, 34)]
    assert listing.max_in_flight == 4  # reaches the client's max_concurrency, never above


async def test_never_requests_past_total(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    listing = Listing(250)
    router.get(MEMBERS).mock(side_effect=listing)
    pages = [page async for page in client.members.list(7).pages()]
    assert [(p.offset, len(p.items), p.total) for p in pages] == [
        (0, 100, 250),
        (100, 100, 250),
        (200, 50, 250),
    ]
    assert all(isinstance(p, Page) for p in pages)
    assert sorted(listing.requests) == [(0, 100), (100, 100), (200, 50)]


async def test_max_items_caps_items_and_requests(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    listing = Listing(1000)
    router.get(MEMBERS).mock(side_effect=listing)
    ids = [m.member_id async for m in client.members.list(7, max_items=150)]
    assert ids == list(range(150))
    assert sorted(listing.requests) == [(0, 100), (100, 50)]


async def test_small_page_size_and_max_items_below_a_page(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    listing = Listing(1000)
    router.get(MEMBERS).mock(side_effect=listing)
    ids = [m.member_id async for m in client.members.list(7, page_size=10, max_items=5)]
    assert ids == [0, 1, 2, 3, 4]
    assert listing.requests == [(0, 5)]


async def test_short_page_ends_the_listing(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    listing = Listing(230, reported_total=10_000)  # the server's total is wrong
    router.get(MEMBERS).mock(side_effect=listing)
    ids = [m.member_id async for m in client.members.list(7)]
    assert ids == list(range(230))
    assert all(offset < 10_000 for offset, _ in listing.requests)
    assert listing.in_flight == 0  # the pages planned after the short one were cancelled


async def test_empty_listing(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    listing = Listing(0)
    router.get(MEMBERS).mock(side_effect=listing)
    assert [m async for m in client.members.list(7)] == []
    assert listing.requests == [(0, 100)]


async def test_break_cancels_every_request_in_flight(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    listing = Listing(5000, hold_from=200)
    router.get(MEMBERS).mock(side_effect=listing)
    async with contextlib.aclosing(aiter(client.members.list(7))) as members:
        async for member in members:
            if member.member_id == 150:
                break
    assert listing.in_flight == 0
    assert listing.cancelled == 3  # pages 200, 300 and 400 were held in flight
    assert listing.completed + listing.cancelled == len(listing.requests)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_plain_break_cleans_up_when_the_generator_is_finalized(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    listing = Listing(5000, hold_from=200)
    router.get(MEMBERS).mock(side_effect=listing)
    async for member in client.members.list(7):
        if member.member_id == 150:
            break
    # asyncio closes an abandoned async generator in a task of its own: let it run.
    for _ in range(5):
        await asyncio.sleep(0)
    assert listing.in_flight == 0
    assert listing.cancelled == 3  # pages 200, 300 and 400 were held in flight
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_cancelling_the_consumer_cancels_the_prefetch(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    listing = Listing(5000, hold_from=200)
    router.get(MEMBERS).mock(side_effect=listing)
    second_page = asyncio.Event()

    async def consume() -> None:
        async for member in client.members.list(7):
            if member.member_id == 100:
                second_page.set()

    task = asyncio.create_task(consume())
    await second_page.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert listing.in_flight == 0
    assert listing.cancelled == 4  # the whole window (max_concurrency) was held in flight
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # the client is still usable
    assert [m.member_id async for m in client.members.list(7, max_items=3)] == [0, 1, 2]


async def test_error_on_a_prefetched_page_propagates_and_cancels_the_rest(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    listing = Listing(5000)

    async def failing(request: httpx.Request) -> httpx.Response:
        if request.url.params["offset"] == "300":
            return httpx.Response(400, json={"code": 35002, "message": "gone"})
        return await listing(request)

    router.get(MEMBERS).mock(side_effect=failing)
    from sms_async import NotFoundError

    seen: list[int] = []

    async def consume() -> None:
        async for member in client.members.list(7):
            seen.append(member.member_id)

    with pytest.raises(NotFoundError):
        await consume()
    assert seen == list(range(300))
    assert listing.in_flight == 0


async def test_member_ids_are_split_into_chunks_of_100(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    asked: list[list[int]] = []

    def by_ids(request: httpx.Request) -> httpx.Response:
        ids = [int(x) for x in request.url.params["member_ids"].split(";")]
        asked.append(ids)
        rows = [{"member_id": i} for i in ids]
        return httpx.Response(200, json={"result": rows, "count": len(rows), "total": len(rows)})

    router.get(MEMBERS).mock(side_effect=by_ids)
    wanted = list(range(1000, 1250))
    got = [m.member_id async for m in client.members.list(7, member_ids=wanted)]
    assert got == wanted
    assert [len(chunk) for chunk in asked] == [100, 100, 50]
    assert [x for chunk in asked for x in chunk] == wanted


async def test_paginator_can_be_iterated_again(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.get(MEMBERS).mock(side_effect=Listing(120))
    paginator = client.members.list(7)
    first = [m.member_id async for m in paginator]
    second = [m.member_id async for m in paginator]
    assert first == second == list(range(120))


@pytest.mark.parametrize("max_items", [-1, 1.5, "3"])
def test_bad_max_items(client: AsyncSmsClient, max_items: object) -> None:
    from sms_async import ValidationError

    with pytest.raises(ValidationError, match="max_items"):
        client.members.list(7, max_items=max_items)


async def test_a_huge_reported_total_costs_nothing_up_front(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    listing = Listing(250, reported_total=10**15)
    router.get(MEMBERS).mock(side_effect=listing)
    ids = [m.member_id async for m in client.members.list(7)]
    assert ids == list(range(250))
    assert len(listing.requests) <= 3 + 4  # the pages that exist, and one window ahead
