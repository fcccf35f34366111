"""``AsyncSmsClient``: options, lifecycle and the resource namespaces."""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any, Literal

import httpx

from ._cancel import AsyncClosing
from ._checks import integer, seconds
from ._constants import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_SIGNATURE_METHOD,
    DEFAULT_TASK_BASE_URL,
    DEFAULT_TIMEOUT,
    ENV_BASE_URL,
    ENV_KEY,
    ENV_TASK_BASE_URL,
    ENV_USER,
    SIGNATURE_METHODS,
)
from ._errors import ConfigurationError
from ._exchange import HTTP_BACKENDS, Backend
from ._limits import (
    ConcurrencyLimiter,
    LocalConcurrencyLimiter,
    LocalRateLimiter,
    RateLimiter,
)

if TYPE_CHECKING:
    from ._phones import PhoneNormalizer
    from ._transport import Transport
    from .resources import ContactLists, Members, Tasks

__all__ = ["AsyncSmsClient"]


class AsyncSmsClient(AsyncClosing):
    """An asyncio client for the SMS contact-list API and its task API.

    Use it as an async context manager, or call ``aclose()`` when done:

        async with AsyncSmsClient("user", "key") as client:
            async for contact_list in client.contact_lists.list():
                print(contact_list.contact_list_name)

    Args:
        sms_user: The account's user; defaults to ``$SMS_ASYNC_USER``.
        sms_key: The account's key; defaults to ``$SMS_ASYNC_KEY``. Never shown
            in a repr, a log line or an error.
        base_url: The v1 API; defaults to ``$SMS_ASYNC_BASE_URL``, then
            ``https://sms.api.engagelab.cc``.
        task_base_url: The smsapi; defaults to ``$SMS_ASYNC_TASK_BASE_URL``, then
            ``https://api.sendcloud.net``.
        timeout: Seconds, or an ``httpx.Timeout``; default 30 s, 5 s to connect. With
            your own ``http_client``, its timeout is used unless you pass one here.
        max_retries: Retries after the first attempt of a request (see the retry policy).
        max_concurrency: Most requests of this client in flight at once, shared by
            all of its work (bulk uploads, page prefetch, single calls); or a
            ``ConcurrencyLimiter`` (e.g. one shared by many processes), whose
            ``limit`` then sizes the pool and the prefetch window.
        signature_method: ``"md5"`` (documented) or ``"sha256"`` for smsapi signatures.
        http_client: Your own ``httpx.AsyncClient``; the SDK never closes it. Its
            connection pool is made cancellation-safe like the SDK's own (a
            subclass that drops connections orphaned by a cancellation,
            encode/httpcore#1093), when it is httpx's default transport.
        rate_limit: Most requests per second, over every request of this client;
            a number (needs the ``sms-async[ratelimit]`` extra), or a
            ``RateLimiter`` (an object with ``async acquire()``, e.g. one shared
            by many processes).
        http_backend: The HTTP stack: ``"httpx"`` (default) or ``"aiohttp"``
            (needs the ``sms-async[aiohttp]`` extra; about 40 % less client CPU per
            request). Retries, deadlines, limits, errors and the "sent or not"
            answer of a failure are the same on both. ``http_client`` is an
            httpx client, so it goes with ``"httpx"`` only.
        default_region: An ISO 3166 alpha-2 region (``"CN"``, ``"US"``, ...;
            needs the ``sms-async[phones]`` extra). Every phone the client sends
            (``members.add``, ``members.update``, ``members.lookup``, the
            ``phone`` filter of ``members.list``) is then parsed as written in
            that region and sent in E.164 ("138 0013 8000" with ``"CN"`` becomes
            "+8613800138000"); one that is not a possible number is refused (in
            uploads it goes to ``invalid``, in single calls ``ValidationError``).
            ``None`` (the default): phones are sent as written.

    Raises:
        ConfigurationError: Missing credentials or a bad option value.
    """

    def __init__(
        self,
        sms_user: str | None = None,
        sms_key: str | None = None,
        *,
        base_url: str | None = None,
        task_base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_concurrency: int | ConcurrencyLimiter = DEFAULT_MAX_CONCURRENCY,
        signature_method: str = DEFAULT_SIGNATURE_METHOD,
        http_client: httpx.AsyncClient | None = None,
        rate_limit: float | RateLimiter | None = None,
        http_backend: Literal["httpx", "aiohttp"] = "httpx",
        default_region: str | None = None,
    ) -> None:
        sms_user = sms_user if sms_user is not None else os.environ.get(ENV_USER)
        sms_key = sms_key if sms_key is not None else os.environ.get(ENV_KEY)
        if not sms_user or not isinstance(sms_user, str):
            raise ConfigurationError(f"sms_user is required: pass sms_user= or set ${ENV_USER}")
        if not sms_key or not isinstance(sms_key, str):
            raise ConfigurationError(f"sms_key is required: pass sms_key= or set ${ENV_KEY}")
        self.sms_user = sms_user
        self.base_url = _url(
            "base_url", base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        )
        self.task_base_url = _url(
            "task_base_url",
            task_base_url or os.environ.get(ENV_TASK_BASE_URL) or DEFAULT_TASK_BASE_URL,
        )
        _check_max_retries(max_retries)
        concurrency = _concurrency_limiter(max_concurrency)
        max_concurrency = concurrency.limit
        if signature_method not in SIGNATURE_METHODS:
            raise ConfigurationError(
                f"signature_method must be 'md5' or 'sha256', got {signature_method!r}"
            )
        self.timeout = _timeout(timeout)
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.signature_method = signature_method
        self.http_backend = http_backend
        self._normalizer = _normalizer(default_region)
        #: The region phones are normalized for (upper case), or ``None``.
        self.default_region = None if self._normalizer is None else self._normalizer.region
        self._owns_http = http_client is None
        self._derived = False
        backend = _backend(http_backend, http_client, self.timeout, max_concurrency)
        from ._transport import Transport  # with the first client, like the HTTP stack

        self._transport = Transport(
            sms_user=sms_user,
            sms_key=sms_key,
            base_url=self.base_url,
            task_base_url=self.task_base_url,
            backend=backend,
            default_timeout=self.timeout if http_client is None else http_client.timeout,
            max_retries=max_retries,
            signature_method=signature_method,
            concurrency=concurrency,
            rate_limiter=_rate_limiter(rate_limit),
            # With your own http_client, its timeout holds unless you pass one here.
            request_timeout=None if self._owns_http or timeout is DEFAULT_TIMEOUT else self.timeout,
        )
        self._transport.bind_loop()
        self._closed = False
        self._resources: _Resources | None = None

    # The namespaces (and the models, converter and bulk engine behind them) are
    # imported on first use: a process that makes a client pays for them once it
    # calls the API, not at import.

    @property
    def contact_lists(self) -> ContactLists:
        """The contact-list endpoints."""
        return self._namespaces().contact_lists

    @property
    def members(self) -> Members:
        """The member endpoints, with bulk ``add``."""
        return self._namespaces().members

    @property
    def tasks(self) -> Tasks:
        """The task endpoints (send and follow a campaign)."""
        return self._namespaces().tasks

    def _namespaces(self) -> _Resources:
        if self._resources is None:
            self._resources = _Resources(self._transport, self.max_concurrency, self._normalizer)
        return self._resources

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
    ) -> AsyncSmsClient:
        """A client with other per-request settings, sharing this one's connections and limits.

        Cheap (no new connection pool, no new limiter): make one per call where a
        call needs its own settings::

            task = await client.with_options(timeout=5, max_retries=0).tasks.get(task_id)

        The new client shares this one's pool, ``max_concurrency`` and
        ``rate_limit``, and its event loop; closing it closes nothing (close
        the client you made). Options not given keep this client's values.

        Args:
            timeout: Seconds, or an ``httpx.Timeout``, for each request (and, as
                for the client, the bound of each whole attempt).
            max_retries: Retries after the first attempt of each request.

        Raises:
            ConfigurationError: A bad option value.
        """
        request_timeout = _timeout(timeout) if timeout is not None else None
        if max_retries is not None:
            _check_max_retries(max_retries)
        derived = copy.copy(self)
        derived._transport = self._transport.derive(
            request_timeout=request_timeout, max_retries=max_retries
        )
        derived._owns_http = False
        derived._derived = True
        if request_timeout is not None:
            derived.timeout = request_timeout
        if max_retries is not None:
            derived.max_retries = max_retries
        derived._resources = None  # namespaces on the derived transport, made on first use
        return derived

    def __repr__(self) -> str:
        return (
            f"AsyncSmsClient(sms_user={self.sms_user!r}, base_url={self.base_url!r}, "
            f"task_base_url={self.task_base_url!r})"
        )

    async def aclose(self) -> None:
        """Close the connections this client opened (not a ``http_client`` you passed).

        On a client from ``with_options()`` it closes nothing: close the client
        it came from.
        """
        if self._closed:
            return
        self._closed = True
        if not self._derived:
            await self._transport.aclose(close_http=self._owns_http)

    async def __aenter__(self) -> AsyncSmsClient:
        if self._closed:
            raise ConfigurationError(
                "this AsyncSmsClient is closed; make a new one (a client cannot be reopened)"
            )
        return self


class _Resources:
    """A client's three namespaces, made together on first use."""

    __slots__ = ("contact_lists", "members", "tasks")

    def __init__(
        self, transport: Transport, max_concurrency: int, normalizer: PhoneNormalizer | None
    ) -> None:
        from .resources import ContactLists, Members, Tasks

        self.contact_lists = ContactLists(transport, max_concurrency=max_concurrency)
        self.members = Members(transport, max_concurrency=max_concurrency, normalizer=normalizer)
        self.tasks = Tasks(transport, max_concurrency=max_concurrency)


def _backend(
    name: object, http_client: object, timeout: httpx.Timeout, max_connections: int
) -> Backend:
    if name not in HTTP_BACKENDS:
        raise ConfigurationError(f"http_backend must be 'httpx' or 'aiohttp', got {name!r}")
    if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
        raise ConfigurationError("http_client must be an httpx.AsyncClient")
    if name == "aiohttp":
        if http_client is not None:
            raise ConfigurationError(
                "http_client is an httpx client: it goes with http_backend='httpx' (the default)"
            )
        from ._aiohttp import AiohttpBackend

        return AiohttpBackend(timeout=timeout, max_connections=max_connections)
    # httpcore and h11 (behind the SDK's own pool) are imported with the first client,
    # as httpx itself imports them with its first client, not with `import httpx`.
    from ._http import HttpxBackend, harden_client, make_http_client

    if http_client is None:
        made = make_http_client(timeout=timeout, max_connections=max_connections)
        return HttpxBackend(made, owned=True)
    harden_client(http_client)  # its pool too survives cancellations (see _http.py)
    return HttpxBackend(http_client)


def _normalizer(region: object) -> PhoneNormalizer | None:
    if region is None:
        return None
    from ._phones import PhoneNormalizer  # and phonenumbers: only for those who ask

    return PhoneNormalizer(region)


def _check_max_retries(value: object) -> None:
    integer("max_retries", value, low=0, error=ConfigurationError)


def _url(name: str, value: str) -> str:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"{name} is not a valid URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"{name} must be an http(s) URL with a host, got {value!r}")
    return value.rstrip("/")


def _timeout(value: Any) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    return httpx.Timeout(
        seconds("timeout", value, error=ConfigurationError, what="seconds (or an httpx.Timeout)")
    )


def _rate_limiter(value: float | RateLimiter | None) -> RateLimiter | None:
    if value is None or isinstance(value, RateLimiter):
        return value
    return LocalRateLimiter(value)


def _concurrency_limiter(value: int | ConcurrencyLimiter) -> ConcurrencyLimiter:
    if isinstance(value, ConcurrencyLimiter):
        integer("a concurrency limiter's limit", value.limit, low=1, error=ConfigurationError)
        return value
    return LocalConcurrencyLimiter(value)
