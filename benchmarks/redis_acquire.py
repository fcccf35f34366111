"""The cost of one shared acquire on a loopback redis-server (not a test).

Starts redis-server on a free 127.0.0.1 port, then times RedisRateLimiter.acquire()
(a rate high enough never to wait) and one RedisConcurrencyLimiter slot (take and
give back), against the in-process limiters. Prints microseconds per acquire.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import subprocess
import time

from redis.asyncio import Redis

from sms_async import LocalConcurrencyLimiter, LocalRateLimiter
from sms_async.contrib.redis import RedisConcurrencyLimiter, RedisRateLimiter

N = 5000
ROUNDS = 5


async def per_call(work: object) -> float:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(N):
            await work()
        samples.append((time.perf_counter() - started) / N * 1e6)
    return statistics.median(samples)


async def main(port: int) -> None:
    redis = Redis(host="127.0.0.1", port=port)
    shared_rate = RedisRateLimiter(redis, "bench:rate", rate=900_000, burst=1000)
    shared_slots = RedisConcurrencyLimiter(redis, "bench:slots", limit=64)
    local_rate = LocalRateLimiter(1e9)
    local_slots = LocalConcurrencyLimiter(64)

    async def slot_shared() -> None:
        async with shared_slots.slot():
            pass

    async def slot_local() -> None:
        async with local_slots.slot():
            pass

    rows = [
        ("RedisRateLimiter.acquire()", await per_call(shared_rate.acquire)),
        ("LocalRateLimiter.acquire()", await per_call(local_rate.acquire)),
        ("RedisConcurrencyLimiter slot (take + give back)", await per_call(slot_shared)),
        ("LocalConcurrencyLimiter slot", await per_call(slot_local)),
    ]
    await redis.aclose()
    print("| acquire | us per call (median of 5 x 5000) |")
    print("|---|---|")
    for name, micros in rows:
        print(f"| {name} | {micros:.1f} |")


def run() -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.02)
        asyncio.run(main(port))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    run()
