"""Shared helpers of the benchmarks: timing, alternation, raw clients, machine info."""

from __future__ import annotations

import asyncio
import base64
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

USER, KEY = "bench-user", "bench-key-0123456789"
AUTH = "Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode()


def members(count: int, start: int = 0) -> list[dict[str, Any]]:
    """The benchmark's input: plain dicts, as a user would read them from a file."""
    return [
        {"phone": f"+86138{i:08d}", "name": f"Contact {i}", "vars": {"code": str(i % 97)}}
        for i in range(start, start + count)
    ]


class Measured:
    """Wall and client-CPU seconds of one run."""

    __slots__ = ("cpu", "wall")

    def __init__(self, wall: float, cpu: float) -> None:
        self.wall = wall
        self.cpu = cpu


async def measure(work: Callable[[], Awaitable[Any]]) -> Measured:
    """Run *work* once; return its wall time and this process's CPU time."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await work()
    return Measured(time.perf_counter() - wall0, time.process_time() - cpu0)


def median_ratio(a: list[float], b: list[float]) -> float:
    """The median of the pairwise ratios a[i] / b[i]."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """A one-line description of the machine and the interpreter."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {sys.version.split()[0]} "
        f"({platform.python_implementation()}), {platform.system()}"
    )


def run(coro: Awaitable[Any]) -> Any:
    """asyncio.run for a coroutine."""
    return asyncio.run(coro)
