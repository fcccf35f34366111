"""Four processes under one shared cap against four with local caps (not a test).

Starts redis-server on a free 127.0.0.1 port and four worker processes. In each
round every worker runs TASKS concurrent loops of short "requests" (an
``asyncio.sleep(0.002)`` inside a slot) for SECONDS, either under one shared
``RedisConcurrencyLimiter(limit=8)`` (A) or under its own
``LocalConcurrencyLimiter(2)`` (B): at most eight requests in flight in all.
With 4 tasks per worker, requests wait for slots in both; with 2, nobody has
to wait. Rounds alternate A B A B ...; the workers stay up between rounds.
Prints markdown rows: the throughputs, the ratio A / B (median of the rounds'
pairs, with their range) and the control B / B (consecutive local rounds),
which shows the noise of the machine.

    python benchmarks/redis_shared.py [--rounds 12] [--seconds 2] [--tasks 4 2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

WORKERS = 4
SHARED_LIMIT = 8
LOCAL_LIMIT = SHARED_LIMIT // WORKERS
REQUEST = 0.002  # seconds inside the slot


async def requests(limiter: Any, seconds: float, tasks: int) -> int:
    """Run *tasks* loops of requests under *limiter* for *seconds*: requests done."""
    deadline = time.monotonic() + seconds
    done = 0

    async def loop() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async with limiter.slot():
                await asyncio.sleep(REQUEST)
            if time.monotonic() <= deadline:
                done += 1

    await asyncio.gather(*(loop() for _ in range(tasks)))
    return done


async def child(port: int, key: str) -> None:
    from redis.asyncio import Redis

    from sms_async import LocalConcurrencyLimiter
    from sms_async.contrib.redis import RedisConcurrencyLimiter

    redis = Redis(host="127.0.0.1", port=port)
    shared = RedisConcurrencyLimiter(redis, key, SHARED_LIMIT)
    async with shared.slot():  # connected before the first round
        pass
    print("ready", flush=True)
    while line := await asyncio.to_thread(sys.stdin.readline):
        mode, start_at, seconds, tasks = line.split()
        limiter = shared if mode == "A" else LocalConcurrencyLimiter(LOCAL_LIMIT)
        await asyncio.sleep(max(0.0, float(start_at) - time.time()))
        print(await requests(limiter, float(seconds), int(tasks)), flush=True)
    await shared.drain()
    await redis.aclose()


def start_redis() -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    for _ in range(250):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.02)
    return server, port


def spread(values: list[float], digits: int) -> str:
    """The median, and the range in brackets."""
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{middle:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def rounds(workers: list[subprocess.Popen[str]], mode: str, seconds: float, tasks: int) -> float:
    """One round of every worker together: requests per second, over all of them."""
    start_at = time.time() + 0.3
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(f"{mode} {start_at} {seconds} {tasks}\n")
        worker.stdin.flush()
    total = 0
    for worker in workers:
        assert worker.stdout is not None
        total += int(worker.stdout.readline())
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=12, help="rounds of each mode")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument(
        "--tasks", type=int, nargs="+", default=[4, 2], help="concurrent loops per worker"
    )
    parser.add_argument("--json", action="store_true", help="end with a JSON line of the figure")
    options = parser.parse_args()
    server, port = start_redis()
    argv = [sys.executable, __file__, "--child", str(port), "bench:shared"]
    workers = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(WORKERS)
    ]
    results: dict[int, dict[str, list[float]]] = {}
    try:
        for worker in workers:
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise SystemExit("a worker did not start")
        for tasks in options.tasks:
            results[tasks] = {"A": [], "B": []}
            for _ in range(options.rounds):
                for mode in "AB":
                    results[tasks][mode].append(rounds(workers, mode, options.seconds, tasks))
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.close()
        for worker in workers:
            worker.wait(30)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        server.terminate()
        server.wait()
    print(
        f"| {WORKERS} processes, {REQUEST * 1000:g} ms requests, {options.rounds} x "
        f"{options.seconds:g} s rounds, A B A B | A: one `RedisConcurrencyLimiter(8)`, req/s "
        "| B: `LocalConcurrencyLimiter(2)` each, req/s | A / B | B / B (control) |"
    )
    print("|---|---|---|---|---|")
    for tasks, by_mode in results.items():
        shared, local = by_mode["A"], by_mode["B"]
        ratios = [a / b for a, b in zip(shared, local, strict=True)]
        control = [x / y for x, y in itertools.pairwise(local)]
        print(
            f"| {tasks} tasks per process | {spread(shared, 0)} | {spread(local, 0)} "
            f"| {spread(ratios, 3)} | {spread(control, 3)} |"
        )
    if options.json:  # the figure of the benchmarks' report: the first (most waiting) case
        tasks = options.tasks[0]
        ratios = [a / b for a, b in zip(results[tasks]["A"], results[tasks]["B"], strict=True)]
        row = {
            "key": "redis_shared",
            "figure": f"shared / local, {tasks} tasks per process",
            "median": statistics.median(ratios),
            "min": min(ratios),
            "max": max(ratios),
            "unit": "ratio",
        }
        print(json.dumps({"rows": [row]}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(child(int(sys.argv[2]), sys.argv[3]))
    else:
        main()
