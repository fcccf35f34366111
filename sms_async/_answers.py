"""Reading an answer: the body within its cap, decoding, typed errors, and masking.

The transport (``_transport.py``) sends; this module turns what came back into
data or into one of the SDK's exceptions. Every text a server sent that ends
up in an exception (messages, body excerpts, network errors) is masked here,
for the secrets an ``Answers`` was given: the key and the Basic token, and,
for an smsapi request, its signature (``for_signature``).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import AsyncIterable, Callable
from datetime import UTC
from typing import Any, TypeVar

from ._cancel import honour_cancellation
from ._constants import BODY_EXCERPT_CHARS, MAX_MESSAGE_CHARS, MAX_RESPONSE_BYTES
from ._decoders import BadEncoding, BodyTooLarge, BoundedBody, UnsupportedEncoding
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from ._exchange import Reply
from ._json import loads
from ._redact import Redactor

__all__ = ["Answers", "describe_structure_error", "error_class", "parse_retry_after"]

T = TypeVar("T")

# v1 API codes, and smsapi statusCodes, by the error they mean.
_CODE_UNAUTHORIZED = 30000
_CODE_LIST_NOT_FOUND = 35002
_SMSAPI_AUTH = frozenset({421, 422, 471, 472, 474})
_SMSAPI_PERMISSION = frozenset({473, 601})
_SMSAPI_RATE = frozenset({496, 498})
_SMSAPI_SERVER = frozenset({501})

#: A failure whose message says the object does not exist: the API's codes for a
#: missing member or task are not documented, so the meaning maps them too.
_MISSING = re.compile(r"does ?n[o']t exist|not exist|not found|no such|不存在", re.IGNORECASE)


class _Shared:
    """The redactor of one client's secrets, built on the first error (it costs ~2 ms)."""

    __slots__ = ("_redactor", "secrets")

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        self._redactor: Redactor | None = None

    @property
    def redactor(self) -> Redactor:
        if self._redactor is None:
            self._redactor = Redactor(self.secrets)
        return self._redactor


class Answers:
    """Reads the answers of one client's requests; masks its secrets in every error."""

    __slots__ = ("_shared", "_signature")

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._shared = _Shared(secrets)
        self._signature: str | None = None

    def for_signature(self, signature: str) -> Answers:
        """The same reader, masking an smsapi request's *signature* as well."""
        reader = Answers.__new__(Answers)
        reader._shared = self._shared
        reader._signature = signature
        return reader

    # --- the body ----------------------------------------------------------------------

    async def read_body(
        self,
        status: int,
        content_length: str | None,
        content_encoding: str | None,
        chunks: AsyncIterable[bytes],
    ) -> bytes:
        """The body, inflated within the size cap, honouring a cancellation after each read.

        *content_length* and *content_encoding* are the response's headers (or
        ``None``); *chunks* are the raw (still encoded) bytes as they arrive.
        """
        if content_length and content_length.isdigit() and int(content_length) > MAX_RESPONSE_BYTES:
            raise self.too_large(status)
        failure: MalformedResponseError
        try:
            body = BoundedBody(content_encoding, MAX_RESPONSE_BYTES)
            async for chunk in chunks:
                honour_cancellation()
                body.feed(chunk)
            honour_cancellation()
            return body.finish()
        except BodyTooLarge:
            failure = self.too_large(status)
        except UnsupportedEncoding as exc:
            failure = self.malformed(status, b"", f"unsupported Content-Encoding {str(exc)[:40]!r}")
        except BadEncoding as exc:
            failure = self.malformed(status, b"", f"the body could not be inflated ({exc})")
        raise failure

    def too_large(self, status: int) -> MalformedResponseError:
        """The error of a body over the cap (never read past it)."""
        return MalformedResponseError(
            f"response body larger than {MAX_RESPONSE_BYTES} bytes", status_code=status
        )

    # The decoder's and the parser's errors hold the body (a JSONDecodeError's .doc,
    # a cattrs error's values), which a hostile server may fill with echoed secrets:
    # the errors below are raised outside their except blocks, so that neither is
    # chained to them, not even as __context__.

    def decode(self, status: int, body: bytes) -> Any:
        """The JSON of *body*, or ``MalformedResponseError``."""
        if not body.strip():
            raise self.malformed(status, body, "empty body")
        try:
            return loads(body)
        except (ValueError, RecursionError):
            pass
        raise self.malformed(status, body, "body is not JSON")

    def parse(self, parse: Callable[[Any], T], data: Any, status: int, body: bytes) -> T:
        """*parse* applied to *data*, or ``MalformedResponseError`` naming what did not fit."""
        try:
            return parse(data)
        except Exception as exc:  # any mismatch of shape or type: cattrs, KeyError, ...
            why = describe_structure_error(exc)
        raise self.malformed(status, body, why)

    def malformed(self, status: int, body: bytes, why: str) -> MalformedResponseError:
        """A success status whose body is not the documented JSON."""
        return MalformedResponseError(
            f"unexpected response: {why}", status_code=status, body=self.excerpt(body)
        )

    # --- errors ------------------------------------------------------------------------

    def status_error(self, reply: Reply) -> APIError:
        """The error of an error status (4xx, 5xx, 1xx)."""
        status, body = reply.status, reply.body
        retry_after = parse_retry_after(reply.retry_after)
        try:
            data = loads(body)
        except (ValueError, RecursionError):
            data = None
        fallback = f"HTTP {status} {reply.reason}".strip()
        if not isinstance(data, dict) and body:
            fallback += " with a non-JSON body"
        return self.body_error(
            status, data, body, code_field="code", fallback=fallback, retry_after=retry_after
        )

    def body_error(
        self,
        status: int,
        data: object,
        body: bytes,
        *,
        code_field: str,
        fallback: str,
        smsapi: bool = False,
        retry_after: float | None = None,
    ) -> APIError:
        """The error a body reports: its code (``code`` or ``statusCode``) and message."""
        code = data.get(code_field) if isinstance(data, dict) else None
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        message = data.get("message") if isinstance(data, dict) else None
        text = self.message(message) if isinstance(message, str) else fallback
        return error_class(status, code, smsapi=smsapi, message=text)(
            text, status_code=status, code=code, body=self.excerpt(body), retry_after=retry_after
        )

    def connection_error(
        self, exc: Exception, method: str, path: str, *, sent: bool, timeout: bool
    ) -> APIConnectionError:
        """The SDK's error for a network failure *exc* of an HTTP stack.

        *exc* is scrubbed to be fit as its ``__cause__``: its text masked, its
        own chain dropped (a backend drops what else it holds: a request with
        the Authorization header). *sent* says whether the request may have
        reached the server; *timeout* whether a phase of it timed out.
        """
        exc.args = tuple(self.redact(a) if isinstance(a, str) else a for a in exc.args)
        exc.__cause__ = None
        exc.__context__ = None
        exc.__suppress_context__ = True
        detail = self.message(str(exc)) or type(exc).__name__
        if timeout:
            return APITimeoutError(
                f"{method} {path} timed out ({type(exc).__name__}: {detail})",
                method=method,
                path=path,
                request_sent=sent,
            )
        return APIConnectionError(
            f"{method} {path} failed: {type(exc).__name__}: {detail}",
            method=method,
            path=path,
            request_sent=sent,
        )

    # --- masking -----------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """Mask every spelling of the key, the Basic token and the signature in *text*."""
        return self._shared.redactor.with_secret(self._signature)(text)

    def excerpt(self, body: bytes, limit: int = BODY_EXCERPT_CHARS) -> str:
        """The first *limit* characters of *body*, masked before the cut."""
        window = 4 * self._window(limit)  # bytes: up to 4 per character
        text = body[:window].decode("utf-8", "replace")
        return self._masked_cut(text, limit, truncated=len(body) > window)

    def message(self, text: str) -> str:
        """A server's message, masked and capped at ``MAX_MESSAGE_CHARS``."""
        window = self._window(MAX_MESSAGE_CHARS)
        return self._masked_cut(text[:window], MAX_MESSAGE_CHARS, truncated=len(text) > window)

    def _window(self, limit: int) -> int:
        """Characters to mask so that a cut at *limit* can show no part of a secret."""
        return 2 * (limit + self._shared.redactor.max_length + 128)

    def _masked_cut(self, text: str, limit: int, *, truncated: bool) -> str:
        """*text* masked, then cut at *limit*.

        Masking first means no part of a secret that straddles the cut can show.
        When *text* is a window of a longer text, its last characters may hold the
        start of a secret the window cut off: those are dropped before the cut.
        """
        masked = self.redact(text)
        if truncated:
            masked = masked[: max(0, len(masked) - self._shared.redactor.max_length)]
        return masked[:limit]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for, or ``None`` if absent or unreadable.

    Accepts delay-seconds and HTTP dates; a date in the past gives ``0.0``.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


def describe_structure_error(exc: Exception) -> str:
    """Describe a structuring failure by path and expected type, never by value."""
    import cattrs

    if isinstance(exc, cattrs.BaseValidationError):
        return "body does not match the documented shape: " + "; ".join(cattrs.transform_error(exc))
    return f"body does not match the documented shape ({type(exc).__name__})"


def error_class(
    status: int, code: int | None, *, smsapi: bool, message: str = ""
) -> type[APIError]:
    """Pick the exception class for an HTTP status, an API code and the server's message."""
    if smsapi and code is not None:
        if code in _SMSAPI_AUTH:
            return AuthenticationError
        if code in _SMSAPI_PERMISSION:
            return PermissionDeniedError
        if code in _SMSAPI_RATE:
            return RateLimitError
        if code in _SMSAPI_SERVER:
            return ServerError
    if status == 401 or code == _CODE_UNAUTHORIZED:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404 or code == _CODE_LIST_NOT_FOUND:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    if (status == 400 or (smsapi and status < 400)) and _MISSING.search(message):
        return NotFoundError
    if 400 <= status < 500 or (smsapi and status < 400):
        return BadRequestError
    return APIError
