"""The figures measured by other scripts of this folder, run as child processes.

``cli_import.py`` (CLI import against ``members.add``), ``redis_acquire.py``
(the Redis limiters' added latency) and ``redis_shared.py`` (4 processes under
one Redis cap against 4 with local caps). Each runs in a session of its own,
with a timeout; its stderr is relayed, its stdout is read for the figures.

Two forms of output are understood:

* JSON, when the script declares a ``--json`` option (it is then passed): the
  last stdout line that is a JSON object holding ``"rows"``, a list of
  ``{"key": ..., "figure": ..., "median": x, "min": x, "max": x, "unit": ...}``
  (``key``, ``min``, ``max`` and ``unit`` optional). The keys this file knows:
  ``cli_import``, ``cli_import_cpu``, ``redis_rate``, ``redis_slots``,
  ``redis_round_trip``, ``redis_c_round_trip``, ``redis_shared``.
* Otherwise the markdown table rows it prints: ``| label | ... | 0.85 (0.80-0.90) |``;
  a figure's value is the last cell that starts with a number, optionally
  followed by its spread in parentheses.

A script or a redis-server that is missing, a failure, a timeout, or an output
without the expected row gives a "not measured" figure that says why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT
from _figures import Figure, given, missing

HERE = Path(__file__).resolve().parent

_OPTION = re.compile(r"""add_argument\(\s*((?:["']-[-\w]*["']\s*,\s*)*["']-[-\w]*["'])""")
_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_VALUE = re.compile(
    rf"^\s*(?P<median>{_NUMBER})\s*(?P<unit>[^\s(|]*)\s*"
    rf"(?:\(\s*(?P<low>{_NUMBER})\s*(?:-|\u2013|\u2014|to)\s*(?P<high>{_NUMBER})\s*\))?"
)
_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}")


class NotMeasured(Exception):
    """The reason a figure could not be measured."""


@dataclass
class Row:
    label: str
    median: float
    low: float | None
    high: float | None
    unit: str = ""
    key: str = ""
    cells: tuple[str, ...] = ()


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def parse_value(cell: str) -> tuple[float, float | None, float | None, str] | None:
    """``"0.85 (0.80-0.90)"`` -> (0.85, 0.80, 0.90, ""); None when it is not a number."""
    found = _VALUE.match(cell)
    if not found:
        return None
    low, high = found["low"], found["high"]
    return (
        _number(found["median"]),
        None if low is None else _number(low),
        None if high is None else _number(high),
        found["unit"],
    )


def markdown_rows(text: str) -> list[Row]:
    """The body rows of the markdown tables in *text* that hold a number."""
    lines = [line.strip() for line in text.splitlines()]
    rows = []
    for i, line in enumerate(lines):
        if not line.startswith("|") or _SEPARATOR.match(line):
            continue
        if i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1]):
            continue  # a header
        cells = tuple(cell.strip() for cell in line.strip("|").split("|"))
        for cell in reversed(cells[1:]):
            value = parse_value(cell)
            if value is not None:
                median, low, high, unit = value
                rows.append(Row(cells[0], median, low, high, unit, cells=cells))
                break
    return rows


def json_rows(text: str) -> list[Row] | None:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("rows"), list):
            return [
                Row(
                    str(row.get("figure", row.get("key", ""))),
                    float(row["median"]),
                    None if row.get("min") is None else float(row["min"]),
                    None if row.get("max") is None else float(row["max"]),
                    str(row.get("unit", "")),
                    str(row.get("key", "")),
                )
                for row in data["rows"]
            ]
    return None


def declared_options(path: Path) -> set[str]:
    """The ``--options`` a script's argparse declares (read from its source)."""
    source = path.read_text(encoding="utf-8")
    return {
        name.strip("'\" ")
        for group in _OPTION.findall(source)
        for name in group.split(",")
        if name.strip("'\" ").startswith("--")
    }


def run_script(name: str, args: Iterable[str], timeout: float) -> tuple[str, list[Row]]:
    """Run ``benchmarks/NAME`` with *args*; its stdout and the rows read from it."""
    path = HERE / name
    if not path.exists():
        raise NotMeasured(f"benchmarks/{name} does not exist yet")
    options = declared_options(path)
    argv = [sys.executable, str(path), *args]
    if "--json" in options:
        argv.append("--json")
    print(f"  running {' '.join(argv[1:])} (timeout {timeout:.0f} s)", file=sys.stderr, flush=True)
    stdout = _run(argv, timeout, name)
    rows = json_rows(stdout) if "--json" in options else None
    return stdout, rows if rows is not None else markdown_rows(stdout)


def _run(argv: list[str], timeout: float, name: str) -> str:
    """Run *argv* in a new session; relay its stderr; kill its whole group on a timeout."""
    child = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    tail: deque[str] = deque(maxlen=15)
    chunks: list[str] = []

    def relay() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            tail.append(line.rstrip())
            print(f"    {name}: {line.rstrip()}", file=sys.stderr, flush=True)

    def collect() -> None:
        assert child.stdout is not None
        chunks.append(child.stdout.read())

    readers = [threading.Thread(target=relay), threading.Thread(target=collect)]
    for reader in readers:
        reader.start()
    try:
        code = child.wait(timeout)
    except subprocess.TimeoutExpired:
        _kill_group(child)
        for reader in readers:
            reader.join(10)
        raise NotMeasured(f"{name} timed out after {timeout:.0f} s") from None
    for reader in readers:
        reader.join()
    if code != 0:
        last = next((line.strip() for line in reversed(tail) if line.strip()), "")
        raise NotMeasured(f"{name} exited {code}: {last[-300:]}")
    return "".join(chunks)


def _kill_group(child: subprocess.Popen[str]) -> None:
    """End the child and what it started (its session: the fake, a redis-server)."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _find(rows: list[Row], key: str, *words: str, exclude: str = "") -> Row | None:
    """The row with this JSON key, else the first whose label holds every word."""
    for row in rows:
        if key and row.key == key:
            return row
    for row in rows:
        label = row.label.lower()
        if all(word.lower() in label for word in words) and not (
            exclude and exclude.lower() in label
        ):
            return row
    return None


def _given(row: Row, unit: str, note: str = "") -> Figure:
    return given(row.median, row.low, row.high, unit, note)


# --- the scripts -----------------------------------------------------------------------------


def bench_cli_import(rows: int | None, rounds: int | None, timeout: float) -> dict[str, Figure]:
    args: list[str] = []
    options = (
        declared_options(HERE / "cli_import.py") if (HERE / "cli_import.py").exists() else set()
    )
    if rows is not None and "--rows" in options:
        args += ["--rows", str(rows)]
    if rounds is not None and "--rounds" in options:
        args += ["--rounds", str(rounds)]
    try:
        _, found = run_script("cli_import.py", args, timeout)
    except NotMeasured as exc:
        return {"cli_import": missing(str(exc)), "cli_import_cpu": missing(str(exc))}
    out: dict[str, Figure] = {}
    wall = _find(found, "cli_import", "CLI import rows/s")
    out["cli_import"] = (
        _given(wall, "ratio")
        if wall
        else missing("cli_import.py printed no 'CLI import rows/s / library ...' row")
    )
    if wall and len(wall.cells) >= 4:
        out["cli_import"]["parts"] = _parts(wall.cells, "rows/s", "CLI import", "library")
    cpu = _find(found, "cli_import_cpu", "client-CPU")
    if cpu:
        out["cli_import_cpu"] = _given(cpu, "ratio")
        if len(cpu.cells) >= 4:
            out["cli_import_cpu"]["parts"] = _parts(
                cpu.cells, "rows/CPU-s", "CLI import", "library"
            )
    else:
        out["cli_import_cpu"] = missing("cli_import.py printed no rows per CPU-second row")
    return out


def _parts(cells: tuple[str, ...], unit: str, *names: str) -> dict[str, Figure]:
    parts = {}
    for name, cell in zip(names, cells[1:], strict=False):
        value = parse_value(cell)
        if value is not None:
            parts[name] = given(value[0], value[1], value[2], unit)
    return parts


def _no_redis() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    return None


def bench_redis(rounds: int | None, timeout: float) -> dict[str, Figure]:
    keys = ("redis_rate", "redis_slots", "redis_round_trip", "redis_c_round_trip", "redis_shared")
    why = _no_redis()
    if why:
        return {key: missing(why) for key in keys}
    out: dict[str, Figure] = {}
    try:
        _, found = run_script("redis_acquire.py", _rounds("redis_acquire.py", rounds), timeout)
    except NotMeasured as exc:
        for key in keys[:-1]:
            out[key] = missing(str(exc))
    else:
        out["redis_rate"] = _added(found, "redis_rate", "RedisRateLimiter", "LocalRateLimiter")
        out["redis_slots"] = _added(
            found, "redis_slots", "RedisConcurrencyLimiter", "LocalConcurrencyLimiter"
        )
        trip = _find(found, "redis_round_trip", "bare round trip")
        out["redis_round_trip"] = (
            missing("redis_acquire.py printed no bare round trip")
            if trip is None
            else _given(trip, "us", note="the floor of any request that asks Redis")
        )
        c_trip = _find(found, "redis_c_round_trip", "own C client")
        out["redis_c_round_trip"] = (
            missing("redis-benchmark is not installed (Debian's redis-tools)")
            if c_trip is None
            else _given(c_trip, "us", note="redis-benchmark, one connection")
        )
    try:
        _, found = run_script("redis_shared.py", _rounds("redis_shared.py", rounds), timeout)
    except NotMeasured as exc:
        out["redis_shared"] = missing(str(exc))
    else:
        out["redis_shared"] = _shared(found)
    return out


def _rounds(name: str, rounds: int | None) -> list[str]:
    path = HERE / name
    if rounds is None or not path.exists() or "--rounds" not in declared_options(path):
        return []
    return ["--rounds", str(rounds)]


def _added(rows: list[Row], key: str, redis_word: str, local_word: str) -> Figure:
    """The Redis limiter's added latency per request, in microseconds.

    Taken as given from a row keyed *key* or labelled "added"; otherwise the
    Redis limiter's time per call less the in-process limiter's.
    """
    row = _find(rows, key, redis_word, "added")
    if row is not None:
        return _given(row, "us")
    redis = _find(rows, key, redis_word)
    if redis is None:
        return missing(f"no {redis_word} row in the script's output")
    local = _find(rows, "", local_word)
    if local is None:
        return _given(redis, "us", note="per call, not net of an in-process limiter")
    shift = local.median
    return given(
        redis.median - shift,
        None if redis.low is None else redis.low - shift,
        None if redis.high is None else redis.high - shift,
        "us",
        note=f"{redis_word} per call less {local_word} per call",
    )


def _shared(rows: list[Row]) -> Figure:
    """4 processes under one Redis cap / 4 with local caps, throughput."""
    row = _find(rows, "redis_shared", "shar", "/") or _find(rows, "", "shar", "ratio")
    if row is not None:
        return _given(row, "ratio")
    shared = _find(rows, "", "shar", exclude="local")
    local = _find(rows, "", "local", exclude="shar")
    if shared is not None and local is not None and local.median > 0:
        # Throughputs, or ratios to the local run: their quotient is the figure either way.
        note = f"'{shared.label}' / '{local.label}', medians"
        return given(shared.median / local.median, None, None, "ratio", note=note)
    if shared is not None and 0 < shared.median < 5:
        return _given(shared, "ratio")
    return missing("redis_shared.py printed no 'shared / local' row")
