"""The ``sms-async members import`` command against the library's ``members.add``, same CSV.

Run with ``python benchmarks/cli_import.py`` (``--rows 1000000 --rounds 3`` by default).

A CSV of ``--rows`` rows (``phone,name,code``; phones like ``+86138xxxxxxxx``) is
written once. The fake server runs in a child process on a loopback port. Each
round imports the file twice, into a new list each time, alternating the order
(A B, then B A, ...):

* ``cli``: the command, ``python -m sms_async.cli members import LIST FILE --json``,
  in a child process (its progress lines go to a pipe that is drained: not a
  terminal);
* ``library``: a child process that reads the same file with ``csv.reader`` into
  plain dicts (``{"phone", "name", "vars": {"code"}}``), streamed, and passes them
  to ``client.members.add`` (what a program using the SDK would write).

Both children are timed from start to exit (interpreter start and imports
included, the same for both), wall and CPU (user + system, from ``wait4``). The
table gives rows per second (wall) and rows per client-CPU second, the median of
the rounds and their spread (min-max), and the median of the per-round ratios
CLI / library. A warm-up round (1 % of the rows) runs first and is dropped.

``--profile PATH`` runs the command once under cProfile instead and writes the
stats to PATH (``python -m pstats PATH``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _common import KEY, USER, machine  # noqa: E402  # after benchmarks/ is put on sys.path

CONTENDERS = ("cli", "library")


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("phone,name,code\n")
        chunk = 100_000
        for start in range(0, rows, chunk):
            handle.write(
                "".join(
                    f"+86138{i:08d},Contact {i},{i % 97}\n"
                    for i in range(start, min(rows, start + chunk))
                )
            )


# --- the library's child ---------------------------------------------------------------------


def library_rows(path: str) -> Iterator[dict[str, Any]]:
    """The file's rows as the plain dicts ``members.add`` takes, streamed."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)  # the header: phone,name,code
        for phone, name, code in reader:
            yield {"phone": phone, "name": name, "vars": {"code": code}}


async def library_import(base_url: str, list_id: int, path: str) -> dict[str, int]:
    from sms_async import AsyncSmsClient

    async with AsyncSmsClient(USER, KEY, base_url=base_url, task_base_url=base_url) as client:
        result = await client.members.add(list_id, library_rows(path), raise_on_error=False)
    return {"added": result.count, "rejected": len(result.invalid)}


# --- the parent ------------------------------------------------------------------------------


class Run:
    __slots__ = ("cpu", "rows", "wall")

    def __init__(self, rows: int, wall: float, cpu: float) -> None:
        self.rows = rows
        self.wall = wall
        self.cpu = cpu


def env_for(base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SMS_ASYNC_USER": USER,
        "SMS_ASYNC_KEY": KEY,
        "SMS_ASYNC_BASE_URL": base_url,
        "SMS_ASYNC_TASK_BASE_URL": base_url,
    }


def command(name: str, base_url: str, list_id: int, path: Path) -> list[str]:
    if name == "cli":
        return [sys.executable, "-m", "sms_async.cli", "members", "import", str(list_id),
                str(path), "--json"]  # fmt: skip
    return [sys.executable, __file__, "--library-child", base_url, str(list_id), str(path)]


def timed(args: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """Run *args*; its stdout, wall seconds and CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{args[2:4]} exited {done.returncode}: {done.stderr[-2000:]!r}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout.decode(), wall, cpu


async def new_list(client: Any, name: str) -> int:
    created = await client.contact_lists.create(contact_list_name=name)
    return int(created.contact_list_id)


def one(name: str, base_url: str, path: Path, rows: int, tag: str) -> Run:
    from sms_async import AsyncSmsClient

    async def create() -> int:
        async with AsyncSmsClient(USER, KEY, base_url=base_url, task_base_url=base_url) as client:
            return await new_list(client, f"bench_{tag}_{name}")

    async def delete(list_id: int) -> None:
        async with AsyncSmsClient(USER, KEY, base_url=base_url, task_base_url=base_url) as client:
            await client.contact_lists.delete(list_id)

    list_id = asyncio.run(create())
    out, wall, cpu = timed(command(name, base_url, list_id, path), env_for(base_url))
    asyncio.run(delete(list_id))  # the fake forgets the members: its memory stays flat
    added = json.loads(out.strip().splitlines()[-1])["added"]
    if added != rows:
        raise RuntimeError(f"{name}: {added} added of {rows}")
    return Run(rows, wall, cpu)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def ratio_text(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def bench(rows: int, rounds: int, keep: Path | None) -> None:
    from sms_async.testing import spawn_server

    with tempfile.TemporaryDirectory() as folder:
        path = keep or Path(folder) / "members.csv"
        if not path.exists():
            write_csv(path, rows)
        with path.open("rb") as handle:
            rows = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1
        results: dict[str, list[Run]] = {name: [] for name in CONTENDERS}
        with spawn_server(USER, KEY) as server:
            warm = Path(folder) / "warm.csv"
            write_csv(warm, max(1, rows // 100))
            for name in CONTENDERS:
                one(name, server.base_url, warm, max(1, rows // 100), "warm")
            for round_no in range(rounds):
                order = CONTENDERS if round_no % 2 == 0 else CONTENDERS[::-1]
                for name in order:
                    run = one(name, server.base_url, path, rows, f"r{round_no}")
                    results[name].append(run)
                    print(
                        f"round {round_no + 1} {name:<8} {rows / run.wall:>10,.0f} rows/s  "
                        f"{rows / run.cpu:>10,.0f} rows/CPU-s  ({run.wall:.2f} s wall, "
                        f"{run.cpu:.2f} s CPU)",
                        file=sys.stderr,
                    )
    cli, lib = results["cli"], results["library"]
    wall_rates = {name: [r.rows / r.wall for r in runs] for name, runs in results.items()}
    cpu_rates = {name: [r.rows / r.cpu for r in runs] for name, runs in results.items()}
    wall_ratio = [b.wall / a.wall for a, b in zip(cli, lib, strict=True)]
    cpu_ratio = [b.cpu / a.cpu for a, b in zip(cli, lib, strict=True)]
    print(f"{rows:,} rows, {rounds} rounds (A B / B A), median (min-max); {machine()}")
    print()
    print("| Figure | CLI import | library members.add | CLI / library |")
    print("|---|---|---|---|")
    print(
        f"| CLI import rows/s / library members.add rows/s | {spread(wall_rates['cli'])} | "
        f"{spread(wall_rates['library'])} | {ratio_text(wall_ratio)} |"
    )
    print(
        f"| rows per client-CPU second | {spread(cpu_rates['cli'])} | "
        f"{spread(cpu_rates['library'])} | {ratio_text(cpu_ratio)} |"
    )


def profile(rows: int, out: Path) -> None:
    """Run the command once in this process under cProfile; write the stats to *out*."""
    import cProfile

    from sms_async.testing import spawn_server

    with tempfile.TemporaryDirectory() as folder, spawn_server(USER, KEY) as server:
        path = Path(folder) / "members.csv"
        write_csv(path, rows)
        from sms_async import AsyncSmsClient

        async def create() -> int:
            async with AsyncSmsClient(
                USER, KEY, base_url=server.base_url, task_base_url=server.base_url
            ) as client:
                return await new_list(client, "profiled")

        list_id = asyncio.run(create())
        os.environ.update(env_for(server.base_url))
        from sms_async.cli import cli

        args = ["members", "import", str(list_id), str(path), "--json"]
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            cli(args, prog_name="sms-async", standalone_mode=False)
        finally:
            profiler.disable()
            profiler.dump_stats(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--csv", type=Path, help="keep the generated CSV here (reused if present)")
    parser.add_argument("--profile", type=Path, help="profile the command once into this file")
    parser.add_argument("--library-child", nargs=3, metavar=("URL", "LIST", "FILE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.library_child:
        url, list_id, path = args.library_child
        print(json.dumps(asyncio.run(library_import(url, int(list_id), path))))
    elif args.profile:
        profile(args.rows, args.profile)
    else:
        bench(args.rows, args.rounds, args.csv)


if __name__ == "__main__":
    main()
