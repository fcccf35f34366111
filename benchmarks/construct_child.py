"""Child process of the construction benchmark: CPU of ``AsyncSmsClient("u", "k")``.

``python benchmarks/construct_child.py BACKEND COUNT`` makes one client (the
process's first: it pays the lazy imports and builds the shared SSL context),
then COUNT more, each inside the running event loop as an application would,
timing each construction's CPU (``time.process_time``) and closing each client
outside the timing. Prints ``{"first": s, "samples": [s, ...]}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def main(backend: str, count: int) -> None:
    from sms_async import AsyncSmsClient

    clock = time.process_time
    started = clock()
    client = AsyncSmsClient("u", "k", http_backend=backend)  # type: ignore[arg-type]  # argv: str
    first = clock() - started
    await client.aclose()
    samples = []
    for _ in range(count):
        started = clock()
        client = AsyncSmsClient("u", "k", http_backend=backend)  # type: ignore[arg-type]  # argv: str
        samples.append(clock() - started)
        await client.aclose()
    print(json.dumps({"first": first, "samples": samples}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
