"""The exceptions raised by sms_async.

Every failure a caller can cause or meet is one of these::

    SmsError
    ├── ConfigurationError            missing credentials, bad option values
    ├── ValidationError (ValueError)  bad arguments, caught before any request
    ├── APIConnectionError            network failures
    │   └── APITimeoutError
    ├── APIError                      .status_code, .code, .message, .body
    │   ├── AuthenticationError       HTTP 401 / code 30000 / smsapi 421, 422, 471, 472, 474
    │   ├── PermissionDeniedError     HTTP 403 / smsapi 473, 601
    │   ├── NotFoundError             HTTP 404 / code 35002
    │   ├── BadRequestError           other 4xx / other smsapi failures
    │   ├── RateLimitError            HTTP 429 / smsapi 496, 498; .retry_after
    │   ├── ServerError               HTTP >= 500 / smsapi 501
    │   └── MalformedResponseError    a success status with a body that is not the documented JSON
    ├── BulkAddError                  .result: the AddMembersResult
    └── LimiterUnavailableError       a shared limiter's store (Redis) cannot be reached

No message, ``repr`` or ``str`` of these carries the ``sms_key``, the
Authorization header or a signature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._models import AddMembersResult

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BulkAddError",
    "ConfigurationError",
    "LimiterUnavailableError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "SmsError",
    "ValidationError",
]


class SmsError(Exception):
    """Base class of every exception raised by sms_async."""


class ConfigurationError(SmsError):
    """The client was configured wrongly: missing credentials or a bad option value."""


class ValidationError(SmsError, ValueError):
    """An argument breaks one of the API's rules; raised before any request is sent."""


class APIConnectionError(SmsError):
    """The request could not be completed: the connection failed or was lost.

    Attributes:
        method: The HTTP method of the request.
        path: The URL path of the request (never the query: it may hold a signature).
        request_sent: ``False`` when the request certainly never reached the server
            (the connection was refused, no connection or slot came free in time,
            the client was closed); ``True`` when it may have been acted on.
    """

    def __init__(
        self, message: str, *, method: str = "", path: str = "", request_sent: bool = True
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """The request timed out: one phase, or the whole attempt, outlasted ``timeout``.

    A phase is connecting, writing, reading, or waiting for a pooled connection;
    the whole attempt runs from waiting for a slot to the last byte of the body.
    """


class APIError(SmsError):
    """The server answered with an error, or with a body that is not the documented JSON.

    Attributes:
        status_code: The HTTP status of the response.
        code: The API's own error code (``code`` of the v1 API, ``statusCode`` of the
            smsapi), or ``None`` when the body carried none.
        message: The server's message, or a description of what was wrong with the body.
        body: The first 200 characters of the response body.
        retry_after: Seconds the server asked to wait (``Retry-After``), else ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: int | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.code = code
        self.body = body
        self.retry_after = retry_after
        super().__init__(self._format())

    def _format(self) -> str:
        code = f", code {self.code}" if self.code is not None else ""
        text = f"{self.message} (HTTP {self.status_code}{code})"
        if self.retry_after is not None:
            text += f"; retry after {self.retry_after:g} s"
        if self.body:
            text += f"; body: {self.body!r}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[APIError], message: str, state: dict[str, object]) -> APIError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    Exception.__init__(err, err._format())
    return err


class AuthenticationError(APIError):
    """The credentials or the signature were refused (HTTP 401, code 30000, smsapi 42x/47x)."""


class PermissionDeniedError(APIError):
    """The account may not do this (HTTP 403, smsapi 473 or 601)."""


class NotFoundError(APIError):
    """The contact list or member does not exist (HTTP 404 or code 35002)."""


class BadRequestError(APIError):
    """The server refused the request's content (any other 4xx, or another smsapi failure)."""


class RateLimitError(APIError):
    """Too many requests (HTTP 429, smsapi 496 or 498).

    ``retry_after`` holds the seconds the server asked to wait, when it said.
    """


class ServerError(APIError):
    """The server failed (HTTP 5xx or smsapi 501)."""


class MalformedResponseError(APIError):
    """A response whose body is not the documented JSON.

    Raised for success (and unexpected 3xx) statuses with HTML pages, empty or
    truncated bodies, or JSON of the wrong shape or types; and, whatever the
    status, for bodies larger than the SDK reads (16 MiB), which are not read.
    """


class BulkAddError(SmsError):
    """Some batches of ``members.add`` failed; nothing was lost.

    Attributes:
        result: The full account of the upload: what was added, rejected and failed.
            Each failed batch carries its members, so they can be sent again.
    """

    def __init__(self, result: AddMembersResult) -> None:
        self.result = result
        failed = sum(len(batch.members) for batch in result.failed)
        super().__init__(
            f"{len(result.failed)} batch(es) with {failed} member(s) failed; "
            f"{result.count} added, {len(result.invalid)} invalid "
            "(see .result.failed for the members and errors)"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.result,))


class LimiterUnavailableError(SmsError):
    """A shared limiter could not reach its store (Redis), and was told to fail.

    Raised before the request is sent, so the request was never made. With
    ``on_redis_error="local"`` the limiter falls back to an in-process limit
    instead of raising.
    """
