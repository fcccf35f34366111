"""End to end against the in-process fake: injected 429/503 and dropped connections."""

from collections import Counter

import pytest

from sms_async import NewMember
from sms_async.testing import FakeSmsServer

MEMBERS = [NewMember(f"+86139{i:08d}", name=f"m{i}") for i in range(12_000)]


@pytest.mark.parametrize("seed", [1, 2])
async def test_12000_members_with_30_percent_429_and_503_are_stored_exactly_once(seed: int) -> None:
    fake = FakeSmsServer(seed=seed)
    target = fake.create_list("retries")
    fake.set_faults("members.add", rate_429=0.15, rate_503=0.15, retry_after=0.0)
    async with fake.client(max_retries=10) as client:
        result = await client.members.add(target.contact_list_id, MEMBERS)
    stored = Counter(fake.get_list("retries").phones)
    assert result.count == 12_000
    assert result.invalid == []
    assert result.failed == []
    assert stored == Counter(m.phone for m in MEMBERS)  # every member, exactly once
    statuses = fake.stats.requests["members.add"]
    assert statuses > 12  # faults were injected and ridden through


@pytest.mark.parametrize("seed", [3, 4])
async def test_dropped_connections_never_duplicate_or_lose_a_member(seed: int) -> None:
    fake = FakeSmsServer(seed=seed)
    target = fake.create_list("drops")
    fake.set_faults("members.add", rate_drop=0.1, rate_drop_after=0.1)
    async with fake.client() as client:
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
