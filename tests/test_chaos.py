"""Chaos: thousands of cancellations at random points, on one client; it is never wedged.

Every public operation (a bulk upload, a prefetching listing, single calls,
``tasks.wait``) is cancelled at a random point, by ``task.cancel()`` or by an
``asyncio.timeout``, many at a time, on one client talking to the fake over a
real loopback socket with faults. Afterwards the client still serves a call
and ``max_concurrency`` concurrent calls, no task of the SDK is left behind,
and nothing is in flight at the fake.

``SMS_ASYNC_CHAOS_CANCELS`` scales the run (``nox -s soak`` runs 100 000).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from sms_async import AsyncSmsClient
from sms_async.testing import FakeClock, FakeSmsServer

from .testing.conftest import KEY, T0, USER

CANCELS = int(os.environ.get("SMS_ASYNC_CHAOS_CANCELS", "2000"))
SEED = int(os.environ.get("SMS_ASYNC_CHAOS_SEED", "20261125"))
CONCURRENCY = 4
#: Operations started (and cancelled) together in each round.
AT_ONCE = 3
PHONES = [f"+86138{n:08d}" for n in range(3000)]

Op = Callable[[], Awaitable[object]]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeSmsServer, str]]:
    """The fake on a loopback port, in its own thread: the client's loop holds only SDK work."""
    fake = FakeSmsServer(USER, KEY, clock=FakeClock(T0), seed=SEED)
    with fake.serve_in_thread() as url:
        yield fake, url


def _written(phone: str) -> str:
    """*phone* (``+86138...``) as people write it in China: ``138 0000 0001``."""
    return f"{phone[3:6]} {phone[6:10]} {phone[10:]}"


def _operations(client: AsyncSmsClient, list_id: int, task_id: int, rng: random.Random) -> list[Op]:
    async def upload() -> object:
        start = rng.randrange(len(PHONES))
        phones = (PHONES[(start + i) % len(PHONES)] for i in range(2500))
        # half of the uploads read a list, a chunk at a time; the others a generator
        listed = rng.random() < 0.5
        if client.default_region is not None:  # half of them written nationally, deduped
            members = ({"phone": _written(p) if rng.random() < 0.5 else p} for p in phones)
            return await client.members.add(
                list_id,
                list(members) if listed else members,
                batch_size=500,
                raise_on_error=False,
                dedupe=True,
            )
        members = ({"phone": p} for p in phones)
        return await client.members.add(
            list_id, list(members) if listed else members, batch_size=500, raise_on_error=False
        )

    async def listing() -> object:
        return [member async for member in client.members.list(list_id, page_size=50)]

    async def single() -> object:
        return await client.tasks.get(task_id)

    async def update() -> object:
        return await client.contact_lists.update(list_id, description=f"d{rng.randrange(100)}")

    async def wait() -> object:
        return await client.tasks.wait(task_id, poll_interval=0.001)

    return [upload, listing, single, update, wait]


async def _cancel_at_random(op: Op, rng: random.Random) -> None:
    """Run *op* and cancel it at a random point; it must end promptly either way."""
    how = rng.random()
    if how < 0.35:
        task = asyncio.ensure_future(op())
        for _ in range(rng.randrange(80)):  # a random number of event-loop turns
            await asyncio.sleep(0)
        task.cancel()
    elif how < 0.7:
        task = asyncio.ensure_future(op())
        await asyncio.wait([task], timeout=rng.uniform(0, 0.01))
        task.cancel()
    else:

        async def under_timeout() -> None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(rng.uniform(0, 0.01)):
                    await op()

        task = asyncio.ensure_future(under_timeout())
    done, _ = await asyncio.wait([task], timeout=10)
    assert done, "a cancelled operation did not end within 10 s"
    if not task.cancelled():
        error = task.exception()
        # An operation that ended before its cancellation may fail on an injected
        # fault (a dropped POST is not retried); anything else is a bug.
        if error is not None:
            from sms_async import SmsError

            assert isinstance(error, SmsError), repr(error)


async def _drained(fake: FakeSmsServer) -> bool:
    """Wait (bounded) until the fake has nothing in flight."""
    deadline = time.monotonic() + 10
    # The fake runs in another thread: poll its counter (bounded), no event to wait on.
    while fake.stats.in_flight and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    return fake.stats.in_flight == 0


# 2 000 cancellations take ~20 s on a 2-core machine; the soak run scales them up.
@pytest.mark.timeout(max(120, CANCELS // 50))
# with default_region, uploads normalize (and dedupe) phones written as people write them
@pytest.mark.parametrize("region", [None, pytest.param("CN", id="default_region")])
async def test_one_client_survives_thousands_of_cancellations(
    served: tuple[FakeSmsServer, str], http_backend: str, region: str | None
) -> None:
    fake, url = served
    rng = random.Random(SEED)
    fake.set_faults(
        latency=0.0,
        latency_jitter=0.004,
        rate_429=0.03,
        retry_after=0.0,
        rate_503=0.03,
        rate_drop=0.01,
        rate_drop_after=0.01,
    )
    before = len(asyncio.all_tasks())
    async with AsyncSmsClient(
        USER,
        KEY,
        base_url=url,
        task_base_url=url,
        max_concurrency=CONCURRENCY,
        timeout=5,
        http_backend=http_backend,
        default_region=region,
    ) as client:
        fake.clear_faults()
        name = f"chaos-{http_backend}-{region}"
        created = await client.contact_lists.create(contact_list_name=name)
        await client.members.add(created.contact_list_id, ({"phone": p} for p in PHONES[:400]))
        sent = await client.tasks.send(
            contact_list_name=name,
            task_name="chaos",
            template_id=1,
            sender_name="chaos",
        )
        task_id = sent.task_id
        fake.set_faults(latency_jitter=0.004, rate_429=0.03, retry_after=0.0, rate_503=0.03)
        fake.set_faults(rate_drop=0.01, rate_drop_after=0.01)
        operations = _operations(client, created.contact_list_id, task_id, rng)
        for _ in range(CANCELS // AT_ONCE + 1):
            await asyncio.gather(
                *(_cancel_at_random(rng.choice(operations), rng) for _ in range(AT_ONCE))
            )

        fake.clear_faults()
        # A plain call works, and so do max_concurrency calls at once.
        async with asyncio.timeout(10):
            assert (await client.tasks.get(task_id)).task_id == task_id
            gets = [client.tasks.get(task_id) for _ in range(CONCURRENCY)]
            assert len(await asyncio.gather(*gets)) == CONCURRENCY
    assert await _drained(fake)
    leftover = [task for task in asyncio.all_tasks() if not task.done()]
    assert len(leftover) <= before, [task.get_name() for task in leftover]
