"""The figures measured on fresh child processes: start-up, ``--help``, construction, memory."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from pathlib import Path

from _common import KEY, ROOT, USER, alternate, chunked_medians, ratios, timed_run
from _figures import Figure, check, measured, missing

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable

#: What `sms-async --help` must not import.
HEAVY = ("httpx", "attrs", "cattrs", "stamina")
#: Also reported when `--help` imports them (for information).
NOTABLE = ("aiohttp", "orjson", "rich", "uvicorn", "click", "sms_async._client")


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _env() -> dict[str, str]:
    """The children's environment: this one, without what changes an interpreter's start."""
    drop = ("PYTHONPROFILEIMPORTTIME", "PYTHONTRACEMALLOC", "PYTHONDEVMODE", "PYTHONWARNINGS")
    return {key: value for key, value in os.environ.items() if key not in drop}


def _wall(args: list[str]) -> float:
    wall, done = timed_run(args, cwd=ROOT, env=_env(), timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{args[1:]} exited {done.returncode}: {done.stderr[-1000:]}")
    return wall


# --- start-up --------------------------------------------------------------------------------

STARTUP = {
    "import httpx": "import httpx",
    "import sms_async": "import sms_async",
    "from sms_async import AsyncSmsClient": "from sms_async import AsyncSmsClient",
    "python -c pass": "pass",
}


def bench_startup(runs: int) -> dict[str, Figure]:
    """Fresh interpreters, alternating, wall time from spawn to exit."""
    names = list(STARTUP)
    wall: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(runs + 1):  # round 0 warms the disk cache and is dropped
        for name in alternate(names, round_no):
            seconds = _wall([PYTHON, "-c", STARTUP[name]])
            if round_no:
                wall[name].append(seconds * 1000)
    httpx_ms, bare = wall["import httpx"], wall["python -c pass"]
    parts = {name: (values, "ms") for name, values in wall.items()}
    out = {
        "import_wall": measured(ratios(wall["import sms_async"], httpx_ms), parts=parts),
        "import_from_wall": measured(
            ratios(wall["from sms_async import AsyncSmsClient"], httpx_ms)
        ),
    }
    # Net of the interpreter's own start: what the imports themselves cost.
    net = [
        (s - p) / max(h - p, 1e-9)
        for s, h, p in zip(wall["import sms_async"], httpx_ms, bare, strict=True)
    ]
    out["import_net"] = measured(net)
    return out


# --- sms-async --help ------------------------------------------------------------------------

HELP_PROBE = """
import contextlib, io, json, sys
sys.argv = ["sms-async", "--help"]
from sms_async.cli import main
out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "help": len(out.getvalue()), "modules": sorted(sys.modules)}))
"""


def help_command() -> tuple[list[str], str]:
    """The installed ``sms-async`` script, else ``python -m sms_async.cli``."""
    script = Path(PYTHON).with_name("sms-async")
    found = str(script) if script.exists() else shutil.which("sms-async")
    if found:
        return [found, "--help"], "sms-async --help"
    return [PYTHON, "-m", "sms_async.cli", "--help"], "python -m sms_async.cli --help"


def bench_help(runs: int) -> dict[str, Figure]:
    _, done = timed_run([PYTHON, "-c", HELP_PROBE], cwd=ROOT, env=_env(), timeout=120)
    out: dict[str, Figure] = {}
    try:
        probe = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        probe = None
    if done.returncode != 0 or probe is None:
        out["help_imports"] = missing(f"the probe failed: {done.stderr.strip()[-300:]}")
    elif probe["code"] not in (0, None) or not probe["help"]:
        out["help_imports"] = missing(
            f"main(['--help']) exited {probe['code']!r} with {probe['help']} characters of help"
        )
    else:
        modules = set(probe["modules"])
        heavy = [name for name in HEAVY if name in modules]
        notable = [name for name in NOTABLE if name in modules]
        text = f"imports {', '.join(heavy)}" if heavy else "imports none of them"
        text += f"; {len(modules)} modules in all"
        if notable:
            text += f"; also: {', '.join(notable)}"
        out["help_imports"] = check(not heavy, text)
    command, label = help_command()
    names = [label, "python -c pass"]
    args = {label: command, "python -c pass": [PYTHON, "-c", "pass"]}
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(runs + 1):
        for name in alternate(names, round_no):
            seconds = _wall(args[name])
            if round_no:
                times[name].append(seconds * 1000)
    out["help_wall"] = measured(
        ratios(times[label], times["python -c pass"]),
        parts={name: (values, "ms") for name, values in times.items()},
        note=label,
    )
    return out


# --- construction ----------------------------------------------------------------------------


def bench_construct(rounds: int, count: int) -> dict[str, Figure]:
    """Each round: one fresh process per backend (alternating), COUNT constructions each."""
    backends = ["httpx", "aiohttp"]
    firsts: dict[str, list[float]] = {name: [] for name in backends}
    medians: dict[str, list[float]] = {name: [] for name in backends}
    every: dict[str, list[float]] = {name: [] for name in backends}
    for round_no in range(rounds):
        for backend in alternate(backends, round_no):
            _, done = timed_run(
                [PYTHON, str(HERE / "construct_child.py"), backend, str(count)],
                cwd=ROOT,
                env=_env(),
                timeout=300,
            )
            if done.returncode != 0:
                raise RuntimeError(f"construct_child {backend}: {done.stderr[-1000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            firsts[backend].append(result["first"] * 1000)
            samples = [s * 1000 for s in result["samples"]]
            every[backend].extend(samples)
            # The spread: the medians of the process's constructions in 5 slices,
            # over every process of the pass.
            medians[backend].extend(chunked_medians(samples, 5))
    out: dict[str, Figure] = {}
    for backend in backends:
        figure = measured(medians[backend], "ms")
        figure["median"] = statistics.median(every[backend])  # of every construction
        out[f"construct_{backend}"] = figure
        out[f"construct_first_{backend}"] = measured(firsts[backend], "ms")
    return out


# --- memory ----------------------------------------------------------------------------------


def bench_memory(rounds: int, sizes: tuple[int, int]) -> dict[str, Figure]:
    """Peak RSS of a child streaming *sizes* members from an async generator."""
    from sms_async.testing import spawn_server

    small, large = sizes
    peaks: dict[int, list[float]] = {size: [] for size in sizes}
    with spawn_server(USER, KEY) as server:
        for round_no in range(rounds):
            for size in alternate(list(sizes), round_no):
                args = [PYTHON, str(HERE / "memory_child.py"), server.base_url, str(size)]
                _, done = timed_run(args, cwd=ROOT, timeout=600)
                if done.returncode != 0:
                    raise RuntimeError(f"memory_child {size}: {done.stderr[-1000:]}")
                peaks[size].append(json.loads(done.stdout)["peak_rss_mb"])
    growth = [b - a for a, b in zip(peaks[small], peaks[large], strict=True)]
    return {
        "memory_growth": measured(
            growth,
            "MB",
            parts={f"peak RSS, {n:,} members": (peaks[n], "RSS MB") for n in sizes},
        )
    }
