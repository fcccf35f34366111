"""The Redis-backed limiters, against a real redis-server on a loopback port (no mock)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from sms_async import LimiterUnavailableError
from sms_async.contrib.redis import RedisConcurrencyLimiter, RedisRateLimiter
from sms_async.testing import FakeSmsServer, spawn_server

from .conftest import RedisProcess, readline_within
from .redis_worker import KEY, USER

WORKER = Path(__file__).with_name("redis_worker.py")


def run_workers(
    mode: str, port: int, key: str, base_url: str, seconds: float, *args: str, count: int = 4
) -> list[int]:
    """Run *count* workers; start them together once every one is set up."""
    argv = [sys.executable, str(WORKER), mode, str(port), key, base_url, "-", str(seconds), *args]
    procs = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert readline_within(proc.stdout, 60).strip() == "ready"
        start_at = f"{time.time() + 0.2}\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(start_at)
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert all(proc.returncode == 0 for proc in procs), outputs
    return [int(out.strip()) for out in outputs]


def test_four_processes_share_one_rate(redis_server: RedisProcess) -> None:
    rate, burst, seconds = 40, 2, 3.0
    with spawn_server(USER, KEY) as server:
        done = run_workers(
            "rate", redis_server.port, "t:rate", server.base_url, seconds, str(rate), str(burst)
        )
        per_second = {int(s): n for s, n in server.stats()["per_second"].items()}
    updates_by_second = per_second  # creates happen before the start, in their own seconds
    total = sum(done)
    assert all(n <= rate + burst for n in updates_by_second.values()), updates_by_second
    assert total >= 0.9 * rate * seconds, (total, done)
    assert total <= rate * (seconds + 1) + burst
    assert min(done) > 0  # every worker got its share


def test_four_processes_share_one_concurrency_cap(redis_server: RedisProcess) -> None:
    limit = 3
    with spawn_server(USER, KEY, extra_args=["--latency", "0.03"]) as server:
        done = run_workers(
            "concurrency", redis_server.port, "t:slots", server.base_url, 1.5, str(limit), "8"
        )
        stats = server.stats()
    assert stats["max_in_flight"] <= limit
    assert stats["max_in_flight"] == limit  # and the cap was reached
    assert min(done) > 0


async def take_slot(limiter: RedisConcurrencyLimiter, within: float) -> None:
    async with asyncio.timeout(within), limiter.slot():
        pass


async def test_a_killed_workers_slot_comes_back_after_the_lease(redis_server: RedisProcess) -> None:
    args = ["hold", str(redis_server.port), "t:kill", "-", "0", "0", "1", "1.0"]
    holder = await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), *args, stdout=asyncio.subprocess.PIPE
    )
    redis = Redis(host="127.0.0.1", port=redis_server.port)
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 60)).strip() == b"held"
        limiter = RedisConcurrencyLimiter(redis, "t:kill", 1, lease=1.0)
        with pytest.raises(TimeoutError):  # the worker holds the only slot, renewing it
            await take_slot(limiter, 1.5)
        holder.kill()  # SIGKILL: no chance to give the slot back
        await holder.wait()
        async with asyncio.timeout(10), limiter.slot():  # the lease expires: free again
            assert await redis.zcard("t:kill") == 1
        assert await redis.zcard("t:kill") == 0  # given back on exit
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        await redis.aclose()


async def test_redis_stopped_fail_raises_the_typed_error(redis_server: RedisProcess) -> None:
    redis = Redis(host="127.0.0.1", port=redis_server.port)
    async with FakeSmsServer() as fake:
        list_id = fake.create_list("fail").contact_list_id
        rate = RedisRateLimiter(redis, "t:fail:rate", 1000, 10)
        slots = RedisConcurrencyLimiter(redis, "t:fail:slots", 4)
        async with (
            fake.client(rate_limit=rate) as by_rate,
            fake.client(max_concurrency=slots) as by_slots,
        ):
            assert await by_rate.contact_lists.update(list_id, description="a") == 1
            assert await by_slots.contact_lists.update(list_id, description="a") == 1
            redis_server.stop()
            with pytest.raises(LimiterUnavailableError, match="Redis cannot be reached"):
                await by_rate.contact_lists.update(list_id, description="b")
            with pytest.raises(LimiterUnavailableError, match="Redis cannot be reached"):
                await by_slots.contact_lists.update(list_id, description="b")
        assert fake.stats.requests["contact_lists.update"] == 2  # nothing sent without a limit
    await redis.aclose()


async def test_redis_stopped_local_carries_on_and_warns_once(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    redis = Redis(host="127.0.0.1", port=redis_server.port)
    async with FakeSmsServer() as fake:
        list_id = fake.create_list("local").contact_list_id
        rate = RedisRateLimiter(redis, "t:local:rate", 1000, 10, on_redis_error="local")
        slots = RedisConcurrencyLimiter(redis, "t:local:slots", 4, on_redis_error="local")
        async with fake.client(rate_limit=rate, max_concurrency=slots) as client:
            assert await client.contact_lists.update(list_id, description="a") == 1
            redis_server.stop()
            with caplog.at_level(logging.WARNING, logger="sms_async"):
                for _ in range(5):
                    assert await client.contact_lists.update(list_id, description="b") == 1
                members = [{"phone": f"+1555{i:07d}"} for i in range(50)]
                result = await client.members.add(list_id, members, batch_size=10)
        assert result.count == 50
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len([w for w in warnings if "rate limiter" in w]) == 1
        assert len([w for w in warnings if "concurrency limiter" in w]) == 1
    await redis.aclose()


async def test_bulk_upload_and_prefetch_obey_the_shared_cap(redis_server: RedisProcess) -> None:
    redis = Redis(host="127.0.0.1", port=redis_server.port)
    async with FakeSmsServer() as fake:
        target = fake.create_list("bulk", members=[{"phone": f"+1666{i:07d}"} for i in range(1000)])
        fake.set_faults(latency=0.01)
        slots = RedisConcurrencyLimiter(redis, "t:bulk", 3)
        async with fake.client(max_concurrency=slots) as client:
            assert client.max_concurrency == 3  # the limiter's limit sizes the client
            members = [{"phone": f"+1555{i:07d}"} for i in range(2000)]
            result = await client.members.add(target.contact_list_id, members, batch_size=100)
            listed = [m async for m in client.members.list(target.contact_list_id)]
        assert result.count == 2000
        assert len(listed) == 3000
        assert fake.stats.max_in_flight == 3
    await redis.aclose()


def test_bad_options() -> None:
    from sms_async import ConfigurationError

    redis = Redis(host="127.0.0.1", port=1)
    with pytest.raises(ConfigurationError):
        RedisRateLimiter(redis, "k", 0)
    with pytest.raises(ConfigurationError):
        RedisRateLimiter(redis, "k", 10, burst=0)
    with pytest.raises(ConfigurationError):
        RedisConcurrencyLimiter(redis, "k", 0)
    with pytest.raises(ConfigurationError):
        RedisConcurrencyLimiter(redis, "k", 2, lease=0)
    with pytest.raises(ConfigurationError):
        RedisConcurrencyLimiter(redis, "k", 2, on_redis_error="retry")


async def test_a_misconfigured_key_raises_even_in_local_mode(redis_server: RedisProcess) -> None:
    redis = Redis(host="127.0.0.1", port=redis_server.port)
    await redis.set("t:wrongtype", "a string, not a sorted set")
    slots = RedisConcurrencyLimiter(redis, "t:wrongtype", 2, on_redis_error="local")
    with pytest.raises(LimiterUnavailableError, match="refused the limiter's command"):
        async with slots.slot():
            pass
    await redis.aclose()


async def test_cancelling_a_request_gives_its_slot_back(redis_server: RedisProcess) -> None:
    redis = Redis(host="127.0.0.1", port=redis_server.port)
    slots = RedisConcurrencyLimiter(redis, "t:cancel", 2)
    inside = asyncio.Event()

    async def hold() -> None:
        async with slots.slot():
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold())
    await inside.wait()
    assert await redis.zcard("t:cancel") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # the cancellation propagates, it is not swallowed
    await slots.drain()  # the lease goes back in the background: the caller is not held
    assert await redis.zcard("t:cancel") == 0
    await redis.aclose()
