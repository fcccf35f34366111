"""A slot changes hands inside a process, and concurrent requests share round trips.

Real redis-server. Round trips are counted by Redis itself (``INFO
commandstats``: every limiter script is one ``EVALSHA``), so "no round trip"
means Redis saw no call. Each "process" is a limiter of its own on a Redis
client of its own, as separate worker processes would have. Leases are long
(300 s): a request woken by a timer instead of a give-back would hit the
test's timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from sms_async.contrib import redis as contrib_redis
from sms_async.contrib.redis import RedisConcurrencyLimiter, RedisRateLimiter

from .test_redis_waiting import blocked_at_least

LONG = 300.0


async def script_calls(watch: Redis) -> int:
    """Scripts Redis has run so far (each limiter call is one EVALSHA or EVAL)."""
    stats = await watch.info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )


async def steps_until(condition: Callable[[], bool], limit: int = 10_000) -> None:
    """Let the event loop run, one step at a time, until *condition* holds."""
    for _ in range(limit):
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail("the condition never held")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("protocol", [2, 3])
async def test_a_given_back_slot_goes_to_a_waiter_of_the_same_process_without_a_round_trip(
    clients: Callable[..., Redis], protocol: int
) -> None:
    watch = clients()
    limiter = RedisConcurrencyLimiter(clients(protocol=protocol), "t:hand", 1, lease=LONG)
    held, go = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with limiter.slot():
            held.set()
            await go.wait()

    holding = asyncio.ensure_future(holder())
    await held.wait()
    (lease,) = await watch.zrange("t:hand", 0, -1)
    before = await script_calls(watch)
    order: list[int] = []
    seen: list[tuple[list[bytes], int]] = []

    async def waiter(index: int) -> None:
        async with limiter.slot():
            order.append(index)
            seen.append((await watch.zrange("t:hand", 0, -1), await script_calls(watch)))

    waiters = [asyncio.ensure_future(waiter(0))]
    await blocked_at_least(watch, 1)  # it asked Redis, found no slot, and listens
    waiters += [asyncio.ensure_future(waiter(i)) for i in range(1, 5)]
    await steps_until(lambda: limiter._waiting == 5)
    # Only the first asked Redis: the others joined it without a round trip.
    assert await script_calls(watch) == before + 1
    go.set()
    await asyncio.gather(holding, *waiters)
    assert order == [0, 1, 2, 3, 4]  # longest waiting first
    for leases, calls in seen:
        # The same lease went from hand to hand: no take, no give-back in between.
        assert leases == [lease]
        assert calls == before + 1
    await limiter.drain()
    assert await watch.zcard("t:hand") == 0  # the last one gave it back to Redis


@pytest.mark.timeout(30)
@pytest.mark.parametrize("window", ["default", "closed"])
async def test_after_the_hand_off_window_a_slot_goes_back_to_redis_for_the_other_processes(
    clients: Callable[..., Redis], monkeypatch: pytest.MonkeyPatch, window: str
) -> None:
    if window == "closed":
        monkeypatch.setattr(contrib_redis, "HANDOFF_WINDOW", 0.0)
    watch = clients()
    here = RedisConcurrencyLimiter(clients(), "t:fair", 1, lease=LONG)
    there = RedisConcurrencyLimiter(clients(), "t:fair", 1, lease=LONG)
    held, go = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with here.slot():
            held.set()
            await go.wait()

    holding = asyncio.ensure_future(holder())
    await held.wait()
    order: list[str] = []

    async def waiter(limiter: RedisConcurrencyLimiter, name: str) -> None:
        async with limiter.slot():
            order.append(name)

    # The other process waits first (Redis wakes the longest blocked), then this one.
    waiters = [asyncio.ensure_future(waiter(there, "there"))]
    await blocked_at_least(watch, 1)
    waiters.append(asyncio.ensure_future(waiter(here, "here")))
    await blocked_at_least(watch, 2)
    go.set()
    await asyncio.gather(holding, *waiters)
    if window == "default":
        assert order == ["here", "there"]  # handed over inside the process, then to Redis
    else:
        assert order == ["there", "here"]  # window closed: back to Redis, whose FIFO decides
    for limiter in (here, there):
        await limiter.drain()
    assert await watch.zcard("t:fair") == 0


@pytest.mark.timeout(30)
@pytest.mark.parametrize("others", [0, 1])
async def test_a_waiter_cancelled_just_after_being_handed_a_slot_passes_it_on(
    clients: Callable[..., Redis], others: int
) -> None:
    watch = clients()
    limiter = RedisConcurrencyLimiter(clients(), "t:pass", 1, lease=LONG)
    held, go = asyncio.Event(), asyncio.Event()
    first: list[asyncio.Future[None]] = []

    async def holder() -> None:
        async with limiter.slot():
            held.set()
            await go.wait()
        # The slot went to the first waiter as the block was left; cancel that
        # waiter before it could resume.
        first[0].cancel()

    holding = asyncio.ensure_future(holder())
    await held.wait()
    got: list[int] = []

    async def waiter(index: int) -> None:
        async with limiter.slot():
            got.append(index)

    waiters = [asyncio.ensure_future(waiter(0))]
    first.append(waiters[0])
    await blocked_at_least(watch, 1)
    waiters += [asyncio.ensure_future(waiter(i)) for i in range(1, 1 + others)]
    await steps_until(lambda: limiter._waiting == 1 + others)
    go.set()
    await holding
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert got == list(range(1, 1 + others))  # passed on to the next one, if any
    await limiter.drain()
    assert await watch.zcard("t:pass") == 0  # else given back to Redis


@pytest.mark.timeout(30)
async def test_concurrent_acquires_of_one_process_share_round_trips_and_the_rate_holds(
    clients: Callable[..., Redis],
) -> None:
    watch = clients()
    # One request a second after a burst of 10: only the burst may go now.
    limiter = RedisRateLimiter(clients(), "t:many", rate=1, burst=10)
    await limiter.acquire()  # connected, script loaded
    before = await script_calls(watch)
    await asyncio.gather(*(limiter.acquire() for _ in range(9)))
    # The first asked alone; the 8 queued behind it went with the next round trip.
    assert await script_calls(watch) - before == 2
    with pytest.raises(TimeoutError):  # the burst is spent: the next one waits ~1 s
        async with asyncio.timeout(0.3):
            await limiter.acquire()


@pytest.mark.timeout(30)
async def test_a_flushed_script_cache_is_refilled(clients: Callable[..., Redis]) -> None:
    watch = clients()
    rate = RedisRateLimiter(clients(), "t:flush:rate", rate=1000, burst=10)
    slots = RedisConcurrencyLimiter(clients(), "t:flush:slots", 2)
    await rate.acquire()
    async with slots.slot():
        pass
    await watch.script_flush()  # as after a restart of Redis: EVALSHA answers NOSCRIPT
    await rate.acquire()
    async with slots.slot():
        assert await watch.zcard("t:flush:slots") == 1
    await slots.drain()
    assert await watch.zcard("t:flush:slots") == 0


@pytest.mark.timeout(30)
async def test_each_limiter_pipelines_on_one_connection_of_its_own_which_drain_closes(
    clients: Callable[..., Redis],
) -> None:
    watch = clients()
    await watch.ping()
    alone = len(await watch.client_list())
    redis = clients()
    rate = RedisRateLimiter(redis, "t:own:rate", rate=1000, burst=100)
    slots = RedisConcurrencyLimiter(redis, "t:own:slots", 20)
    inside = 0

    async def request() -> None:
        nonlocal inside
        await rate.acquire()
        async with slots.slot():
            inside += 1
            await steps_until(lambda: inside == 20)  # all 20 hold a slot at once

    await asyncio.gather(*(request() for _ in range(20)))
    # 20 concurrent takes, acquires and give-backs: one connection per limiter.
    assert len(await watch.client_list()) == alone + 2
    await rate.drain()
    await slots.drain()
    assert len(await watch.client_list()) == alone
    await rate.acquire()  # and a new one the next time
    async with slots.slot():
        assert len(await watch.client_list()) == alone + 2
    await rate.drain()
    await slots.drain()
    assert await watch.zcard("t:own:slots") == 0
