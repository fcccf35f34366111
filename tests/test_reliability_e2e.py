"""End to end against the fake: injected 429/503 and dropped connections, on both backends.

The httpx backend talks to the fake in-process; the aiohttp backend (which
takes no httpx client) to the fake served on a loopback port, where a drop is
a closed socket.
"""

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sms_async import AsyncSmsClient, NewMember
from sms_async.testing import FakeSmsServer

MEMBERS = [NewMember(f"+86139{i:08d}", name=f"m{i}") for i in range(12_000)]


@contextlib.asynccontextmanager
async def client_of(
    fake: FakeSmsServer, http_backend: str, **options: Any
) -> AsyncIterator[AsyncSmsClient]:
    if http_backend == "httpx":
        async with fake.client(**options) as client:
            yield client
        return
    async with (
        fake.serve() as url,
        AsyncSmsClient(
            fake.sms_user,
            fake.sms_key,
            base_url=url,
            task_base_url=url,
            http_backend=http_backend,
            **options,
        ) as client,
    ):
        yield client


@pytest.mark.parametrize("seed", [1, 2])
async def test_12000_members_with_30_percent_429_and_503_are_stored_exactly_once(
    seed: int, http_backend: str
) -> None:
    fake = FakeSmsServer(seed=seed)
    target = fake.create_list("retries")
    fake.set_faults("members.add", rate_429=0.15, rate_503=0.15, retry_after=0.0)
    async with client_of(fake, http_backend, max_retries=10) as client:
        result = await client.members.add(target.contact_list_id, MEMBERS)
    stored = Counter(fake.get_list("retries").phones)
    assert result.count == 12_000
    assert result.invalid == []
    assert result.failed == []
    assert stored == Counter(m.phone for m in MEMBERS)  # every member, exactly once
    statuses = fake.stats.requests["members.add"]
    assert statuses > 12  # faults were injected and ridden through


@pytest.mark.parametrize("seed", [3, 4])
async def test_dropped_connections_never_duplicate_or_lose_a_member(
    seed: int, http_backend: str
) -> None:
    fake = FakeSmsServer(seed=seed)
    target = fake.create_list("drops")
    fake.set_faults("members.add", rate_drop=0.1, rate_drop_after=0.1)
    async with client_of(fake, http_backend) as client:
        result = await client.members.add(
            target.contact_list_id, MEMBERS, batch_size=500, raise_on_error=False
        )
    stored = Counter(fake.get_list("drops").phones)
    failed = Counter(m.phone for m in result.failed_members)
    assert result.failed, "the seed injects drops"
    assert max(stored.values()) == 1  # nothing stored twice
    for member in MEMBERS:
        assert stored[member.phone] == 1 or failed[member.phone] == 1  # nothing lost
    assert result.count + sum(failed.values()) == 12_000
    # a batch dropped after the server stored it is reported failed: it may be stored too
    assert sum(stored.values()) >= result.count
