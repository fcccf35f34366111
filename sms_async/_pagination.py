"""``AsyncPaginator``: async iteration over the API's offset/limit listings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ._models import Page

__all__ = ["AsyncPaginator", "PageFetcher"]

T = TypeVar("T")

#: Fetches the page at ``(offset, limit)`` of one listing.
PageFetcher = Callable[[int, int], Awaitable[Page[T]]]


class AsyncPaginator(Generic[T]):
    """Every item of a listing, page after page, in server order.

    ``async for item in paginator`` yields items; ``paginator.pages()`` yields
    ``Page`` objects. A paginator is a description of a listing: each iteration
    fetches it again from the start.
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
        self._concurrency = concurrency
        self._page_size = page_size
        self._max_items = max_items

    def __repr__(self) -> str:
        return f"<AsyncPaginator page_size={self._page_size} max_items={self._max_items}>"

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Yield each page in order; the last one is cut to ``max_items`` if set."""
        remaining = self._max_items
        for fetch in self._sources:
            offset = 0
            while remaining is None or remaining > 0:
                page = await fetch(offset, self._page_size)
                if remaining is not None and len(page.items) > remaining:
                    page = Page(page.items[:remaining], page.offset, page.total)
                if page.items:
                    yield page
                if remaining is not None:
                    remaining -= len(page.items)
                offset += len(page.items)
                if len(page.items) < self._page_size or offset >= page.total:
                    break
