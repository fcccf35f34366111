"""The seam between the transport and an HTTP stack: one exchange, sent and read.

The transport (``_transport.py``) decides *whether* and *when* to send (slots,
rate limit, deadline, retries); a backend sends one request and reads its
answer. Two backends exist: httpx's (``_http.py``, the default, and the only
one that takes a user's ``httpx.AsyncClient``) and aiohttp's
(``_aiohttp.py``). Each one:

- reads the body through ``Answers.read_body`` (the size cap and bounded
  inflation hold on both stacks);
- maps its own network failures to the SDK's errors through
  ``Answers.connection_error``, saying whether the request was *sent*: only a
  failure before the first byte of the request left (refused, unresolvable, no
  connection in time) is "not sent", and a POST is retried only then;
- marks ``SendProgress.sent`` when it begins to send, so that a whole-attempt
  deadline that fires mid-exchange is also classified exactly;
- closes what it opened even when the caller is cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import httpx

    from ._answers import Answers

__all__ = ["HTTP_BACKENDS", "Backend", "Outgoing", "Reply", "SendProgress"]

#: The names ``AsyncSmsClient(http_backend=...)`` accepts.
HTTP_BACKENDS: tuple[Literal["httpx"], Literal["aiohttp"]] = ("httpx", "aiohttp")

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"


class Outgoing:
    """One request as the transport describes it to a backend (immutable by convention)."""

    __slots__ = ("base", "content", "headers", "method", "params", "path")

    def __init__(
        self,
        method: str,
        base: str,
        path: str,
        headers: Mapping[str, str],
        *,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
    ) -> None:
        self.method = method
        self.base = base
        self.path = path
        self.headers = headers
        self.params = params
        self.content = content

    @property
    def url(self) -> str:
        """The URL without its query: the base URL (of the v1 API or the smsapi) and the path."""
        return self.base + self.path


class Reply:
    """A complete answer: status, what the transport needs of its headers, the body."""

    __slots__ = ("body", "reason", "retry_after", "status")

    def __init__(self, status: int, reason: str, retry_after: str | None, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        self.body = body


class SendProgress:
    """Whether a request has begun to be sent (set by the backend, read after a deadline).

    A request that timed out while it waited for a pooled connection, or while
    it connected, was never sent; one whose headers had started may have been.
    """

    __slots__ = ("sent",)

    def __init__(self, sent: bool = False) -> None:
        self.sent = sent

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        """Httpcore's ``trace`` extension."""
        if event.endswith("send_request_headers.started"):
            self.sent = True


class Backend(Protocol):
    """What the transport needs of an HTTP stack."""

    def request_timeout(self, timeout: httpx.Timeout | None) -> object:
        """The per-request timeout to pass to ``exchange`` (``timeout`` None: the default)."""

    async def exchange(
        self, request: Outgoing, answers: Answers, progress: SendProgress, phases: object
    ) -> Reply:
        """Send *request* with *phases* (from ``request_timeout``), read its answer.

        Raises the SDK's errors only.
        """

    @property
    def is_closed(self) -> bool:
        """Whether the stack was closed (by the SDK or, for a user's client, by its owner)."""

    async def aclose(self, *, close_stack: bool) -> None:
        """Finish background cleanup; close the stack when the SDK made it."""
