"""``AsyncPaginator``: async iteration over the API's offset/limit listings.

The first page gives the listing's ``total``; the following pages are then
fetched ahead, up to ``concurrency`` requests in flight, and still yielded
strictly in order. Nothing is requested past ``total`` (or ``max_items``), and
a short or empty page ends the listing early. Leaving the loop, or cancelling
the consumer, cancels every request still in flight.

Offset pagination reads a moving target: if members are added or removed
while a listing is read, items can be skipped or seen twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ._models import Page
from ._validation import check_max_items, check_page_size

__all__ = ["AsyncPaginator", "PageFetcher"]

T = TypeVar("T")

#: Fetches the page at ``(offset, limit)`` of one listing.
PageFetcher = Callable[[int, int], Awaitable[Page[T]]]


class AsyncPaginator(Generic[T]):
    """Every item of a listing, page after page, in server order.

    ``async for item in paginator`` yields items; ``paginator.pages()`` yields
    ``Page`` objects. A paginator describes a listing: each iteration reads it
    again from the start. Pages after the first are fetched ahead, concurrently.
    """

    def __init__(
        self,
        sources: Sequence[PageFetcher[T]],
        *,
        page_size: int,
        max_items: int | None = None,
        concurrency: int = 1,
    ) -> None:
        self._sources = tuple(sources)
        self._page_size = check_page_size(page_size)
        self._max_items = check_max_items(max_items)
        self._concurrency = max(1, concurrency)

    def __repr__(self) -> str:
        return (
            f"<AsyncPaginator page_size={self._page_size} max_items={self._max_items} "
            f"concurrency={self._concurrency}>"
        )

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncGenerator[T]:
        async with contextlib.aclosing(self.pages()) as pages:
            async for page in pages:
                for item in page.items:
                    yield item

    async def pages(self) -> AsyncGenerator[Page[T]]:
        """Yield each page in order; the last one is cut to ``max_items`` if set."""
        remaining = self._max_items
        for fetch in self._sources:
            if remaining is not None and remaining <= 0:
                return
            async with contextlib.aclosing(self._source_pages(fetch, remaining)) as pages:
                async for page in pages:
                    if remaining is not None:
                        remaining -= len(page.items)
                    yield page

    async def _source_pages(
        self, fetch: PageFetcher[T], wanted: int | None
    ) -> AsyncGenerator[Page[T]]:
        """The pages of one listing: the first alone, then the rest prefetched."""
        size = self._page_size
        limit = size if wanted is None else min(size, wanted)
        first = await fetch(0, limit)
        if first.items:
            yield _cut(first, limit)
        end = first.total if wanted is None else min(first.total, wanted)
        if len(first.items) < limit or end <= limit:
            return
        # Lazy: a huge (or hostile) total costs nothing until pages are really fetched.
        plan = ((offset, min(size, end - offset)) for offset in range(limit, end, size))
        pending: deque[tuple[int, asyncio.Task[Page[T]]]] = deque()
        try:
            while True:
                while len(pending) < self._concurrency:
                    step = next(plan, None)
                    if step is None:
                        break
                    pending.append((step[1], asyncio.ensure_future(fetch(*step))))
                if not pending:
                    return
                page_limit, task = pending[0]
                page = await task
                pending.popleft()
                if page.items:
                    yield _cut(page, page_limit)
                if len(page.items) < page_limit:
                    return
        finally:
            for _, task in pending:
                task.cancel()
            if pending:
                await asyncio.wait([task for _, task in pending])


def _cut(page: Page[T], limit: int) -> Page[T]:
    if len(page.items) <= limit:
        return page
    return Page(page.items[:limit], page.offset, page.total)
