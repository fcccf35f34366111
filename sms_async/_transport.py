"""The one place that sends a request.

The transport has two rooms. This one sends: the Basic header and the smsapi
signature, the concurrency cap and the rate limit, the whole-attempt
deadline, retries and backoff, logging. ``_answers.py`` reads what came back:
the body within its cap, decoding, the mapping of statuses, API codes and
network failures to typed errors, and the masking of secrets (given to it
explicitly: the client's, and each smsapi request's signature). Resource
modules only describe endpoints.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

import httpx

from ._answers import Answers
from ._auth import basic_auth_header, sign_params
from ._cancel import honour_cancellation
from ._constants import LOGGER_NAME, RETRY_AFTER_MAX
from ._decoders import accept_encoding
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ValidationError,
)
from ._exchange import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    Backend,
    Outgoing,
    Reply,
    SendProgress,
)
from ._json import dumps, encodable
from ._limits import ConcurrencyLimiter, RateLimiter
from ._policy import (
    RETRY_STATUSES_IDEMPOTENT,
    RETRY_STATUSES_UNSAFE,
    LoopBinding,
    attempt_deadline,
    backoff,
    retry_wait_scale,
)
from ._version import __version__

__all__ = ["Transport"]

T = TypeVar("T")

logger = logging.getLogger(LOGGER_NAME)

_JSON_HEADERS = {"Content-Type": JSON_CONTENT_TYPE}
_FORM_HEADERS = {"Content-Type": FORM_CONTENT_TYPE}


def _sendable(value: object) -> bool:
    return isinstance(value, str) and encodable(value)


def _encode_json(body: Any) -> bytes:
    """Encode a request body, or raise ``ValidationError`` (with no chained exception)."""
    try:
        return dumps(body)
    except (TypeError, ValueError, RecursionError) as exc:
        problem = type(exc).__name__
    raise ValidationError(
        f"the request body cannot be encoded as JSON ({problem}): "
        "text with a lone surrogate, values nested too deeply, or values JSON does not have"
    )


class Transport:
    """Sends the SDK's requests; one per client. Not part of the public API."""

    def __init__(
        self,
        *,
        sms_user: str,
        sms_key: str,
        base_url: str,
        task_base_url: str,
        backend: Backend,
        default_timeout: httpx.Timeout,
        max_retries: int,
        signature_method: str,
        concurrency: ConcurrencyLimiter,
        rate_limiter: RateLimiter | None,
        request_timeout: httpx.Timeout | None = None,
    ) -> None:
        self._sms_user = sms_user
        self._sms_key = sms_key
        self._base_url = base_url
        self._task_base_url = task_base_url
        self._backend = backend
        self._max_retries = max_retries
        self._signature_method = signature_method
        self._concurrency = concurrency
        self._rate_limiter = rate_limiter
        # Set per request only when it must override the stack's own timeout.
        self._request_timeout = backend.request_timeout(request_timeout)
        self._deadline = attempt_deadline(
            request_timeout if request_timeout is not None else default_timeout
        )
        self._loop = LoopBinding()
        authorization = basic_auth_header(sms_user, sms_key)
        encodings = accept_encoding()
        self._answers = Answers((sms_key, authorization.removeprefix("Basic ")))
        self._v1_headers = {
            "Authorization": authorization,
            "User-Agent": f"sms-async/{__version__}",
            "Accept": "application/json",
            "Accept-Encoding": encodings,
        }
        self._smsapi_headers = {
            "User-Agent": f"sms-async/{__version__}",
            "Accept": "application/json",
            "Accept-Encoding": encodings,
            **_FORM_HEADERS,
        }

    def __repr__(self) -> str:
        return f"<Transport {self._base_url} {self._task_base_url}>"

    def derive(
        self, *, request_timeout: httpx.Timeout | None, max_retries: int | None
    ) -> Transport:
        """A transport sharing this one's connections, limits and event loop, other options."""
        derived = copy.copy(self)
        if request_timeout is not None:
            derived._request_timeout = self._backend.request_timeout(request_timeout)
            derived._deadline = attempt_deadline(request_timeout)
        if max_retries is not None:
            derived._max_retries = max_retries
        return derived

    def bind_loop(self) -> None:
        """Bind to the running event loop, if any (a client made inside a loop)."""
        self._loop.bind()

    # --- public entry points for the resources ----------------------------------------

    async def v1(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[Any], T],
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
    ) -> T:
        """Send a v1 REST request and return *parse* applied to the JSON body.

        GET, PUT and DELETE are treated as safe to repeat; POST is not.
        """
        headers = self._v1_headers
        content = None
        if json_body is not None:
            content = _encode_json(json_body)
            headers = {**headers, **_JSON_HEADERS}
        request = Outgoing(method, self._base_url, path, headers, params=params, content=content)
        answers = self._answers
        status, body = await self._send(request, answers, idempotent=method != "POST")
        data = answers.decode(status, body)
        if isinstance(data, dict) and "code" in data and not {"result", "count"} & data.keys():
            raise answers.body_error(
                status, data, body, code_field="code", fallback="error reported in body"
            )
        return answers.parse(parse, data, status, body)

    async def smsapi(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        parse: Callable[[Any], T],
        idempotent: bool,
    ) -> T:
        """Send a signed smsapi request (form POST) and return *parse* applied to the body.

        ``result`` and ``statusCode`` of the envelope are checked here.
        """
        signed = {"smsUser": self._sms_user, **params}
        # Checked before signing: a value that cannot be encoded would otherwise fail
        # inside the signing, in an exception holding the signing string (and the key).
        unsendable = next((name for name, value in signed.items() if not _sendable(value)), None)
        if unsendable is not None:
            raise ValidationError(
                f"{unsendable} must be text that can be encoded as UTF-8 (no lone surrogate)"
            )
        signed["signature"] = sign_params(signed, self._sms_key, self._signature_method)
        request = Outgoing(
            "POST",
            self._task_base_url,
            path,
            self._smsapi_headers,
            content=urlencode(signed).encode("ascii"),
        )
        # Errors of this request mask its signature too (a server may echo it).
        answers = self._answers.for_signature(signed["signature"])
        status, body = await self._send(request, answers, idempotent=idempotent)
        data = answers.decode(status, body)
        if not isinstance(data, dict) or not isinstance(data.get("result"), bool):
            raise answers.malformed(
                status, body, "expected an smsapi envelope with a boolean result"
            )
        if data["result"] is not True:
            raise answers.body_error(
                status,
                data,
                body,
                code_field="statusCode",
                fallback="smsapi returned result false",
                smsapi=True,
            )
        return answers.parse(parse, data, status, body)

    @property
    def is_closed(self) -> bool:
        """Whether the client was closed (or its httpx client was): nothing more is sent."""
        return self._loop.closed or self._backend.is_closed

    def _check_open(self, method: str, path: str) -> None:
        if self.is_closed:
            raise APIConnectionError(
                f"{method} {path}: the client is closed",
                method=method,
                path=path,
                request_sent=False,
            )

    async def aclose(self, *, close_http: bool) -> None:
        """Refuse further requests, let background cleanup finish, close what the SDK owns.

        The HTTP stack is closed only when the SDK made it.
        """
        self._loop.closed = True
        await self._backend.aclose(close_stack=close_http)

    # --- sending, with retries ---------------------------------------------------------

    async def _send(
        self, request: Outgoing, answers: Answers, *, idempotent: bool
    ) -> tuple[int, bytes]:
        """Send *request*, retrying what the policy allows.

        The loop is the SDK's own, not a retry library's: its behaviour depends
        on this client's options alone, never on process-wide switches that any
        other code (a test suite, another library) may have flipped.
        """
        attempt = 0
        while True:
            try:
                return await self._send_once(request, answers)
            except (APIConnectionError, APIError) as exc:
                attempt += 1
                wait = self._retry_decision(exc, request.method, request.path, attempt, idempotent)
                if wait is False:
                    raise
            await asyncio.sleep(wait * retry_wait_scale())

    def _retry_decision(
        self, exc: Exception, method: str, path: str, attempt: int, idempotent: bool
    ) -> Literal[False] | float:
        """Return False to give up on *exc*, or the seconds to wait before the next attempt."""
        if attempt > self._max_retries or self.is_closed:
            return False  # out of attempts, or aclose() ran: nothing more will be sent
        retry_after: float | None = None
        if isinstance(exc, APIConnectionError):
            if not idempotent and exc.request_sent:
                return False  # the server may have acted: never send twice
            reason = f"{type(exc.__cause__).__name__}" if exc.__cause__ else type(exc).__name__
        elif isinstance(exc, APIError):
            allowed = RETRY_STATUSES_IDEMPOTENT if idempotent else RETRY_STATUSES_UNSAFE
            if exc.status_code not in allowed:
                return False
            retry_after = exc.retry_after
            if retry_after is not None and retry_after > RETRY_AFTER_MAX:
                return False  # raise it with .retry_after rather than sleep that long
            reason = f"HTTP {exc.status_code}"
        else:
            return False
        wait = retry_after if retry_after is not None else backoff(attempt)
        logger.warning(
            "retrying %s %s after %s (attempt %d of %d) in %.2f s",
            method,
            path,
            reason,
            attempt + 1,
            self._max_retries + 1,
            wait,
        )
        return wait

    async def _send_once(self, request: Outgoing, answers: Answers) -> tuple[int, bytes]:
        """One attempt: a slot, the rate limit, the exchange, the body; all within the deadline.

        The deadline runs from waiting for the slot to the last byte of the body;
        giving the slot back is not part of it (a finished request is not failed
        by a slow release).
        """
        method, path = request.method, request.path
        loop = self._loop.running(asyncio.get_running_loop())
        when = None if self._deadline is None else loop.time() + self._deadline
        slot = self._concurrency.slot()
        progress = SendProgress()
        deadline: asyncio.Timeout | None = None
        held = False
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(when) as deadline:
                await slot.__aenter__()
                held = True
                honour_cancellation()
                if self._rate_limiter is not None:
                    await self._rate_limiter.acquire()
                    honour_cancellation()
                # The one check that the client is open: aclose() may also have run while
                # this request waited for its slot or its retry.
                self._check_open(method, path)
                started = time.perf_counter()
                reply: Reply = await self._backend.exchange(
                    request, answers, progress, self._request_timeout
                )
        except BaseException as exc:
            if held:
                await slot.__aexit__(type(exc), exc, exc.__traceback__)
            if isinstance(exc, TimeoutError) and deadline is not None and deadline.expired():
                raise self._deadline_error(method, path, sent=progress.sent) from None
            if isinstance(exc, APIConnectionError) and exc.__cause__ is not None:
                self._log_request(method, path, type(exc.__cause__).__name__, started)
            raise
        await slot.__aexit__(None, None, None)
        status = reply.status
        self._log_request(method, path, status, started)
        if status >= 400 or status < 200:
            raise answers.status_error(reply)
        # A 3xx is not followed (the API never redirects): its body then fails to
        # parse and surfaces as a MalformedResponseError with that status.
        return status, reply.body

    def _deadline_error(self, method: str, path: str, *, sent: bool) -> APITimeoutError:
        where = "before it was sent" if not sent else "before its answer was read"
        return APITimeoutError(
            f"{method} {path} timed out {where} (the whole attempt is bounded by "
            f"timeout={self._deadline:g} s)",
            method=method,
            path=path,
            request_sent=sent,
        )

    def _log_request(self, method: str, path: str, outcome: object, started: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            logger.debug("%s %s -> %s in %.1f ms", method, path, outcome, elapsed)
