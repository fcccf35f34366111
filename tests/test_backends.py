"""The retry policy on a real socket, on both HTTP backends; the choice of backend.

``test_transport.py`` holds the policy table against respx (httpx's mocked
transport). Here the same decisions are made from what a real server does on
a loopback socket -- an error status, a connection dropped or reset after the
request was read, silence, a refused connection -- so that each backend's own
mapping of its network errors is what is under test: a failure is "not sent"
(and a POST retried) only when the request certainly never left.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from sms_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncSmsClient,
    BadRequestError,
    ConfigurationError,
    RateLimitError,
    ServerError,
    SmsError,
)
from sms_async._exchange import Outgoing, SendProgress

from .conftest import KEY, USER
from .hostile import (
    Handler,
    HostileServer,
    answer,
    drop_after_reading,
    drop_before_reading,
    read_request,
    reset_after_reading,
    script,
    silent,
)

OK_COUNT = answer(b'{"count": 1}')
OK_CREATED = answer(b'{"result": {"contact_list_id": 5}}')
HTML = b"<html><body>busy</body></html>"


def status(code: str, **headers: str) -> Handler:
    return answer(HTML, status=code, headers={"Content-Type": "text/html", **headers})


Call = Callable[[AsyncSmsClient], Awaitable[object]]
#: An idempotent call (DELETE) and one that creates something (POST).
CALLS: dict[str, tuple[Call, Handler]] = {
    "DELETE": (lambda client: client.contact_lists.delete(5), OK_COUNT),
    "POST": (lambda client: client.contact_lists.create(contact_list_name="x"), OK_CREATED),
}

# first answer -> (retried for DELETE, retried for POST, error when not retried)
SCENARIOS: dict[str, tuple[Handler, bool, bool, type[SmsError]]] = {
    "429": (status("429 Too Many Requests", **{"Retry-After": "0"}), True, True, RateLimitError),
    "503": (status("503 Service Unavailable"), True, True, ServerError),
    "500": (status("500 Internal Server Error"), True, False, ServerError),
    "502": (status("502 Bad Gateway"), True, False, ServerError),
    "504": (status("504 Gateway Timeout"), True, False, ServerError),
    "408": (status("408 Request Timeout"), True, False, APIError),
    "400": (status("400 Bad Request"), False, False, BadRequestError),
    "dropped after reading": (drop_after_reading, True, False, APIConnectionError),
    "reset after reading": (reset_after_reading, True, False, APIConnectionError),
    "dropped before reading": (drop_before_reading, True, False, APIConnectionError),
    "silent": (silent, True, False, APITimeoutError),
}


def make_client(url: str, http_backend: str, **options: Any) -> AsyncSmsClient:
    options.setdefault("max_retries", 1)
    options.setdefault("timeout", httpx.Timeout(5.0, read=0.3))
    return AsyncSmsClient(
        USER, KEY, base_url=url, task_base_url=url, http_backend=http_backend, **options
    )


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", CALLS)
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_the_policy_on_a_real_socket(http_backend: str, method: str, scenario: str) -> None:
    call, ok = CALLS[method]
    first, retry_delete, retry_post, error = SCENARIOS[scenario]
    retried = retry_delete if method == "DELETE" else retry_post
    server = HostileServer(script(first, ok))
    async with server as url, make_client(url, http_backend) as client:
        if retried:
            await call(client)
        else:
            with pytest.raises(error) as info:
                await call(client)
            if isinstance(info.value, APIConnectionError):
                assert info.value.request_sent is True  # the server may have acted
    requests = [request for request in server.seen if request.method == method]
    # "dropped before reading" never reads the first request: only the retry is seen
    expected = (2 if retried else 1) - (scenario == "dropped before reading")
    assert len(requests) == expected


class ListenOnSecondAttempt:
    """A rate limiter (asked before every attempt) that opens the server for the second."""

    def __init__(self, bound: socket.socket, handler: Handler) -> None:
        self.bound = bound
        self.handler = handler
        self.attempts = 0
        self.server: asyncio.Server | None = None

    async def acquire(self) -> None:
        self.attempts += 1
        if self.attempts == 2:
            self.server = await asyncio.start_server(self._serve, sock=self.bound)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self.handler(reader, writer)
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def refused_then_served(handler: Handler) -> AsyncIterator[tuple[str, ListenOnSecondAttempt]]:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))  # bound, not listening: a connect is refused
        opener = ListenOnSecondAttempt(bound, handler)
        try:
            yield f"http://127.0.0.1:{bound.getsockname()[1]}", opener
        finally:
            if opener.server is not None:
                opener.server.close()
                await opener.server.wait_closed()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", CALLS)
async def test_a_refused_connection_is_retried_even_for_a_post(
    http_backend: str, method: str
) -> None:
    call, ok = CALLS[method]
    async with (
        refused_then_served(ok) as (url, opener),
        make_client(url, http_backend, rate_limit=opener) as client,
    ):
        await call(client)
    assert opener.attempts == 2


@pytest.mark.timeout(30)
async def test_a_refused_post_says_not_sent(http_backend: str) -> None:
    async with (
        refused_then_served(OK_CREATED) as (url, opener),
        make_client(url, http_backend, rate_limit=opener, max_retries=0) as client,
    ):
        with pytest.raises(APIConnectionError) as info:
            await client.contact_lists.create(contact_list_name="x")
    assert info.value.request_sent is False
    assert not isinstance(info.value, APITimeoutError)


@pytest.mark.timeout(30)
async def test_both_backends_send_the_same_request(http_backend: str) -> None:
    server = HostileServer(script(OK_CREATED, answer(b'{"result": true, "statusCode": 200}')))
    async with server as url, make_client(url, http_backend) as client:
        await client.contact_lists.create(contact_list_name="x")
        with contextlib.suppress(SmsError):
            await client.tasks.get(7)
    create, cancel = server.seen[0], server.seen[1]
    assert create.headers["content-type"] == "application/json"
    assert create.headers["authorization"].startswith("Basic ")
    assert create.headers["user-agent"].startswith("sms-async/")
    assert create.headers["accept"] == "application/json"
    assert cancel.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"signature=" in cancel.body
    assert "authorization" not in cancel.headers


# --- choosing a backend --------------------------------------------------------------


def test_http_backend_must_be_known() -> None:
    with pytest.raises(ConfigurationError, match="'httpx' or 'aiohttp'"):
        AsyncSmsClient(USER, KEY, http_backend="requests")  # type: ignore[arg-type]  # on purpose


async def test_an_httpx_client_goes_with_the_httpx_backend_only() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigurationError, match="http_backend='httpx'"):
            AsyncSmsClient(USER, KEY, http_client=http, http_backend="aiohttp")


def test_without_aiohttp_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # import aiohttp -> ImportError
    with pytest.raises(ConfigurationError, match=r"sms-async\[aiohttp\]"):
        AsyncSmsClient(USER, KEY, http_backend="aiohttp")


def test_the_default_backend_is_httpx_and_shown() -> None:
    client = AsyncSmsClient(USER, KEY)
    assert client.http_backend == "httpx"
    assert AsyncSmsClient(USER, KEY, http_backend="aiohttp").http_backend == "aiohttp"


async def test_an_aiohttp_client_opens_its_session_lazily_and_closes_it() -> None:
    server = HostileServer(OK_COUNT)
    async with server as url:
        client = make_client(url, "aiohttp")
        backend = client._transport._backend
        assert backend._session is None  # nothing opened outside the loop
        assert await client.contact_lists.delete(5) == 1
        session = backend._session
        assert session is not None
        assert not session.closed
        await client.aclose()
        assert session.closed
        assert client._transport.is_closed
        with pytest.raises(APIConnectionError, match="closed") as info:
            await client.contact_lists.delete(5)
        assert info.value.request_sent is False


# --- the aiohttp mapping, error by error -----------------------------------------------


def _aiohttp_errors() -> list[Any]:
    aiohttp = pytest.importorskip("aiohttp")
    key = SimpleNamespace(host="h", port=1, ssl=False)
    info = aiohttp.RequestInfo("http://h/", "POST", {"Authorization": f"Basic {KEY}"})
    return [
        # (error, raised after the headers went out?, timeout?, request_sent)
        (aiohttp.ClientConnectorError(key, OSError(111, "refused")), False, False, False),
        (aiohttp.ConnectionTimeoutError("connect"), False, True, False),
        (aiohttp.SocketTimeoutError("read"), True, True, True),
        (aiohttp.ServerDisconnectedError(), True, False, True),
        (aiohttp.ServerDisconnectedError(), False, False, True),  # a type of "maybe"
        (aiohttp.ClientOSError(104, "reset"), True, False, True),
        (aiohttp.ClientPayloadError("truncated"), True, False, True),
        (aiohttp.ClientResponseError(info, (), status=400, message="bad"), True, False, True),
    ]


@pytest.mark.parametrize("index", range(8))
async def test_aiohttp_errors_map_to_sent_or_not_sent(
    index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    error, after_headers, timeout, sent = _aiohttp_errors()[index]
    client = AsyncSmsClient(USER, KEY, http_backend="aiohttp", max_retries=0)
    backend = client._transport._backend

    async def request(*args: object, trace_request_ctx: SendProgress, **kwargs: object) -> None:
        if after_headers:
            trace_request_ctx.sent = True
        raise error

    async with client:
        session = backend._open()
        monkeypatch.setattr(session, "request", request)
        with pytest.raises(APIConnectionError) as info:
            await client.contact_lists.create(contact_list_name="x")
    assert info.value.request_sent is sent
    assert isinstance(info.value, APITimeoutError) is timeout
    cause = info.value.__cause__
    assert cause is error
    assert KEY not in repr(vars(cause))
    assert KEY not in str(cause)
    assert cause.__context__ is None


async def test_the_aiohttp_headers_signal_marks_a_request_sent() -> None:
    # The whole-attempt deadline trusts this signal: it must fire on every request.
    server = HostileServer(OK_COUNT)
    async with server as url, make_client(url, "aiohttp") as client:
        backend = client._transport._backend
        progress = SendProgress()
        request = Outgoing("DELETE", url, "/v1/contact_lists/5", {})
        answers = client._transport._answers
        reply = await backend.exchange(request, answers, progress, backend.request_timeout(None))
    assert reply.status == 200
    assert progress.sent is True


async def test_a_request_cancelled_before_it_was_written_was_not_sent() -> None:
    # Held at the server after reading: cancel a second request queued behind the
    # first (one connection) and check that no byte of it reached the server.
    hold = asyncio.Event()
    seen_first = asyncio.Event()

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        seen_first.set()
        await hold.wait()

    server = HostileServer(held)
    async with server as url, make_client(url, "aiohttp", max_concurrency=1) as client:
        first = asyncio.ensure_future(client.contact_lists.delete(1))
        await seen_first.wait()
        second = asyncio.ensure_future(client.contact_lists.delete(2))
        for _ in range(5):
            await asyncio.sleep(0)
        second.cancel()
        first.cancel()
        await asyncio.gather(first, second, return_exceptions=True)
    assert [request.target for request in server.seen] == ["/v1/contact_lists/1"]


# --- what every request would otherwise pay ------------------------------------------------


def test_sniffio_is_installed_so_no_request_pays_a_failing_import() -> None:
    # httpcore tries `import sniffio` on every request; when it is missing the failed
    # import walks sys.path each time (~12 % of a request's CPU). It is a dependency.
    import importlib.metadata

    requires = importlib.metadata.requires("sms-async") or []
    assert any(line.startswith("sniffio") for line in requires)
    assert importlib.util.find_spec("sniffio") is not None


async def test_clients_with_default_tls_share_one_ssl_context() -> None:
    from sms_async._http import default_ssl_context

    first = AsyncSmsClient(USER, KEY)
    second = AsyncSmsClient(USER, KEY, max_concurrency=3)
    pools = [client._transport._backend.http_client._transport._pool for client in (first, second)]
    assert pools[0]._ssl_context is pools[1]._ssl_context is default_ssl_context()
    async with AsyncSmsClient(USER, KEY, http_backend="aiohttp") as third:
        session = third._transport._backend._open()
        assert session.connector._ssl is default_ssl_context()
