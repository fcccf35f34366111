"""What every resource namespace shares: the transport and the client's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._transport import Transport


class Resource:
    """Base of the namespaces; holds the client's transport."""

    __slots__ = ("_max_concurrency", "_transport")

    def __init__(self, transport: Transport, *, max_concurrency: int) -> None:
        self._transport = transport
        self._max_concurrency = max_concurrency

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
