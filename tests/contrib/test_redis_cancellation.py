"""The Redis limiters under lost cancellations, timeouts and a frozen Redis (real redis-server).

``SwallowingRedis`` is a test double of the Redis client that loses its
caller's cancellation the way redis-py sometimes does (redis/redis-py#2028,
#2551): the command runs to its end and returns normally, and the caller's
task carries on with its cancellation pending but never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from sms_async import LimiterUnavailableError
from sms_async.contrib.redis import RedisConcurrencyLimiter, RedisRateLimiter
from sms_async.testing import FakeSmsServer

from .conftest import RedisProcess

CHAOS_CANCELS = 400


class SwallowingRedis(Redis):
    """A Redis client whose commands swallow the caller's cancellation."""

    swallowed = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        call = asyncio.ensure_future(super().execute_command(*args, **options))
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            SwallowingRedis.swallowed += 1
            return await call  # lost: the caller's task goes on as if not cancelled


@contextlib.asynccontextmanager
async def frozen_redis() -> AsyncIterator[int]:
    """A port that accepts connections and never answers (a SIGSTOPped Redis)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(ConnectionError):
            await reader.read()  # read what comes, answer nothing

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_timeout_fires_while_waiting_for_a_slot_on_a_swallowing_redis(
    redis_server: RedisProcess,
) -> None:
    redis = SwallowingRedis(host="127.0.0.1", port=redis_server.port)
    limiter = RedisConcurrencyLimiter(redis, "t:swallow:wait", 1, lease=5)
    await redis.zadd("t:swallow:wait", {"someone-else": 1e12})  # the one slot is taken
    started = time.monotonic()
    for _ in range(30):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02), limiter.slot():
                pytest.fail("the slot was taken twice")
    assert time.monotonic() - started < 15  # each timeout fired (generous bound)
    await limiter.drain()
    assert await redis.zrange("t:swallow:wait", 0, -1) == [b"someone-else"]
    await redis.aclose()


async def test_a_cancelled_request_never_keeps_renewing_its_lease(
    redis_server: RedisProcess,
) -> None:
    # Requests lasting about lease / 3, cancelled while their renewer talks to Redis.
    redis = SwallowingRedis(host="127.0.0.1", port=redis_server.port)
    limiter = RedisConcurrencyLimiter(redis, "t:swallow:renew", 4, lease=0.09)
    rng = random.Random(7)

    async def request() -> None:
        async with limiter.slot():
            await asyncio.sleep(rng.uniform(0.0, 0.06))

    for _ in range(40):
        tasks = [asyncio.ensure_future(request()) for _ in range(4)]
        await asyncio.sleep(rng.uniform(0.02, 0.04))
        for task in tasks:
            task.cancel()
        done, _ = await asyncio.wait(tasks, timeout=5)
        assert len(done) == len(tasks), "a cancelled request did not end"
    await limiter.drain()
    assert await redis.zcard("t:swallow:renew") == 0
    await redis.aclose()


async def test_chaos_on_a_shared_cap_leaves_no_lease_and_no_task(
    redis_server: RedisProcess,
) -> None:
    redis = SwallowingRedis(host="127.0.0.1", port=redis_server.port)
    limiter = RedisConcurrencyLimiter(redis, "t:chaos", 3, lease=0.3)
    rng = random.Random(11)
    before = len(asyncio.all_tasks())
    fired = 0
    async with FakeSmsServer() as fake:
        target = fake.create_list("chaos", members=[{"phone": f"+1777{i:07d}"} for i in range(300)])
        list_id = target.contact_list_id
        fake.set_faults(latency_jitter=0.002, rate_503=0.05)
        async with fake.client(max_concurrency=limiter) as client:

            async def upload() -> object:
                members = ({"phone": f"+1555{rng.randrange(10**7):07d}"} for _ in range(300))
                return await client.members.add(list_id, members, batch_size=100)

            async def listing() -> object:
                return [m async for m in client.members.list(list_id, page_size=60)]

            async def single() -> object:
                return await client.contact_lists.update(list_id, description="x")

            operations = [upload, listing, single]
            for _ in range(CHAOS_CANCELS // 2):
                ops = [rng.choice(operations) for _ in range(2)]
                tasks = []
                for op in ops:
                    if rng.random() < 0.5:
                        tasks.append(asyncio.ensure_future(op()))
                    else:

                        async def under_timeout(op: Any = op) -> bool:
                            try:
                                async with asyncio.timeout(rng.uniform(0, 0.01)):
                                    await op()
                            except TimeoutError:
                                return True
                            return False

                        tasks.append(asyncio.ensure_future(under_timeout()))
                for _ in range(rng.randrange(40)):
                    await asyncio.sleep(0)
                for task in tasks:
                    task.cancel()  # under_timeout ones have usually ended by their timeout
                done, _ = await asyncio.wait(tasks, timeout=10)
                assert len(done) == len(tasks), "an operation did not end"
                fired += sum(1 for t in tasks if not t.cancelled() and t.result() is True)
                if rng.random() < 0.2:  # and some operations run to their end
                    await rng.choice(operations)()
            fake.clear_faults()
            async with asyncio.timeout(10):
                assert await client.contact_lists.update(list_id, description="y") == 1
                calls = [client.contact_lists.update(list_id, description="z") for _ in range(3)]
                assert await asyncio.gather(*calls) == [1, 1, 1]
        await limiter.drain()
        assert fake.stats.in_flight == 0
    assert fired > 0  # asyncio.timeout did fire, as TimeoutError, under the swallowing Redis
    assert await redis.zcard("t:chaos") == 0
    leftover = [task for task in asyncio.all_tasks() if not task.done()]
    assert len(leftover) <= before, leftover
    await redis.aclose()


async def test_a_cancelled_upload_sends_nothing_after_it_returns(
    redis_server: RedisProcess,
) -> None:
    redis = SwallowingRedis(host="127.0.0.1", port=redis_server.port)
    limiter = RedisConcurrencyLimiter(redis, "t:upload", 2, lease=0.3)
    async with FakeSmsServer() as fake:
        list_id = fake.create_list("cancelled").contact_list_id
        fake.set_faults(latency=0.005)
        first_batch_done = asyncio.Event()
        async with fake.client(max_concurrency=limiter) as client:
            members = ({"phone": f"+1555{i:07d}"} for i in range(100_000))
            upload = asyncio.ensure_future(
                client.members.add(
                    list_id, members, batch_size=100, on_progress=lambda _: first_batch_done.set()
                )
            )
            await first_batch_done.wait()
            upload.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(upload, 5)
            sent_at_return = len(fake.stats.member_batches)
            await limiter.drain()
            await client.aclose()  # waits for the SDK's own background cleanup
            assert len(fake.stats.member_batches) == sent_at_return
        assert sent_at_return < 1000  # it stopped early, not after the whole input
    assert await redis.zcard("t:upload") == 0
    await redis.aclose()


@pytest.mark.parametrize("on_redis_error", ["fail", "local"])
async def test_a_frozen_redis_holds_no_request_longer_than_redis_timeout(
    on_redis_error: str,
) -> None:
    async with frozen_redis() as port, FakeSmsServer() as fake:
        # As a user might make it: no socket timeouts at all.
        redis = Redis(host="127.0.0.1", port=port, socket_timeout=None)
        list_id = fake.create_list("frozen").contact_list_id
        rate = RedisRateLimiter(
            redis, "t:frozen:rate", 100, on_redis_error=on_redis_error, redis_timeout=0.2
        )
        slots = RedisConcurrencyLimiter(
            redis, "t:frozen:slots", 2, on_redis_error=on_redis_error, redis_timeout=0.2
        )
        for options in ({"rate_limit": rate}, {"max_concurrency": slots}):
            async with fake.client(**options) as client:
                started = time.monotonic()
                if on_redis_error == "fail":
                    with pytest.raises(LimiterUnavailableError, match=r"redis_timeout=0\.2"):
                        await client.contact_lists.update(list_id, description="a")
                else:
                    assert await client.contact_lists.update(list_id, description="a") == 1
                assert time.monotonic() - started < 5  # bounded (generously) by redis_timeout
        await slots.drain()
        await redis.aclose(close_connection_pool=True)


def test_redis_timeout_must_be_positive() -> None:
    from sms_async import ConfigurationError

    redis = Redis(host="127.0.0.1", port=1)
    with pytest.raises(ConfigurationError, match="redis_timeout"):
        RedisRateLimiter(redis, "k", 10, redis_timeout=0)
    with pytest.raises(ConfigurationError, match="redis_timeout"):
        RedisConcurrencyLimiter(redis, "k", 2, redis_timeout=-1)


class SlowGiveBack(Redis):
    """A Redis client whose ZREM takes a while: time for a cancellation to land in it."""

    async def zrem(self, name: Any, *values: Any) -> Any:
        await asyncio.sleep(0.05)
        return await super().zrem(name, *values)


async def test_a_cancellation_during_a_normal_give_back_still_gives_the_lease_back(
    redis_server: RedisProcess,
) -> None:
    redis = SlowGiveBack(host="127.0.0.1", port=redis_server.port)
    limiter = RedisConcurrencyLimiter(redis, "t:giveback", 2)
    inside = asyncio.Event()

    async def request() -> None:
        async with limiter.slot():
            inside.set()
        # leaving the block gives the lease back (slowly): cancelled meanwhile

    task = asyncio.ensure_future(request())
    await inside.wait()
    await asyncio.sleep(0)  # into the give-back
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await limiter.drain()
    assert await redis.zcard("t:giveback") == 0
    await redis.aclose()
