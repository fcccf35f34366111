"""A worker process of the Redis limiter tests: hammer the fake under shared limits.

Usage: redis_worker.py MODE REDIS_PORT KEY BASE_URL START_AT SECONDS [ARGS...]
  START_AT "-" means: print "ready" once set up, then read the start time from stdin
  (so that slow imports on a loaded machine do not eat into the measured window).
  MODE rate:        ARGS = RATE BURST   (one request at a time, as fast as allowed)
  MODE concurrency: ARGS = LIMIT TASKS  (TASKS concurrent loops)
  MODE hold:        ARGS = LIMIT LEASE  (take one slot, say "held", then sleep)
Prints the number of requests it made (or "held").
"""

from __future__ import annotations

import asyncio
import sys
import time

from redis.asyncio import Redis

from sms_async import AsyncSmsClient
from sms_async.contrib.redis import RedisConcurrencyLimiter, RedisRateLimiter

USER, KEY = "redis-user", "redis-key"


async def main(argv: list[str]) -> None:
    mode, port, key, base_url, start_at, seconds = argv[:6]
    extra = argv[6:]
    redis = Redis(host="127.0.0.1", port=int(port))
    try:
        if mode == "hold":
            limiter = RedisConcurrencyLimiter(redis, key, int(extra[0]), lease=float(extra[1]))
            async with limiter.slot():
                print("held", flush=True)
                await asyncio.sleep(3600)
            return
        options: dict[str, object] = {}
        tasks = 1
        if mode == "rate":
            options["rate_limit"] = RedisRateLimiter(redis, key, float(extra[0]), int(extra[1]))
        else:
            options["max_concurrency"] = RedisConcurrencyLimiter(redis, key, int(extra[0]))
            tasks = int(extra[1])
        async with AsyncSmsClient(USER, KEY, base_url=base_url, **options) as client:
            list_id = (
                await client.contact_lists.create(contact_list_name=f"w{time.time_ns()}")
            ).contact_list_id
            if start_at == "-":
                print("ready", flush=True)
                start_at = await asyncio.to_thread(sys.stdin.readline)
            await asyncio.sleep(max(0.0, float(start_at) - time.time()))
            deadline = float(start_at) + float(seconds)
            done = 0

            async def loop() -> None:
                nonlocal done
                while time.time() < deadline:
                    await client.contact_lists.update(list_id, description="x")
                    done += 1

            await asyncio.gather(*(loop() for _ in range(tasks)))
        print(done, flush=True)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
