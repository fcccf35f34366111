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
    │   └── BulkAddAbortedError       stopped early: fatal error, or input or on_progress raised
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
    "BulkAddAbortedError",
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
        super().__init__(_account(result))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.result,))


class BulkAddAbortedError(BulkAddError):
    """``members.add`` stopped early; ``.result`` accounts for every member read.

    Raised when a batch failed with an error every later batch would meet too
    (``AuthenticationError``, ``PermissionDeniedError``, ``NotFoundError`` for the
    list, a closed client), or when the input iterator or ``on_progress``
    raised. The input was not read any further: the caller may continue from
    its iterator. The batches in flight were let finish first. ``__cause__`` is
    the error that stopped the upload.

    Attributes:
        result: The exact account of the members read: added, rejected, failed.
    """

    def __init__(self, result: AddMembersResult, reason: str = "the upload stopped early") -> None:
        self.result = result
        self.reason = reason
        SmsError.__init__(self, f"{reason}; {_account(result)}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.result, self.reason))


def _account(result: AddMembersResult) -> str:
    failed = sum(len(batch.members) for batch in result.failed)
    return (
        f"{len(result.failed)} batch(es) with {failed} member(s) failed; "
        f"{result.count} added, {len(result.invalid)} invalid "
        "(see .result.failed for the members and errors)"
    )


def may_have_been_acted_on(error: BaseException) -> bool:
    """Whether the request that failed with *error* may have been acted on by the server.

    ``False`` only when it certainly was not: it was never sent (a refused
    connection, no slot or connection in time, a closed client, a shared
    limiter that could not be reached, a check before sending), or the server
    answered that it did not act (429, 503, any other 4xx).
    """
    if isinstance(error, APIConnectionError):
        return error.request_sent
    if isinstance(error, APIError):
        status = error.status_code
        # Not acted on: 429, 503 and any other 4xx. Maybe: another 5xx, or a 2xx/3xx
        # answer that is malformed or does not account for the request.
        return not (status in (429, 503) or 400 <= status < 500)
    return not isinstance(error, LimiterUnavailableError | ValidationError | ConfigurationError)


class LimiterUnavailableError(SmsError):
    """A shared limiter could not reach its store (Redis), and was told to fail.

    Raised before the request is sent, so the request was never made. With
    ``on_redis_error="local"`` the limiter falls back to an in-process limit
    instead of raising.
    """
