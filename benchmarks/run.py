"""Side-by-side benchmarks: the SDK against hand-written raw httpx and aiohttp.

Run with ``nox -s bench`` (or ``python benchmarks/run.py``). The fake server runs
in a child process on a loopback port; this process is the client, so its CPU
time is the client's alone. Each figure alternates the contenders (A B A B ...)
and reports the median of the per-round ratios. Writes ``benchmarks/RESULTS.md``
and ``benchmarks/results.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _common import AUTH, KEY, USER, machine, measure, median_ratio, members

from sms_async import AsyncSmsClient
from sms_async.testing import FakeSmsServer, spawn_server

HERE = Path(__file__).parent
DOCS_INTRO = """# Benchmarks

How the SDK compares with what you would write by hand with httpx or aiohttp,
against the same fake server (`python -m sms_async.testing`, uvicorn with
httptools) in a separate process on a loopback port. The client is this
process, so its CPU time is the client's alone. Each figure alternates the
contenders (A B A B) and reports the median of the per-round ratios; machines
are noisy, so read the ratios, not the absolute times. The code is in
`benchmarks/run.py`; regenerate this page with `nox -s bench`.

Targets: upload CPU <= 1.0x and wall <= 1.05x raw httpx; pagination with 20 ms
of latency <= 0.30x a sequential raw httpx loop (the SDK prefetches pages
concurrently); streaming 300 000 members costs at most 10 MB more peak memory
than 30 000; per-call overhead over raw httpx at most 30 us.
"""
CONCURRENCY = 8
BATCH = 1000


# --- 1. upload -------------------------------------------------------------------------------


async def create_list(base_url: str, name: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": AUTH}) as http:
        response = await http.post("/v1/contact_lists", json={"contact_list_name": name})
        return int(response.json()["result"]["contact_list_id"])


async def delete_list(base_url: str, list_id: int) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": AUTH}) as http:
        await http.delete(f"/v1/contact_lists/{list_id}")


async def upload_sdk(base_url: str, list_id: int, data: list[dict[str, Any]]) -> int:
    async with AsyncSmsClient(
        USER, KEY, base_url=base_url, task_base_url=base_url, max_concurrency=CONCURRENCY
    ) as client:
        result = await client.members.add(list_id, data, batch_size=BATCH)
        return result.count


async def upload_httpx(base_url: str, list_id: int, data: list[dict[str, Any]]) -> int:
    """What a user would write by hand: a semaphore and gather over the batches."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": AUTH}, limits=limits, timeout=30
    ) as http:
        semaphore = asyncio.Semaphore(CONCURRENCY)
        path = f"/v1/contact_lists/{list_id}/members"

        async def send(batch: list[dict[str, Any]]) -> int:
            async with semaphore:
                response = await http.post(path, json={"members": batch})
                response.raise_for_status()
                return int(response.json()["result"]["count"])

        batches = [data[i : i + BATCH] for i in range(0, len(data), BATCH)]
        return sum(await asyncio.gather(*(send(batch) for batch in batches)))


async def upload_aiohttp(base_url: str, list_id: int, data: list[dict[str, Any]]) -> int:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(
        base_url=base_url, headers={"Authorization": AUTH}, connector=connector
    ) as session:
        semaphore = asyncio.Semaphore(CONCURRENCY)
        path = f"/v1/contact_lists/{list_id}/members"

        async def send(batch: list[dict[str, Any]]) -> int:
            async with semaphore, session.post(path, json={"members": batch}) as response:
                response.raise_for_status()
                return int((await response.json())["result"]["count"])

        batches = [data[i : i + BATCH] for i in range(0, len(data), BATCH)]
        return sum(await asyncio.gather(*(send(batch) for batch in batches)))


async def bench_upload(rounds: int, count: int) -> dict[str, Any]:
    contenders = {"sdk": upload_sdk, "httpx": upload_httpx, "aiohttp": upload_aiohttp}
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    data = members(count)
    with spawn_server(USER, KEY) as server:
        for round_no in range(rounds + 1):  # round 0 warms up and is dropped
            order = list(contenders)
            if round_no % 2:
                order.reverse()
            for name in order:
                list_id = await create_list(server.base_url, f"up_{name}_{round_no}")

                async def work(name: str = name, list_id: int = list_id) -> None:
                    added = await contenders[name](server.base_url, list_id, data)
                    assert added == count, (name, added)

                result = await measure(work)
                await delete_list(server.base_url, list_id)
                if round_no:
                    wall[name].append(result.wall)
                    cpu[name].append(result.cpu)
    return {"wall": wall, "cpu": cpu}


# --- 2. pagination ----------------------------------------------------------------------------


async def bench_pagination(rounds: int, count: int, latency: float) -> dict[str, Any]:
    times: dict[str, list[float]] = {"sdk": [], "httpx": []}
    with spawn_server(USER, KEY, extra_args=["--latency", str(latency)]) as server:
        list_id = await create_list(server.base_url, "pages")
        await upload_httpx(server.base_url, list_id, members(count))

        async def sdk() -> None:
            async with AsyncSmsClient(USER, KEY, base_url=server.base_url) as client:
                seen = 0
                async for _member in client.members.list(list_id):
                    seen += 1
            assert seen == count

        async def raw() -> None:
            async with httpx.AsyncClient(
                base_url=server.base_url, headers={"Authorization": AUTH}
            ) as http:
                seen, offset = 0, 0
                while True:
                    response = await http.get(
                        f"/v1/contact_lists/{list_id}/members",
                        params={"offset": offset, "limit": 100},
                    )
                    page = response.json()
                    seen += len(page["result"])
                    offset += len(page["result"])
                    if not page["result"] or offset >= page["total"]:
                        break
            assert seen == count

        for round_no in range(rounds + 1):
            pair = [("sdk", sdk), ("httpx", raw)]
            if round_no % 2:
                pair.reverse()
            for name, work in pair:
                result = await measure(work)
                if round_no:
                    times[name].append(result.wall)
    return times


# --- 3. memory -------------------------------------------------------------------------------


def bench_memory(rounds: int, sizes: tuple[int, int]) -> dict[int, list[float]]:
    peaks: dict[int, list[float]] = {size: [] for size in sizes}
    with spawn_server(USER, KEY) as server:
        for round_no in range(rounds):
            order = list(sizes) if round_no % 2 == 0 else list(reversed(sizes))
            for size in order:
                done = subprocess.run(
                    [sys.executable, str(HERE / "memory_child.py"), server.base_url, str(size)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                peaks[size].append(json.loads(done.stdout)["peak_rss_mb"])
    return peaks


# --- 4. per-call overhead ---------------------------------------------------------------------


async def bench_overhead(rounds: int, calls: int) -> dict[str, list[float]]:
    """Per-call time of contact_lists.update, SDK vs raw httpx, in-process.

    The calls are interleaved in small chunks (A B A B ...), so that a burst of
    noise on the machine hits both sides alike; the figure is the median of the
    per-chunk differences.
    """
    chunks = max(rounds * 4, 20)
    per_chunk = max(1, calls // chunks)
    per_call: dict[str, list[float]] = {"sdk": [], "httpx": []}
    async with FakeSmsServer(USER, KEY) as fake:
        list_id = fake.create_list("overhead").contact_list_id
        http = httpx.AsyncClient(transport=fake.transport, base_url=fake.base_url)
        client = AsyncSmsClient(USER, KEY, base_url=fake.base_url, http_client=http)

        async def sdk() -> None:
            for i in range(per_chunk):
                await client.contact_lists.update(list_id, description=f"d{i % 10}")

        async def raw() -> None:
            path = f"/v1/contact_lists/{list_id}"
            headers = {"Authorization": AUTH}
            for i in range(per_chunk):
                response = await http.put(path, json={"description": f"d{i % 10}"}, headers=headers)
                response.raise_for_status()
                assert response.json()["count"] == 1

        for chunk in range(chunks + 2):  # the first two chunks warm up
            pair = [("sdk", sdk), ("httpx", raw)]
            if chunk % 2:
                pair.reverse()
            for name, work in pair:
                result = await measure(work)
                if chunk >= 2:
                    per_call[name].append(result.wall / per_chunk * 1e6)
        await client.aclose()
        await http.aclose()
    return per_call


# --- report ----------------------------------------------------------------------------------


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    up, pages, memory, overhead = (
        results["upload"],
        results["pagination"],
        results["memory"],
        results["overhead"],
    )
    med = statistics.median
    small, large = sorted(memory)
    growth = [b - a for a, b in zip(memory[small], memory[large], strict=True)]
    diffs = [s - r for s, r in zip(overhead["sdk"], overhead["httpx"], strict=True)]
    rows = [
        (
            f"upload {args.upload:,} members, client CPU (s)",
            f"{med(up['cpu']['sdk']):.3f}",
            f"{med(up['cpu']['httpx']):.3f}",
            f"{med(up['cpu']['aiohttp']):.3f}",
            f"{median_ratio(up['cpu']['sdk'], up['cpu']['httpx']):.2f}",
            "<= 1.0",
        ),
        (
            f"upload {args.upload:,} members, wall (s)",
            f"{med(up['wall']['sdk']):.3f}",
            f"{med(up['wall']['httpx']):.3f}",
            f"{med(up['wall']['aiohttp']):.3f}",
            f"{median_ratio(up['wall']['sdk'], up['wall']['httpx']):.2f}",
            "<= 1.05",
        ),
        (
            f"pagination {args.pages:,} members, {args.latency * 1000:.0f} ms latency, wall (s)",
            f"{med(pages['sdk']):.3f}",
            f"{med(pages['httpx']):.3f} (sequential)",
            "-",
            f"{median_ratio(pages['sdk'], pages['httpx']):.2f}",
            "<= 0.30",
        ),
        (
            f"peak client RSS streaming {small:,} / {large:,} members (MB)",
            f"{med(memory[small]):.1f} / {med(memory[large]):.1f}",
            "-",
            "-",
            f"growth {med(growth):+.1f} MB",
            "growth <= 10 MB",
        ),
        (
            f"per call, {args.calls:,} contact_lists.update in-process (us)",
            f"{med(overhead['sdk']):.1f}",
            f"{med(overhead['httpx']):.1f}",
            "-",
            f"overhead {med(diffs):+.1f} us",
            "<= 30 us",
        ),
    ]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}.",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{args.rounds} alternating rounds per figure after a warm-up round; "
        "ratios are medians of the per-round ratios. Regenerate with `nox -s bench`.",
        "",
        "| figure | SDK | raw httpx | raw aiohttp | ratio | target |",
        "|---|---|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in rows),
        "",
        "![benchmark chart](results.png)",
        "",
    ]
    return "\n".join(lines)


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    med = statistics.median
    up = results["upload"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    names = ["sdk", "httpx", "aiohttp"]
    axes[0].bar(names, [med(up["wall"][n]) for n in names], color=["#2a7", "#888", "#aaa"])
    axes[0].set_title("upload: wall seconds (lower is better)")
    axes[1].bar(names, [med(up["cpu"][n]) for n in names], color=["#2a7", "#888", "#aaa"])
    axes[1].set_title("upload: client CPU seconds")
    pages = results["pagination"]
    axes[2].bar(
        ["sdk (prefetch)", "httpx (sequential)"],
        [med(pages["sdk"]), med(pages["httpx"])],
        color=["#2a7", "#888"],
    )
    axes[2].set_title("pagination: wall seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--upload", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=5_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--only", choices=["upload", "pagination", "memory", "overhead"])
    parser.add_argument("--no-write", action="store_true", help="print, do not write files")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.only in (None, "upload"):
        results["upload"] = asyncio.run(bench_upload(args.rounds, args.upload))
        print("upload", json.dumps(results["upload"]))
    if args.only in (None, "pagination"):
        results["pagination"] = asyncio.run(bench_pagination(args.rounds, args.pages, args.latency))
        print("pagination", json.dumps(results["pagination"]))
    if args.only in (None, "memory"):
        results["memory"] = bench_memory(args.rounds, (30_000, 300_000))
        print("memory", json.dumps(results["memory"]))
    if args.only in (None, "overhead"):
        results["overhead"] = asyncio.run(bench_overhead(args.rounds, args.calls))
        print("overhead", json.dumps(results["overhead"]))
    if args.only is None:
        text = report(results, args)
        print(text)
        if not args.no_write:
            (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
            chart(results, HERE / "results.png")
            # The same page in the docs (mkdocs only serves files under docs/).
            docs = HERE.parent / "docs"
            (docs / "assets").mkdir(exist_ok=True)
            chart(results, docs / "assets" / "benchmarks.png")
            page = text.replace("](results.png)", "](assets/benchmarks.png)")
            (docs / "benchmarks.md").write_text(DOCS_INTRO + page.split("\n", 1)[1], "utf-8")


if __name__ == "__main__":
    main()
