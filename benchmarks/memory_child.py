"""Child process of the memory benchmark: stream N members from an async generator.

Prints ``{"peak_rss_mb": ...}``: the peak RSS of this process (the client only).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import KEY, USER, peak_rss_mb

from sms_async import AsyncSmsClient, NewMember


async def generate(count: int) -> AsyncIterator[NewMember]:
    for i in range(count):
        yield NewMember(f"+86138{i:08d}", name=f"Contact {i}", vars={"code": str(i % 97)})


async def main(base_url: str, count: int) -> None:
    async with AsyncSmsClient(USER, KEY, base_url=base_url, max_concurrency=8) as client:
        created = await client.contact_lists.create(contact_list_name=f"mem_{count}_{id(client)}")
        result = await client.members.add(created.contact_list_id, generate(count))
        assert result.count == count, result
        await client.contact_lists.delete(created.contact_list_id)
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "count": count}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
