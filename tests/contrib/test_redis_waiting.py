"""How RedisConcurrencyLimiter waits: woken by give-backs, not by polling (real redis-server).

Each "process" here is a limiter of its own on a Redis client of its own, as
separate worker processes would have. The leases are long (300 s), so a waiting
request would ask Redis again only when the earliest lease may expire, after
300 s: a test that ends within its timeout was woken by a give-back.

``SMS_ASYNC_REDIS_RACE_SEEDS`` scales the random-interleavings test (``nox -s
soak`` runs 1 000 seeds).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from collections.abc import Callable
from functools import partial

import pytest
from redis.asyncio import Redis

from sms_async.contrib.redis import RedisConcurrencyLimiter

from .conftest import RedisProcess
from .test_redis import WORKER

LONG = 300.0  # seconds of lease: a timer-based wake-up would come after 300 s
#: Random interleavings of the race test; ``nox -s soak`` runs 1 000.
RACE_SEEDS = int(os.environ.get("SMS_ASYNC_REDIS_RACE_SEEDS", "10"))


async def blocked_at_least(redis: Redis, count: int) -> None:
    """Ask Redis until *count* clients are blocked (BLPOP): no sleeping, just asking.

    What is awaited happens in Redis, so there is no event to wait on.
    """
    while int((await redis.info("clients"))["blocked_clients"]) < count:
        pass


async def holding(limiter: RedisConcurrencyLimiter, held: asyncio.Event, go: asyncio.Event) -> None:
    async with limiter.slot():
        held.set()
        await go.wait()


async def entering(limiter: RedisConcurrencyLimiter, note: Callable[[], object]) -> None:
    """Take a slot of *limiter*, call *note* inside it, give the slot back."""
    async with limiter.slot():
        note()


@pytest.mark.timeout(30)
async def test_a_waiter_is_woken_by_the_give_back_not_by_a_timer(
    clients: Callable[..., Redis],
) -> None:
    watch = clients()
    holder = RedisConcurrencyLimiter(clients(), "t:wake", 1, lease=LONG)
    waiter = RedisConcurrencyLimiter(clients(), "t:wake", 1, lease=LONG)
    for _ in range(3):
        held, go, inside = asyncio.Event(), asyncio.Event(), asyncio.Event()
        holding_task = asyncio.ensure_future(holding(holder, held, go))
        await held.wait()

        waiting_task = asyncio.ensure_future(entering(waiter, inside.set))
        await blocked_at_least(watch, 1)  # it found no slot and listens for wake-ups
        assert not inside.is_set()
        go.set()  # the holder gives the slot back: the only thing that can wake it
        await asyncio.gather(holding_task, waiting_task)
        assert inside.is_set()
    for limiter in (holder, waiter):
        await limiter.drain()
    assert await watch.zcard("t:wake") == 0


@pytest.mark.timeout(30)
async def test_waiters_of_one_process_share_one_blocked_connection(
    clients: Callable[..., Redis],
) -> None:
    watch = clients()
    holder = RedisConcurrencyLimiter(clients(), "t:one", 1, lease=LONG)
    waiter = RedisConcurrencyLimiter(clients(), "t:one", 1, lease=LONG)
    held, go = asyncio.Event(), asyncio.Event()
    holding_task = asyncio.ensure_future(holding(holder, held, go))
    await held.wait()
    order: list[int] = []

    tasks = [asyncio.ensure_future(entering(waiter, partial(order.append, i))) for i in range(10)]
    await blocked_at_least(watch, 1)
    for _ in range(20):  # every request has taken its turn, found no slot, and waits
        await asyncio.sleep(0)
    assert int((await watch.info("clients"))["blocked_clients"]) == 1
    go.set()
    await asyncio.gather(holding_task, *tasks)
    assert sorted(order) == list(range(10))  # each woken in turn, one blocked connection
    for limiter in (holder, waiter):
        await limiter.drain()
    assert await watch.zcard("t:one") == 0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", range(RACE_SEEDS))
async def test_no_wake_up_is_lost_and_the_cap_holds_under_random_interleavings(
    clients: Callable[..., Redis], seed: int
) -> None:
    rng = random.Random(seed)
    limit = rng.choice([1, 2, 3])
    key = f"t:race:{seed}"
    processes = [
        RedisConcurrencyLimiter(clients(protocol=rng.choice([2, 3])), key, limit, lease=LONG)
        for _ in range(rng.choice([2, 3]))
    ]
    in_flight = most = served = 0

    async def request(limiter: RedisConcurrencyLimiter, turns: int, spins: list[int]) -> None:
        nonlocal in_flight, most, served
        for turn in range(turns):
            async with limiter.slot():
                in_flight += 1
                try:
                    most = max(most, in_flight)
                    for _ in range(spins[turn]):
                        await asyncio.sleep(0)
                finally:
                    in_flight -= 1
            served += 1
            for _ in range(spins[-turn - 1] % 3):
                await asyncio.sleep(0)

    tasks = []
    for _ in range(rng.randrange(4, 12)):
        turns = rng.randrange(1, 6)
        spins = [rng.randrange(0, 30) for _ in range(turns)]
        tasks.append(asyncio.ensure_future(request(rng.choice(processes), turns, spins)))
    victims = rng.sample(tasks, k=rng.randrange(0, len(tasks) // 2 + 1))
    for _ in range(rng.randrange(0, 60)):
        await asyncio.sleep(0)
    for victim in victims:  # cancelled at random points: waiting, holding, in between
        victim.cancel()
        for _ in range(rng.randrange(0, 5)):
            await asyncio.sleep(0)
    # A lost wake-up leaves a request waiting for 300 s: the test's timeout catches it.
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for task, result in zip(tasks, results, strict=True):
        assert result is None or (task in victims and isinstance(result, asyncio.CancelledError))
    assert most <= limit
    assert served > 0
    for limiter in processes:
        await limiter.drain()
    watch = clients()
    assert await watch.zcard(key) == 0


@pytest.mark.timeout(60)
async def test_cancelling_blocked_waiters_leaks_no_slot_no_connection_and_no_task(
    clients: Callable[..., Redis],
) -> None:
    watch = clients()
    await watch.ping()
    holder = RedisConcurrencyLimiter(clients(), "t:leave", 1, lease=LONG)
    waiter = RedisConcurrencyLimiter(clients(), "t:leave", 1, lease=LONG)
    held, go = asyncio.Event(), asyncio.Event()
    holding_task = asyncio.ensure_future(holding(holder, held, go))
    await held.wait()
    connections = 0
    ours = asyncio.all_tasks()  # this test, the holder and its lease renewal

    async def wait_for_the_slot() -> None:
        async with waiter.slot():
            pytest.fail("the slot is held: nobody may get it")

    for round_ in range(5):
        waiters = [asyncio.ensure_future(wait_for_the_slot()) for _ in range(20)]
        await blocked_at_least(watch, 1)
        for task in waiters:
            task.cancel()
        done, _ = await asyncio.wait(waiters, timeout=10)
        assert len(done) == len(waiters)
        assert all(task.cancelled() for task in waiters)
        await waiter.drain()  # the listener ends, its connection is closed
        assert asyncio.all_tasks() <= ours  # nothing left running
        assert await watch.zcard("t:leave") == 1  # the holder's
        # The first round opened the command connections the waiter's pool keeps
        # (20 concurrent takes); the listener's own connection is closed each time.
        if round_ == 0:
            connections = len(await watch.client_list())
        assert len(await watch.client_list()) == connections
    go.set()
    await holding_task
    await holder.drain()
    assert await watch.zcard("t:leave") == 0


@pytest.mark.timeout(60)
async def test_a_killed_holders_slot_goes_to_a_waiter_when_its_lease_expires(
    redis_server: RedisProcess, clients: Callable[..., Redis]
) -> None:
    args = ["hold", str(redis_server.port), "t:expire", "-", "0", "0", "1", "1.0"]
    holder = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), *args, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 60)).strip() == b"held"
        waiter = RedisConcurrencyLimiter(clients(), "t:expire", 1, lease=1.0)
        inside = asyncio.Event()

        waiting_task = asyncio.ensure_future(entering(waiter, inside.set))
        watch = clients()
        await blocked_at_least(watch, 1)
        holder.kill()  # SIGKILL: the slot is never given back, nobody wakes the waiter
        await holder.wait()
        async with asyncio.timeout(10):  # the lease (1 s) expires: the waiter gets the slot
            await waiting_task
        assert inside.is_set()
        await waiter.drain()
        assert await watch.zcard("t:expire") == 0
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()


async def ghost_lease(watch: Redis, key: str, name: str, seconds: float) -> None:
    """A lease of a holder that died: in the sorted set, never renewed nor given back."""
    now_s, now_us = await watch.time()
    await watch.zadd(key, {name: now_s + now_us / 1e6 + seconds})


@pytest.mark.timeout(30)
async def test_one_alarm_wakes_every_waiter_whose_lease_may_have_expired(
    clients: Callable[..., Redis],
) -> None:
    # One process, three waiting requests, three slots held by a dead holder whose
    # leases expire in 1 s: no give-back will ever come, only the alarm (one timer
    # for all of them) can wake them, and it must wake all three: none gets in
    # until all three are in.
    watch = clients()
    for name in ("dead-1", "dead-2", "dead-3"):
        await ghost_lease(watch, "t:alarm", name, 1.0)
    limiter = RedisConcurrencyLimiter(clients(), "t:alarm", 3, lease=LONG)
    all_in = asyncio.Barrier(3)

    async def wait_for_the_slot() -> None:
        async with limiter.slot():
            await all_in.wait()

    tasks = [asyncio.ensure_future(wait_for_the_slot()) for _ in range(3)]
    await blocked_at_least(watch, 1)
    assert all_in.n_waiting == 0
    async with asyncio.timeout(20):  # the dead leases expire after 1 s
        await asyncio.gather(*tasks)
    await limiter.drain()
    assert await watch.zcard("t:alarm") == 0


@pytest.mark.timeout(30)
async def test_an_earlier_deadline_brings_the_alarm_forward(
    clients: Callable[..., Redis],
) -> None:
    # Two requests wait with the earliest lease 300 s away (the alarm is set for
    # then). A wake-up with no free slot sends the first back to Redis, which now
    # says the earliest lease expires in 0.5 s: the alarm must come forward, or
    # that request waits 300 s for a slot free after 0.5 s.
    watch = clients()
    limiter = RedisConcurrencyLimiter(clients(), "t:forward", 2, lease=LONG)
    held, go = asyncio.Event(), asyncio.Event()
    holding_task = asyncio.ensure_future(holding(limiter, held, go))
    await held.wait()
    await ghost_lease(watch, "t:forward", "dead", LONG)
    inside: list[int] = []

    first = asyncio.ensure_future(entering(limiter, partial(inside.append, 1)))
    await blocked_at_least(watch, 1)
    # The second joins the first, asking Redis nothing.
    second = asyncio.ensure_future(entering(limiter, partial(inside.append, 2)))
    for _ in range(20):
        await asyncio.sleep(0)
    await ghost_lease(watch, "t:forward", "dead", 0.5)  # it now expires in 0.5 s
    await watch.lpush("t:forward:wake", "1")  # a wake-up, while both slots are taken
    async with asyncio.timeout(20):
        await asyncio.gather(first, second)
    assert inside == [1, 2]  # the first in turn, then the second (handed the slot)
    assert not holding_task.done()  # the holder still holds its slot: the dead lease expired
    go.set()
    await holding_task
    await limiter.drain()
    assert await watch.zcard("t:forward") == 0


async def test_the_alarm_wakes_every_overdue_waiter_at_once() -> None:
    # Requests that asked Redis at different moments wait until different times.
    # When the alarm rings late (a busy event loop), every request whose time is
    # up by now is woken by that one ring: not one per ring, each ring scanning
    # every waiter again (quadratic, and later and later).
    limiter = RedisConcurrencyLimiter(Redis(), "t:overdue", 1)  # never connects here
    loop = asyncio.get_running_loop()
    now = loop.time()
    overdue = [loop.create_future() for _ in range(3)]
    pending = loop.create_future()
    for offset, waiter in zip((-0.3, -0.2, -0.1), overdue, strict=True):
        limiter._waiters.append((waiter, now + offset))
    limiter._waiters.append((pending, now + 60))
    limiter._ring(now - 0.3)  # the alarm set for the first deadline, ringing 0.3 s late
    assert [waiter.result() for waiter in overdue] == [False, False, False]
    assert not pending.done()
    assert limiter._alarm is not None
    assert limiter._alarm.when() == now + 60  # set again, for the one left
    limiter._alarm.cancel()


async def test_a_slot_object_is_held_once_at_a_time_and_reusable_after(
    clients: Callable[..., Redis],
) -> None:
    watch = clients()
    limiter = RedisConcurrencyLimiter(clients(), "t:reuse", 2, lease=LONG)
    slot = limiter.slot()
    for _ in range(2):
        async with slot:
            assert await watch.zcard("t:reuse") == 1
            with pytest.raises(RuntimeError, match="already held"):
                await slot.__aenter__()
        assert await watch.zcard("t:reuse") == 0  # given back, once
    await limiter.drain()


async def test_a_local_fallback_slot_object_is_reusable_without_over_releasing(
    redis_server: RedisProcess, clients: Callable[..., Redis]
) -> None:
    limiter = RedisConcurrencyLimiter(clients(), "t:reuse-local", 2, on_redis_error="local")
    redis_server.stop()  # Redis is down: the slot falls back to an in-process one
    semaphore = limiter._local.slot()
    slot = limiter.slot()
    for _ in range(3):
        async with slot:
            assert semaphore._value == 1
        assert semaphore._value == 2  # released once, not once per use so far
    await limiter.drain()
