"""The cost of a journal: a CLI import of a large CSV with and without ``--journal``.

Alternating rounds, the fake in its own process (a fresh list per run), medians
of the per-round ratios with their spread; then the time to resume a journaled
import that was killed halfway (SIGKILL) and the requests its reconciliation
made. Not part of the tests or CI:

    python benchmarks/journal_overhead.py [ROWS] [ROUNDS]
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import KEY, USER, machine

from sms_async.testing import spawn_server


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("phone,name,code\n")
        for i in range(rows):
            handle.write(f"+86138{i:08d},Contact {i},{i % 97}\n")


def new_list(base_url: str, name: str) -> int:
    answer = httpx.post(
        f"{base_url}/v1/contact_lists", json={"contact_list_name": name}, auth=(USER, KEY)
    )
    answer.raise_for_status()
    return int(answer.json()["result"]["contact_list_id"])


def import_args(list_id: int, source: Path, journal: Path | None) -> list[str]:
    args = [sys.executable, "-m", "sms_async.cli", "members", "import", str(list_id), str(source)]
    return [*args, "--json"] + (["--journal", str(journal)] if journal else [])


def timed_import(env: dict[str, str], args: list[str], *, check: bool = True) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, check=False, capture_output=True, timeout=900)
    if check and done.returncode != 0:
        raise RuntimeError(f"the import exited {done.returncode}: {done.stderr[-2000:]!r}")
    return time.perf_counter() - started


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as folder, spawn_server(USER, KEY) as server:
        source = Path(folder) / "contacts.csv"
        write_csv(source, rows)
        env = {
            **os.environ,
            "SMS_ASYNC_USER": USER,
            "SMS_ASYNC_KEY": KEY,
            "SMS_ASYNC_BASE_URL": server.base_url,
            "SMS_ASYNC_TASK_BASE_URL": server.base_url,
        }
        plain: list[float] = []
        journaled: list[float] = []
        for n in range(rounds):
            for kind in ("plain", "journal") if n % 2 == 0 else ("journal", "plain"):
                list_id = new_list(server.base_url, f"bench{n}{kind}")
                journal = Path(folder) / f"j{n}" if kind == "journal" else None
                seconds = timed_import(env, import_args(list_id, source, journal))
                (journaled if journal else plain).append(seconds)
        ratios = [j / p for j, p in zip(journaled, plain, strict=True)]
        print(f"machine: {machine()}")
        print(f"rows: {rows:,}; rounds: {rounds}")
        print(
            f"without --journal: {statistics.median(plain):.2f} s "
            f"({rows / statistics.median(plain):,.0f} rows/s), runs {plain}"
        )
        print(
            f"with --journal:    {statistics.median(journaled):.2f} s "
            f"({rows / statistics.median(journaled):,.0f} rows/s), runs {journaled}"
        )
        print(
            f"journal / plain: median {statistics.median(ratios):.3f} "
            f"(spread {min(ratios):.3f}-{max(ratios):.3f})"
        )

        # Resume after a kill halfway.
        list_id = new_list(server.base_url, "benchkill")
        journal = Path(folder) / "killed"
        args = import_args(list_id, source, journal)
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(statistics.median(journaled) / 2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = server.stats()["requests"].get("members.list", 0)
        resume = timed_import(env, args, check=False)  # exit 1 when batches failed
        lookups = server.stats()["requests"].get("members.list", 0) - before
        print(
            f"resume after a kill halfway: {resume:.2f} s, "
            f"{lookups} listing requests to reconcile the batches in doubt"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
