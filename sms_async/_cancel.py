"""Cancellation that no library can lose, and cleanup that never holds the caller.

Some libraries catch a task's ``CancelledError`` and carry on (redis-py does,
now and then: redis/redis-py#2028, #2551). The task's cancellation is then
still *pending* -- ``asyncio.current_task().cancelling()`` counts it -- but
nothing raised it. After every await on a third-party library the SDK calls
``honour_cancellation()``, which raises it.

Cleanup that must not hold a cancelled caller (closing a response, giving a
lease back) goes to a ``Background`` set: bounded in time, kept referenced
until done, its failures logged rather than lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

from ._constants import LOGGER_NAME

__all__ = ["AsyncClosing", "Background", "honour_cancellation", "is_cancelling"]

logger = logging.getLogger(LOGGER_NAME)


def is_cancelling() -> bool:
    """Whether the current task has a cancellation pending (raised or not)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def honour_cancellation() -> None:
    """Raise ``CancelledError`` if the current task was cancelled and a library swallowed it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Background:
    """Cleanup tasks that run on their own, each bounded by a timeout."""

    __slots__ = ("_tasks", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Future[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], seconds: float) -> asyncio.Task[None]:
        """Run *work* in the background for at most *seconds*."""
        task = asyncio.ensure_future(self._bounded(work, seconds))
        self.adopt(task)
        return task

    async def _bounded(self, work: Coroutine[Any, Any, None], seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await work
        except TimeoutError:
            logger.debug("%s: background cleanup gave up after %g s", self.name, seconds)

    async def finish(self, work: Coroutine[Any, Any, None], seconds: float) -> None:
        """Run *work* to its end in a task of its own; a cancellation of the caller cannot cut it.

        The caller waits for it, unless the caller is (or gets) cancelled: then
        *work* goes on in the background for at most *seconds* more, and the
        cancellation propagates. Cheaper than ``spawn`` on the common path (no
        timeout is armed while the caller waits).
        """
        task = asyncio.get_running_loop().create_task(work)
        self.adopt(task)
        if not is_cancelling():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if task.done():
                    raise  # it ended (or was cancelled) itself: nothing to bound
                self._bound(task, seconds)
                raise
            return
        self._bound(task, seconds)

    @staticmethod
    def _bound(task: asyncio.Future[Any], seconds: float) -> None:
        """Cancel *task* if it is still running *seconds* from now."""
        deadline = asyncio.get_running_loop().call_later(seconds, task.cancel)
        task.add_done_callback(lambda _: deadline.cancel())

    def adopt(self, task: asyncio.Future[Any]) -> None:
        """Keep a reference to *task* until it ends; a failure is logged at DEBUG, not raised."""
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        # Retrieved, so never "Task exception was never retrieved": the caller is gone.
        if not task.cancelled() and task.exception() is not None:
            logger.debug("%s: background work failed: %r", self.name, task.exception())

    async def drain(self, seconds: float) -> None:
        """Wait up to *seconds* for the running cleanups, then cancel what is left."""
        if not self._tasks:
            return
        pending = set(self._tasks)
        _, late = await asyncio.wait(pending, timeout=seconds)
        for task in late:
            task.cancel()


class AsyncClosing:
    """``async with`` for an object with ``aclose()``: leaving the block closes it."""

    async def aclose(self) -> None:
        """Close the object."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
