"""The in-process figures: upload, listing, pagination and per-call overhead.

The fake server runs in a child process (``spawn_server``) except for the
per-call overhead, which talks to it in-process; this process is the client,
so ``time.process_time()`` is the client's CPU alone.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
from _common import AUTH, KEY, USER, Measured, alternate, measure, members, ratios
from _figures import Figure, measured, missing

from sms_async import AsyncSmsClient, ConfigurationError
from sms_async.testing import FakeSmsServer, spawn_server

#: Requests in flight everywhere: the SDK's max_concurrency, the raw clients'
#: semaphores and pools, and (through max_concurrency) the SDK's listing prefetch.
CONCURRENCY = 8
BATCH = 1000
PAGE = 100  # the API's largest page, the SDK's default page_size

Work = Callable[[], Awaitable[int]]


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def log_round(what: str, round_no: int, seen: dict[str, Measured]) -> None:
    runs = ", ".join(f"{name} {m.wall:.2f} s / {m.cpu:.2f} CPU-s" for name, m in seen.items())
    log(f"  {what} round {round_no}{' (warm-up)' if not round_no else ''}: {runs}")


def compared(seconds: dict[str, list[float]], a: str, b: str) -> Figure:
    """The per-round ratios of contender *a*'s seconds to *b*'s, both kept as its parts."""
    return measured(
        ratios(seconds[a], seconds[b]), parts={a: (seconds[a], "s"), b: (seconds[b], "s")}
    )


def _path(list_id: int) -> str:
    return f"/v1/contact_lists/{list_id}/members"


async def create_list(base_url: str, name: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": AUTH}) as http:
        response = await http.post("/v1/contact_lists", json={"contact_list_name": name})
        response.raise_for_status()
        return int(response.json()["result"]["contact_list_id"])


async def delete_list(base_url: str, list_id: int) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers={"Authorization": AUTH}) as http:
        (await http.delete(f"/v1/contact_lists/{list_id}")).raise_for_status()


def sdk_client(base_url: str, backend: str, default_region: str | None = None) -> AsyncSmsClient:
    return AsyncSmsClient(
        USER,
        KEY,
        base_url=base_url,
        task_base_url=base_url,
        max_concurrency=CONCURRENCY,
        http_backend=backend,  # type: ignore[arg-type]  # "httpx" or "aiohttp", typed str here
        default_region=default_region,
    )


def raw_httpx() -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    return httpx.AsyncClient(headers={"Authorization": AUTH}, limits=limits, timeout=30)


def raw_aiohttp() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    return aiohttp.ClientSession(headers={"Authorization": AUTH}, connector=connector)


# --- upload ----------------------------------------------------------------------------------


async def upload_sdk(
    backend: str, url: str, list_id: int, data: list[dict[str, Any]], region: str | None = None
) -> int:
    async with sdk_client(url, backend, region) as client:
        result = await client.members.add(list_id, data, batch_size=BATCH)
        return result.count


async def upload_httpx(url: str, list_id: int, data: list[dict[str, Any]]) -> int:
    """What a user would write by hand: a semaphore and gather over the batches."""
    async with raw_httpx() as http:
        semaphore = asyncio.Semaphore(CONCURRENCY)
        endpoint = url + _path(list_id)

        async def send(batch: list[dict[str, Any]]) -> int:
            async with semaphore:
                response = await http.post(endpoint, json={"members": batch})
                response.raise_for_status()
                return int(response.json()["result"]["count"])

        batches = [data[i : i + BATCH] for i in range(0, len(data), BATCH)]
        return sum(await asyncio.gather(*(send(batch) for batch in batches)))


async def upload_aiohttp(url: str, list_id: int, data: list[dict[str, Any]]) -> int:
    async with raw_aiohttp() as session:
        semaphore = asyncio.Semaphore(CONCURRENCY)
        endpoint = url + _path(list_id)

        async def send(batch: list[dict[str, Any]]) -> int:
            async with semaphore, session.post(endpoint, json={"members": batch}) as response:
                response.raise_for_status()
                return int((await response.json())["result"]["count"])

        batches = [data[i : i + BATCH] for i in range(0, len(data), BATCH)]
        return sum(await asyncio.gather(*(send(batch) for batch in batches)))


#: The SDK with ``default_region``: the same members (already E.164, of China), each
#: phone normalized, i.e. every batch through the E.164 shortcut (issue 17).
REGION = "SDK (httpx backend, default_region)"
UPLOADERS: dict[str, Callable[[str, int, list[dict[str, Any]]], Awaitable[int]]] = {
    REGION: lambda url, list_id, data: upload_sdk("httpx", url, list_id, data, region="CN"),
    "SDK (httpx backend)": lambda *a: upload_sdk("httpx", *a),
    "raw httpx": upload_httpx,
    "SDK (aiohttp backend)": lambda *a: upload_sdk("aiohttp", *a),
    "raw aiohttp": upload_aiohttp,
}


async def bench_upload(rounds: int, count: int) -> dict[str, Figure]:
    """Each round uploads *count* members with each contender, into a fresh list.

    The contender with ``default_region`` runs next to the plain SDK on the same
    backend (A B C D E, then E D C B A), so that their ratio is of adjacent runs.
    """
    data = members(count)
    names = list(UPLOADERS)
    why_not = region_problem(data)
    if why_not:
        names.remove(REGION)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    with spawn_server(USER, KEY) as server:
        url = server.base_url
        for round_no in range(rounds + 1):  # round 0 warms up and is dropped
            seen: dict[str, Measured] = {}
            for name in alternate(names, round_no):
                list_id = await create_list(url, f"up_{round_no}_{names.index(name)}")

                async def work(name: str = name, list_id: int = list_id) -> None:
                    added = await UPLOADERS[name](url, list_id, data)
                    if added != count:
                        raise RuntimeError(f"{name} added {added} of {count}")

                seen[name] = result = await measure(work)
                await delete_list(url, list_id)
                if round_no:
                    wall[name].append(result.wall)
                    cpu[name].append(result.cpu)
            log_round("upload", round_no, seen)
    figures: dict[str, Figure] = {}
    for backend, sdk, raw in (
        ("httpx", "SDK (httpx backend)", "raw httpx"),
        ("aiohttp", "SDK (aiohttp backend)", "raw aiohttp"),
    ):
        figures[f"upload_cpu_{backend}"] = compared(cpu, sdk, raw)
        figures[f"upload_wall_{backend}"] = compared(wall, sdk, raw)
    plain = "SDK (httpx backend)"
    if why_not:
        figures["upload_cpu_region"] = figures["upload_wall_region"] = missing(why_not)
        return figures
    figures["upload_cpu_region"] = compared(cpu, REGION, plain)
    figures["upload_wall_region"] = compared(wall, REGION, plain)
    return figures


def region_problem(data: list[dict[str, Any]]) -> str | None:
    """Why the ``default_region`` contender cannot run, or None.

    It needs phonenumbers, and a fair comparison: the phones must be E.164 numbers
    that normalizing gives back unchanged (possible numbers of their country), so
    that both contenders send the same members. Checked here, before any timing
    (this loads libphonenumber's metadata, once per process: no round pays it).
    """
    try:
        from sms_async._phones import PhoneNormalizer

        normalizer = PhoneNormalizer("CN")
    except ConfigurationError as exc:
        return str(exc)
    phones = [member["phone"] for member in data]
    for start in range(0, len(phones), BATCH):
        if not normalizer.quick_all(phones[start : start + BATCH]):
            raise RuntimeError("the upload's phones are not all E.164 numbers kept as they are")
    return None


# --- listing ---------------------------------------------------------------------------------


async def list_sdk(backend: str, url: str, list_id: int) -> int:
    """``client.members.list``: the first page, then max_concurrency pages in flight."""
    async with sdk_client(url, backend) as client:
        seen = 0
        async for _member in client.members.list(list_id):
            seen += 1
        return seen


async def windowed(get: Callable[[int], Awaitable[dict[str, Any]]], depth: int) -> int:
    """A hand-written prefetch: the first page for the total, then a window of *depth*
    page requests in flight over the offsets, consumed in order (as the SDK does)."""
    first = await get(0)
    seen = len(first["result"])
    offsets = iter(range(PAGE, int(first["total"]), PAGE))
    window: deque[asyncio.Future[dict[str, Any]]] = deque()
    for offset in offsets:
        window.append(asyncio.ensure_future(get(offset)))
        if len(window) >= depth:
            break
    while window:
        page = await window.popleft()
        seen += len(page["result"])
        offset = next(offsets, None)
        if offset is not None:
            window.append(asyncio.ensure_future(get(offset)))
    return seen


async def list_httpx(url: str, list_id: int) -> int:
    async with raw_httpx() as http:
        endpoint = url + _path(list_id)

        async def get(offset: int) -> dict[str, Any]:
            response = await http.get(endpoint, params={"offset": offset, "limit": PAGE})
            response.raise_for_status()
            return response.json()  # type: ignore[no-any-return]  # json() is Any: a page dict

        return await windowed(get, CONCURRENCY)


async def list_aiohttp(url: str, list_id: int) -> int:
    async with raw_aiohttp() as session:
        endpoint = url + _path(list_id)

        async def get(offset: int) -> dict[str, Any]:
            params = {"offset": offset, "limit": PAGE}
            async with session.get(endpoint, params=params) as response:
                response.raise_for_status()
                return await response.json()  # type: ignore[no-any-return]  # a page dict

        return await windowed(get, CONCURRENCY)


LISTERS: dict[str, Callable[[str, int], Awaitable[int]]] = {
    "SDK (httpx backend)": lambda *a: list_sdk("httpx", *a),
    "raw httpx": list_httpx,
    "SDK (aiohttp backend)": lambda *a: list_sdk("aiohttp", *a),
    "raw aiohttp": list_aiohttp,
}


async def bench_listing(rounds: int, count: int) -> dict[str, Figure]:
    """Each round reads the whole list of *count* members with each contender."""
    names = list(LISTERS)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    with spawn_server(USER, KEY) as server:
        url = server.base_url
        list_id = await create_list(url, "listing")
        await upload_httpx(url, list_id, members(count))
        for round_no in range(rounds + 1):
            seen: dict[str, Measured] = {}
            for name in alternate(names, round_no):

                async def work(name: str = name) -> None:
                    read = await LISTERS[name](url, list_id)
                    if read != count:
                        raise RuntimeError(f"{name} read {read} of {count}")

                seen[name] = result = await measure(work)
                if round_no:
                    wall[name].append(result.wall)
                    cpu[name].append(result.cpu)
            log_round("listing", round_no, seen)
    figures: dict[str, Figure] = {}
    for backend, sdk, raw in (
        ("httpx", "SDK (httpx backend)", "raw httpx"),
        ("aiohttp", "SDK (aiohttp backend)", "raw aiohttp"),
    ):
        figures[f"listing_cpu_{backend}"] = compared(cpu, sdk, raw)
        figures[f"listing_wall_{backend}"] = compared(wall, sdk, raw)
    return figures


# --- pagination with latency -----------------------------------------------------------------


async def bench_pagination(rounds: int, count: int, latency: float) -> dict[str, Figure]:
    """The SDK's prefetching listing against a sequential raw httpx loop, *latency* added."""
    times: dict[str, list[float]] = {"SDK (prefetch)": [], "raw httpx (sequential)": []}
    with spawn_server(USER, KEY, extra_args=["--latency", str(latency)]) as server:
        url = server.base_url
        list_id = await create_list(url, "pages")
        await upload_httpx(url, list_id, members(count))

        async def sdk() -> None:
            if await list_sdk("httpx", url, list_id) != count:
                raise RuntimeError("the SDK's listing is short")

        async def sequential() -> None:
            async with raw_httpx() as http:
                seen, offset = 0, 0
                while True:
                    response = await http.get(
                        url + _path(list_id), params={"offset": offset, "limit": PAGE}
                    )
                    page = response.json()
                    seen += len(page["result"])
                    offset += len(page["result"])
                    if not page["result"] or offset >= page["total"]:
                        break
            if seen != count:
                raise RuntimeError("the sequential listing is short")

        pair: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("SDK (prefetch)", sdk),
            ("raw httpx (sequential)", sequential),
        ]
        for round_no in range(rounds + 1):
            for name, work in alternate(pair, round_no):
                result = await measure(work)
                if round_no:
                    times[name].append(result.wall)
    sdk_t, raw_t = times["SDK (prefetch)"], times["raw httpx (sequential)"]
    return {
        "pagination_wall": measured(
            ratios(sdk_t, raw_t),
            parts={"SDK (prefetch)": (sdk_t, "s"), "raw httpx (sequential)": (raw_t, "s")},
        )
    }


# --- per-call overhead -----------------------------------------------------------------------


async def bench_overhead(rounds: int, calls: int) -> dict[str, Figure]:
    """Per-call time of contact_lists.update, SDK vs raw httpx, in-process.

    The calls are interleaved in small chunks (A B A B ...), so that a burst of
    noise on the machine hits both sides alike; the figure is the median of the
    per-chunk differences. Both go through the same httpx client on the fake's
    in-process transport (the SDK with ``http_client=``). Nothing waits on I/O
    here, so the time is CPU time (``process_time``): the same as the wall time
    on a quiet machine, and not inflated by other processes on a busy one.
    """
    chunks = max(rounds * 4, 20)
    per_chunk = max(1, calls // chunks)
    per_call: dict[str, list[float]] = {"SDK": [], "raw httpx": []}
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
                if response.json()["count"] != 1:
                    raise RuntimeError("the raw update did not count 1")

        pair: list[tuple[str, Callable[[], Awaitable[None]]]] = [("SDK", sdk), ("raw httpx", raw)]
        for chunk in range(chunks + 2):  # the first two chunks warm up
            for name, work in alternate(pair, chunk):
                result = await measure(work)
                if chunk >= 2:
                    per_call[name].append(result.cpu / per_chunk * 1e6)
        await client.aclose()
        await http.aclose()
    sdk_us, raw_us = per_call["SDK"], per_call["raw httpx"]
    return {
        "overhead_us": measured(
            [s - r for s, r in zip(sdk_us, raw_us, strict=True)],
            "us",
            parts={"SDK": (sdk_us, "us"), "raw httpx": (raw_us, "us")},
        )
    }
