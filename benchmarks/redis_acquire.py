"""The latency a shared limit adds to each request, on a loopback redis-server (not a test).

Starts redis-server on a free 127.0.0.1 port, then times, one call after
another in one task, each Redis limiter against its in-process counterpart:

- ``RedisRateLimiter.acquire()`` (a rate high enough never to wait) against
  ``LocalRateLimiter.acquire()``;
- a ``RedisConcurrencyLimiter`` slot, *cold*: an event-loop step between two
  slots (not timed), so each one is taken from Redis (one round trip) and given
  back; timed is what the request sees, entering and leaving ``async with``
  (take and give-back, both awaited); against
  a ``LocalConcurrencyLimiter`` slot timed the same way (one script to take, one
  script to give back, both awaited);
- a ``RedisConcurrencyLimiter`` slot *back to back*: the next request starts as
  the last one ends, in the same step; against the local slot;
- a bare round trip, for reference: ``PING`` written on an asyncio stream to the
  same redis-server and its answer read (no redis-py, no script, no limiter),
  against nothing. Any request that asks Redis pays at least this much.
- the same round trip made by Redis's own C client, for reference:
  ``redis-benchmark -c 1 -t ping_mbulk`` (one connection, one call at a time),
  its mean latency, once per round (if ``redis-benchmark`` is installed). What
  the machine's loopback and scheduler cost without any Python.

Rounds of the Redis limiter and of the local one alternate (A B A B ...); a
round's added latency is its Redis time per call minus the adjacent local
round's. Prints markdown rows: the median added latency over the rounds, with
their range, and the medians of both.

    python benchmarks/redis_acquire.py [--rounds 11] [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from sms_async import LocalConcurrencyLimiter, LocalRateLimiter
from sms_async.contrib.redis import RedisConcurrencyLimiter, RedisRateLimiter

#: One call; returns the seconds to count, or None: count the whole call.
Work = Callable[[], Awaitable[float | None]]


async def per_call(work: Work, calls: int) -> float:
    """Microseconds per call of *work*, *calls* times one after another."""
    counted = 0.0
    started = time.perf_counter()
    for _ in range(calls):
        seconds = await work()
        if seconds is not None:
            counted += seconds
    total = counted or time.perf_counter() - started
    return total / calls * 1e6


async def compare(shared: Work, local: Work, rounds: int, calls: int) -> tuple[list[float], ...]:
    """Alternate rounds of *shared* and *local*: (added, shared, local) per round."""
    await per_call(shared, calls // 10)  # connected, scripts loaded, warm
    await per_call(local, calls // 10)
    added, shared_us, local_us = [], [], []
    for _ in range(rounds):
        a = await per_call(shared, calls)
        b = await per_call(local, calls)
        added.append(a - b)
        shared_us.append(a)
        local_us.append(b)
    return added, shared_us, local_us


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def c_round_trips(port: int, rounds: int, calls: int) -> list[float] | None:
    """``redis-benchmark``'s mean PING latency (µs), one connection, once per round."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return None
    means = []
    for _ in range(rounds):
        args = [binary, "-h", "127.0.0.1", "-p", str(port), "-c", "1", "-n", str(calls)]
        done = subprocess.run(
            [*args, "-t", "ping_mbulk", "--csv"], capture_output=True, text=True, timeout=120
        )
        lines = done.stdout.split()
        try:  # a header line, then the test's line (Redis >= 6.2; older ones print no mean)
            header, row = (line.replace('"', "").split(",") for line in lines[-2:])
            means.append(float(row[header.index("avg_latency_ms")]) * 1000)
        except ValueError:
            return None
    return means


async def main(port: int, rounds: int, calls: int, as_json: bool = False) -> None:
    redis = Redis(host="127.0.0.1", port=port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    shared_rate = RedisRateLimiter(redis, "bench:rate", rate=900_000, burst=1000)
    shared_slots = RedisConcurrencyLimiter(redis, "bench:slots", limit=64)
    local_rate = LocalRateLimiter(1e9)
    local_slots = LocalConcurrencyLimiter(64)

    async def rate_shared() -> None:
        await shared_rate.acquire()

    async def rate_local() -> None:
        await local_rate.acquire()

    async def slot_shared() -> None:
        async with shared_slots.slot():
            pass

    async def slot_local() -> None:
        async with local_slots.slot():
            pass

    async def ping() -> None:
        writer.write(b"*1\r\n$4\r\nPING\r\n")
        await reader.readuntil(b"\r\n")

    async def nothing() -> None:
        pass

    async def slot_shared_cold() -> float:
        await asyncio.sleep(0)  # a step (not timed): the last slot went back to Redis
        started = time.perf_counter()
        async with shared_slots.slot():
            pass
        return time.perf_counter() - started

    async def slot_local_cold() -> float:
        await asyncio.sleep(0)
        started = time.perf_counter()
        async with local_slots.slot():
            pass
        return time.perf_counter() - started

    rows = [
        (
            "`RedisRateLimiter.acquire()` vs `LocalRateLimiter`",
            await compare(rate_shared, rate_local, rounds, calls),
        ),
        (
            "`RedisConcurrencyLimiter` slot, cold (a take from Redis) vs local",
            await compare(slot_shared_cold, slot_local_cold, rounds, calls),
        ),
        (
            "`RedisConcurrencyLimiter` slot, back to back vs local",
            await compare(slot_shared, slot_local, rounds, calls),
        ),
        (
            "a bare round trip: `PING` on an asyncio stream, no limiter",
            await compare(ping, nothing, rounds, calls),
        ),
    ]
    writer.close()
    await shared_slots.drain()
    await redis.aclose()
    c_trips = c_round_trips(port, rounds, calls)
    if c_trips is not None:
        name = "the same round trip by Redis's own C client: `redis-benchmark -c 1 -t ping_mbulk`"
        rows.append((name, (c_trips, c_trips, [0.0] * len(c_trips))))
    print(
        f"| per call, one after another ({rounds} rounds x {calls}) | added µs, median (range) "
        "| Redis µs | local µs |"
    )
    print("|---|---|---|---|")
    for name, (added, shared_us, local_us) in rows:
        print(
            f"| {name} | {spread(added)} | {statistics.median(shared_us):.1f} "
            f"| {statistics.median(local_us):.1f} |"
        )
    if as_json:  # the figures of the benchmarks' report: the rate, and a slot taken from Redis
        figures = [("redis_rate", rows[0]), ("redis_slots", rows[1]), ("redis_round_trip", rows[3])]
        if c_trips is not None:
            figures.append(("redis_c_round_trip", rows[4]))
        print(
            json.dumps(
                {
                    "rows": [
                        {
                            "key": key,
                            "figure": name,
                            "median": statistics.median(added),
                            "min": min(added),
                            "max": max(added),
                            "unit": "us",
                        }
                        for key, (name, (added, _, _)) in figures
                    ]
                }
            )
        )


def run() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="end with a JSON line of the figures")
    options = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        asyncio.run(main(port, options.rounds, options.calls, options.json))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    run()
