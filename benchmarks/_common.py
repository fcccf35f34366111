"""Shared helpers of the benchmarks: timing, alternation, statistics, machine info."""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import platform
import resource
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

USER, KEY = "bench-user", "bench-key-0123456789"
AUTH = "Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode()
ROOT = Path(__file__).resolve().parent.parent

#: Distributions whose versions head the results (name shown, distribution name).
LIBRARIES = (
    ("httpx", "httpx"),
    ("httpcore", "httpcore"),
    ("aiohttp", "aiohttp"),
    ("orjson", "orjson"),
    ("uvicorn", "uvicorn"),
    ("httptools", "httptools"),
    ("redis-py", "redis"),
    ("sms-async", "sms-async"),
)

T = TypeVar("T")


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
    """Run *work* once; return its wall time and this process's CPU time.

    The garbage of the previous run is collected first, outside the timing, so a
    contender does not pay for the one before it.
    """
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await work()
    return Measured(time.perf_counter() - wall0, time.process_time() - cpu0)


def alternate(names: Sequence[T], round_no: int) -> list[T]:
    """The contenders' order in round *round_no*: as given, reversed every other round."""
    return list(names) if round_no % 2 == 0 else list(reversed(names))


def ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """The per-round ratios a[i] / b[i]."""
    return [x / y for x, y in zip(a, b, strict=True)]


def median_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """The median of the pairwise ratios a[i] / b[i]."""
    return statistics.median(ratios(a, b))


def chunked_medians(values: Sequence[float], chunks: int) -> list[float]:
    """The medians of *values* cut into *chunks* consecutive slices (for a spread)."""
    size = max(1, len(values) // max(1, chunks))
    return [statistics.median(values[i : i + size]) for i in range(0, len(values), size)]


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_run(args: Sequence[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a child process to its end; its wall seconds and its result (output captured)."""
    started = time.perf_counter()
    done = subprocess.run(list(args), capture_output=True, text=True, check=False, **kwargs)
    return time.perf_counter() - started, done


# --- the machine -----------------------------------------------------------------------------


def _cpu_info() -> tuple[str, int | None]:
    """The CPU's model name and its number of physical cores (None when unknown)."""
    model = platform.processor() or platform.machine()
    cores: set[tuple[str, str]] = set()
    physical = core = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name":
                    model = value
                elif key == "physical id":
                    physical = value
                elif key == "core id":
                    core = value
                elif not key and core:
                    cores.add((physical, core))
                    core = ""
        if core:
            cores.add((physical, core))
    except OSError:
        pass
    return model, len(cores) or None


def _os_name() -> str:
    try:
        distro = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        distro = ""
    kernel = f"{platform.system()} {platform.release()}"
    return f"{distro} ({kernel})" if distro else kernel


def _git() -> str:
    """The commit of the checkout, and whether tracked files differ from it (read-only)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} with local changes" if dirty else head


def _redis_server() -> str:
    try:
        done = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "not installed"
    words = done.stdout.split()
    found = next((w for w in words if w.startswith("v=")), "")
    return found.removeprefix("v=") or done.stdout.strip()


def version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, Any]:
    """What the results header states: machine, OS, interpreter, library versions."""
    model, physical = _cpu_info()
    logical = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = logical
    cores = f"{logical} logical cores"
    if physical:
        cores = f"{physical} physical / {cores}"
    if usable != logical:
        cores += f", {usable} usable by this process"
    python = f"{platform.python_version()} ({platform.python_implementation()}"
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        python += ", free-threaded"
    python += f", {platform.python_compiler()})"
    return {
        "cpu": model,
        "cores": cores,
        "os": _os_name(),
        "python": python,
        "executable": sys.executable,
        "libraries": {name: version(dist) for name, dist in LIBRARIES},
        "commit": _git(),
        "redis_server": _redis_server(),
    }


def machine() -> str:
    """A one-line description of the machine and the interpreter."""
    info = environment()
    return f"{info['cpu']}, {info['cores']}; Python {info['python']}, {info['os']}"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run for a coroutine."""
    return asyncio.run(coro)
