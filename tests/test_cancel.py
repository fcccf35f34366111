"""Background cleanup: `finish` runs work to its end, whoever cancels the caller."""

from __future__ import annotations

import asyncio

import pytest

from sms_async._cancel import Background


async def test_finish_waits_for_the_work_when_the_caller_is_not_cancelled() -> None:
    done: list[str] = []

    async def work() -> None:
        await asyncio.sleep(0)
        done.append("closed")

    background = Background("test")
    await background.finish(work(), 5.0)
    assert done == ["closed"]
    assert len(background) == 0


async def test_a_cancelled_caller_leaves_the_work_running_to_its_end() -> None:
    release = asyncio.Event()
    done: list[str] = []

    async def work() -> None:
        await release.wait()
        done.append("closed")

    background = Background("test")
    caller = asyncio.ensure_future(background.finish(work(), 5.0))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert len(background) == 1  # the work goes on, kept referenced
    release.set()
    await background.drain(5.0)
    assert done == ["closed"]


async def test_work_left_behind_by_a_cancelled_caller_is_bounded() -> None:
    never = asyncio.Event()
    cancelled: list[bool] = []

    async def work() -> None:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    background = Background("test")
    caller = asyncio.ensure_future(background.finish(work(), 0.01))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    left = set(background._tasks)
    assert len(left) == 1
    _, pending = await asyncio.wait(left, timeout=5)  # the bound (0.01 s) cancels it first
    assert not pending
    assert cancelled == [True]
    assert len(background) == 0
