"""The retry policy, backoff, Retry-After, rate limiting, logging and secrets."""

import base64
import email.utils
import json
import logging
import subprocess
import sys
import time

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncSmsClient,
    BulkAddAbortedError,
    BulkAddError,
    MalformedResponseError,
    NewMember,
    RateLimitError,
    ServerError,
    SmsError,
)
from sms_async._answers import parse_retry_after
from sms_async._policy import backoff

from .conftest import BASE, KEY, TASK_BASE, USER

LIST = f"{BASE}/v1/contact_lists/1"
LISTS = f"{BASE}/v1/contact_lists"
MEMBERS = f"{BASE}/v1/contact_lists/1/members"
QUERY = f"{TASK_BASE}/smsapi/queryContactListTask"
SEND = f"{TASK_BASE}/smsapi/sendContactListTask"

OK_COUNT = httpx.Response(200, json={"count": 1})
TASK = {
    "result": True,
    "statusCode": 200,
    "message": "ok",
    "info": {"smsTask": {"taskId": 1, "status": "执行中"}},
}

TRANSIENT_STATUSES = [408, 429, 500, 502, 503, 504]
TRANSIENT_ERRORS = [
    httpx.ConnectError("refused"),
    httpx.ConnectTimeout("connect"),
    httpx.ReadTimeout("read"),
    httpx.ReadError("reset"),
    httpx.RemoteProtocolError("peer closed"),
]


def html(status: int) -> httpx.Response:
    return httpx.Response(status, text="<html><body><h1>Service Unavailable</h1></body></html>")


# --- idempotent requests: GET, PUT, DELETE, smsapi query ---------------------------


@pytest.mark.parametrize("status", TRANSIENT_STATUSES)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_idempotent_requests_retry_transient_statuses(
    client: AsyncSmsClient, router: respx.MockRouter, method: str, status: int
) -> None:
    url = LISTS if method == "GET" else LIST
    ok = (
        httpx.Response(200, json={"result": [], "count": 0, "total": 0})
        if method == "GET"
        else OK_COUNT
    )
    route = router.route(method=method, url=url).mock(side_effect=[html(status), html(status), ok])
    if method == "GET":
        assert [x async for x in client.contact_lists.list()] == []
    elif method == "PUT":
        assert await client.contact_lists.update(1, description="d") == 1
    else:
        assert await client.contact_lists.delete(1) == 1
    assert route.call_count == 3


@pytest.mark.parametrize("error", TRANSIENT_ERRORS, ids=lambda e: type(e).__name__)
async def test_idempotent_requests_retry_network_failures(
    client: AsyncSmsClient, router: respx.MockRouter, error: Exception
) -> None:
    route = router.delete(LIST).mock(side_effect=[error, OK_COUNT])
    assert await client.contact_lists.delete(1) == 1
    assert route.call_count == 2


@pytest.mark.parametrize("status", TRANSIENT_STATUSES)
async def test_smsapi_query_is_retried(
    client: AsyncSmsClient, router: respx.MockRouter, status: int
) -> None:
    route = router.post(QUERY).mock(
        side_effect=[html(status), httpx.ReadTimeout("slow"), httpx.Response(200, json=TASK)]
    )
    assert (await client.tasks.get(1)).task_id == 1
    assert route.call_count == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
async def test_other_statuses_are_not_retried(
    client: AsyncSmsClient, router: respx.MockRouter, status: int
) -> None:
    route = router.delete(LIST).mock(return_value=httpx.Response(status, json={"message": "no"}))
    with pytest.raises(APIError):
        await client.contact_lists.delete(1)
    assert route.call_count == 1


async def test_retries_stop_after_max_retries(router: respx.MockRouter) -> None:
    route = router.delete(LIST).mock(return_value=html(503))
    async with AsyncSmsClient(USER, KEY, base_url=BASE, max_retries=2) as client:
        with pytest.raises(ServerError) as info:
            await client.contact_lists.delete(1)
    assert route.call_count == 3  # the first attempt and 2 retries
    assert info.value.status_code == 503


async def test_max_retries_zero_means_one_attempt(router: respx.MockRouter) -> None:
    route = router.delete(LIST).mock(side_effect=httpx.ReadTimeout("slow"))
    async with AsyncSmsClient(USER, KEY, base_url=BASE, max_retries=0) as client:
        with pytest.raises(APITimeoutError):
            await client.contact_lists.delete(1)
    assert route.call_count == 1


async def test_timeouts_surface_as_api_timeout_error_after_retries(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.get(LISTS).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(APITimeoutError):
        async for _ in client.contact_lists.list():
            pass
    assert route.call_count == 4


# --- POSTs that create something --------------------------------------------------------


POSTS = {
    "create list": (LISTS, lambda c: c.contact_lists.create(contact_list_name="x")),
    "send task": (
        SEND,
        lambda c: c.tasks.send(contact_list_name="x", task_name="t", template_id=1),
    ),
}
POST_OK = {
    "create list": httpx.Response(200, json={"result": {"contact_list_id": 5}}),
    "send task": httpx.Response(200, json=TASK),
}


@pytest.mark.parametrize("name", POSTS)
@pytest.mark.parametrize(
    "first",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("connect"),
        httpx.Response(429, headers={"Retry-After": "1"}),
        html(503),
    ],
    ids=["ConnectError", "ConnectTimeout", "429", "503"],
)
async def test_posts_retry_only_when_the_server_did_not_act(
    client: AsyncSmsClient, router: respx.MockRouter, name: str, first: object
) -> None:
    url, call = POSTS[name]
    route = router.post(url).mock(side_effect=[first, POST_OK[name]])
    await call(client)
    assert route.call_count == 2


@pytest.mark.parametrize("name", POSTS)
@pytest.mark.parametrize(
    ("first", "error"),
    [
        (httpx.ReadTimeout("read"), APITimeoutError),
        (httpx.ReadError("reset"), APIConnectionError),
        (httpx.RemoteProtocolError("closed"), APIConnectionError),
        (httpx.WriteTimeout("write"), APITimeoutError),
        (html(500), ServerError),
        (html(502), ServerError),
        (html(504), ServerError),
        (httpx.Response(408), APIError),
    ],
    ids=[
        "ReadTimeout",
        "ReadError",
        "RemoteProtocolError",
        "WriteTimeout",
        "500",
        "502",
        "504",
        "408",
    ],
)
async def test_posts_are_never_repeated_after_an_ambiguous_failure(
    client: AsyncSmsClient,
    router: respx.MockRouter,
    name: str,
    first: object,
    error: type[SmsError],
) -> None:
    url, call = POSTS[name]
    route = router.post(url).mock(side_effect=[first, POST_OK[name]])
    with pytest.raises(error):
        await call(client)
    assert route.call_count == 1


async def test_a_batch_after_an_ambiguous_failure_is_a_failed_batch_not_a_resend(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.post(MEMBERS).mock(
        side_effect=[
            httpx.Response(429),
            httpx.Response(200, json={"result": {"count": 3, "invalid": []}}),
            httpx.ReadTimeout("lost"),
        ]
    )
    members = [NewMember(f"+1{i}") for i in range(6)]
    with pytest.raises(BulkAddError) as info:
        await client.members.add(1, members, batch_size=3, concurrency=1)
    result = info.value.result
    assert route.call_count == 3  # 429 retried once, the read timeout never
    assert result.count == 3
    assert [m.phone for m in result.failed_members] == ["+13", "+14", "+15"]
    assert isinstance(result.failed[0].error, APITimeoutError)


# --- Retry-After and backoff ----------------------------------------------------------


async def test_retry_after_seconds_is_used_as_the_wait(
    client: AsyncSmsClient, router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sms_async import _transport

    waits: list[float] = []
    real = _transport.Transport._retry_decision

    def spy(self: object, *args: object) -> bool | float:
        wait = real(self, *args)
        waits.append(wait)
        return wait

    monkeypatch.setattr(_transport.Transport, "_retry_decision", spy)
    date = email.utils.format_datetime(
        __import__("datetime").datetime.fromtimestamp(
            time.time() + 30, tz=__import__("datetime").UTC
        ),
        usegmt=True,
    )
    router.delete(LIST).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503, headers={"Retry-After": date}),
            OK_COUNT,
        ]
    )
    assert await client.contact_lists.delete(1) == 1
    assert waits[0] == 7.0
    assert 25 <= waits[1] <= 30


async def test_retry_after_over_60_s_raises_at_once(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.delete(LIST).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3600"}), OK_COUNT]
    )
    with pytest.raises(RateLimitError) as info:
        await client.contact_lists.delete(1)
    assert info.value.retry_after == 3600.0
    assert route.call_count == 1


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(date, now=now) == pytest.approx(42.0)
    assert parse_retry_after(email.utils.formatdate(now - 10, usegmt=True), now=now) == 0.0
    for bad in (None, "", "soon", "-3", "nan"):
        assert parse_retry_after(bad) is None


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value)
    assert result is None or result >= 0


@given(st.integers(1, 60))
def test_backoff_is_full_jitter_capped(attempt: int) -> None:
    ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
    assert 0.0 <= backoff(attempt) <= ceiling


# --- rate limit and pool --------------------------------------------------------------


class CountingLimiter:
    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1


async def test_rate_limiter_is_asked_before_every_attempt(router: respx.MockRouter) -> None:
    limiter = CountingLimiter()
    router.delete(LIST).mock(side_effect=[html(503), OK_COUNT])
    router.put(LIST).mock(return_value=OK_COUNT)
    async with AsyncSmsClient(USER, KEY, base_url=BASE, rate_limit=limiter) as client:
        await client.contact_lists.delete(1)
        await client.contact_lists.update(1, description="x")
    assert limiter.acquired == 3


class CountingSlots:
    """A ConcurrencyLimiter that counts the slots taken."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0
        self._semaphore = __import__("asyncio").Semaphore(limit)

    def slot(self) -> object:
        self.taken += 1
        return self._semaphore


async def test_a_concurrency_limiter_object_gates_every_attempt(router: respx.MockRouter) -> None:
    slots = CountingSlots(5)
    router.delete(LIST).mock(side_effect=[html(503), OK_COUNT])
    async with AsyncSmsClient(USER, KEY, base_url=BASE, max_concurrency=slots) as client:
        assert client.max_concurrency == 5
        await client.contact_lists.delete(1)
    assert slots.taken == 2


def test_pool_is_sized_for_max_concurrency() -> None:
    client = AsyncSmsClient(USER, KEY, max_concurrency=13)
    pool = client._transport._backend.http_client._transport._pool
    assert pool._max_connections == 13
    assert pool._max_keepalive_connections == 13


# --- malformed and hostile responses ----------------------------------------------------


async def test_huge_bodies_are_refused(
    client: AsyncSmsClient, router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sms_async._answers.MAX_RESPONSE_BYTES", 1000)
    router.delete(LIST).mock(return_value=httpx.Response(200, content=b"{" + b" " * 5000 + b"}"))
    with pytest.raises(MalformedResponseError, match="larger than 1000 bytes"):
        await client.contact_lists.delete(1)


async def test_declared_huge_bodies_are_refused_unread(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    response = httpx.Response(
        200, headers={"Content-Length": str(10**12)}, stream=httpx.ByteStream(b"{}")
    )
    router.delete(LIST).mock(return_value=response)
    with pytest.raises(MalformedResponseError, match="larger than"):
        await client.contact_lists.delete(1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "result",
                    "count",
                    "total",
                    "code",
                    "message",
                    "statusCode",
                    "info",
                    "smsTask",
                    "member_id",
                    "vars",
                    "contact_list_id",
                    "contact_List_id",
                    "invalid",
                    "taskId",
                    "status",
                    "create_time",
                    "endTime",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)


CALLS = {
    "delete": lambda c: c.contact_lists.delete(1),
    "create": lambda c: c.contact_lists.create(contact_list_name="x"),
    "add": lambda c: c.members.add(1, [NewMember("+1")], raise_on_error=False),
    "task": lambda c: c.tasks.get(1),
    "members": lambda c: _drain(c.members.list(1)),
    "lists": lambda c: _drain(c.contact_lists.list()),
}


@settings(max_examples=300, deadline=None)
@given(
    call=st.sampled_from(sorted(CALLS)),
    status=st.sampled_from([200, 201, 400, 401, 404, 500, 503]),
    body=st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=64),
        st.sampled_from([b"", b"<html>", b'{"result": [', b"null", b'{"result": true}']),
    ),
)
async def test_fuzzed_bodies_only_ever_raise_typed_errors(
    call: str, status: int, body: bytes
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    http = httpx.AsyncClient(transport=transport)
    async with (
        http,
        AsyncSmsClient(
            USER, KEY, base_url=BASE, task_base_url=TASK_BASE, max_retries=0, http_client=http
        ) as c,
    ):
        error: SmsError | None = None
        try:
            await CALLS[call](c)
        except BulkAddAbortedError as exc:  # a fatal answer (401, 404) stops any upload
            error = exc.__cause__ if isinstance(exc.__cause__, SmsError) else exc
        except BulkAddError:
            raise AssertionError("raise_on_error=False must not raise") from None
        except SmsError as exc:
            error = exc
    if error is not None:
        assert not isinstance(error, BulkAddAbortedError), "aborted without a typed cause"
        assert KEY not in str(error)
        if isinstance(error, APIError):
            assert error.status_code == status
            assert len(error.body) <= 200


async def _drain(paginator: object) -> None:
    async for _ in paginator:
        pass


async def test_a_key_echoed_in_a_network_error_is_masked(router: respx.MockRouter) -> None:
    router.delete(LIST).mock(side_effect=httpx.ConnectError(f"failed with {KEY}"))
    async with AsyncSmsClient(USER, KEY, base_url=BASE, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.contact_lists.delete(1)
    assert "failed with ***" in str(info.value)
    assert KEY not in str(info.value)


# --- logging and secrets ---------------------------------------------------------------


async def test_debug_log_per_request_and_warning_per_retry(
    client: AsyncSmsClient, router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    router.delete(LIST).mock(side_effect=[httpx.Response(429), httpx.ConnectError("x"), OK_COUNT])
    with caplog.at_level(logging.DEBUG, logger="sms_async"):
        await client.contact_lists.delete(1)
    records = [r for r in caplog.records if r.name == "sms_async"]
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(debug) == 3
    assert debug[0].startswith("DELETE /v1/contact_lists/1 -> 429 in ")
    assert debug[0].endswith(" ms")
    assert debug[2].startswith("DELETE /v1/contact_lists/1 -> 200 in ")
    assert len(warnings) == 2
    assert "after HTTP 429 (attempt 2 of 4)" in warnings[0]
    assert "after ConnectError (attempt 3 of 4)" in warnings[1]


async def test_secrets_never_appear_in_logs_reprs_or_errors(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    token = base64.b64encode(f"{USER}:{KEY}".encode()).decode()
    echo = f"key={KEY} auth=Basic {token}"
    router.delete(LIST).mock(
        side_effect=[
            httpx.Response(500, text=echo),
            httpx.ConnectError(f"failed with {KEY}"),
            httpx.Response(401, json={"code": 30000, "message": f"bad key {KEY}"}),
        ]
    )
    signatures: list[str] = []

    def capture(request: httpx.Request) -> httpx.Response:
        from urllib.parse import parse_qsl

        signatures.append(dict(parse_qsl(request.content.decode()))["signature"])
        return httpx.Response(200, json={"result": False, "statusCode": 422, "message": KEY})

    router.post(QUERY).mock(side_effect=capture)
    router.post(MEMBERS).mock(return_value=httpx.Response(503, text=echo))
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        async with AsyncSmsClient(USER, KEY, base_url=BASE, task_base_url=TASK_BASE) as client:
            texts += [repr(client), str(client), repr(client._transport)]
            for call in (
                lambda: client.contact_lists.delete(1),
                lambda: client.tasks.get(1),
                lambda: client.members.add(1, [NewMember("+1")]),
            ):
                try:
                    await call()
                except SmsError as exc:
                    texts += [str(exc), repr(exc), repr(getattr(exc, "result", None))]
                    texts += [str(e) for e in getattr(getattr(exc, "result", None), "failed", [])]
                    if isinstance(exc, BulkAddError):
                        texts += [str(b.error) for b in exc.result.failed]
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.args) for r in caplog.records]
    assert signatures
    blob = "\n".join(texts)
    for secret in (KEY, token, *signatures):
        assert secret not in blob


async def test_deeply_nested_error_bodies_are_typed(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.delete(LIST).mock(
        return_value=httpx.Response(400, content=b"[" * 100_000 + b"]" * 100_000)
    )
    with pytest.raises(APIError) as info:
        await client.contact_lists.delete(1)
    assert info.value.status_code == 400


@pytest.mark.parametrize("offset", [150, 190, 199, 200, 230])
async def test_a_key_straddling_the_excerpt_cut_is_masked(
    client: AsyncSmsClient, router: respx.MockRouter, offset: int
) -> None:
    body = "x" * offset + KEY + "y" * 300
    router.delete(LIST).mock(return_value=httpx.Response(400, text=body))
    with pytest.raises(APIError) as info:
        await client.contact_lists.delete(1)
    assert len(info.value.body) <= 200
    for size in range(4, len(KEY) + 1):
        assert KEY[:size] not in str(info.value)


async def test_long_server_messages_are_capped(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.delete(LIST).mock(
        return_value=httpx.Response(400, json={"code": 1, "message": "m" * 100_000})
    )
    with pytest.raises(APIError) as info:
        await client.contact_lists.delete(1)
    assert len(info.value.message) == 500


async def test_an_absurd_retry_after_date_is_ignored_not_raised(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.delete(LIST).mock(
        return_value=httpx.Response(
            503, headers={"Retry-After": "Mon, 01 Jan 99999999999 00:00:00 GMT"}
        )
    )
    with pytest.raises(ServerError) as info:
        await client.contact_lists.delete(1)
    assert info.value.retry_after is None


async def test_requests_waiting_for_a_slot_when_the_client_closes_get_a_typed_error(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        started.set()
        await release.wait()
        return httpx.Response(200, json={"count": 1})

    router.delete(LIST).mock(side_effect=slow)
    client = AsyncSmsClient(USER, KEY, base_url=BASE, max_concurrency=1)
    first = asyncio.create_task(client.contact_lists.delete(1))
    await started.wait()
    second = asyncio.create_task(client.contact_lists.delete(1))  # waits for the only slot
    await asyncio.sleep(0)
    closing = asyncio.create_task(client.aclose())
    await asyncio.sleep(0)
    release.set()
    with caplog.at_level(logging.WARNING, logger="sms_async"):
        results = await asyncio.gather(first, second, closing, return_exceptions=True)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]  # not retried
    assert isinstance(results[1], APIConnectionError)
    assert "closed" in str(results[1])
    assert not any(isinstance(r, RuntimeError) for r in results)


async def test_a_closed_client_is_not_retried(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    route = router.delete(LIST).mock(return_value=OK_COUNT)
    client = AsyncSmsClient(USER, KEY, base_url=BASE, max_retries=3)
    await client.aclose()
    with (
        caplog.at_level(logging.WARNING, logger="sms_async"),
        pytest.raises(APIConnectionError, match="closed"),
    ):
        await client.contact_lists.delete(1)
    assert route.call_count == 0
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


async def test_each_retry_is_one_log_line_from_the_sdk(
    client: AsyncSmsClient, router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    router.delete(LIST).mock(side_effect=[html(503), html(502), OK_COUNT])
    caplog.set_level(logging.DEBUG)  # every logger of the process
    assert await client.contact_lists.delete(1) == 1
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["sms_async", "sms_async"]
    assert [r.getMessage().split(" after ")[1].split(" (")[0] for r in warnings] == [
        "HTTP 503",
        "HTTP 502",
    ]


def test_retries_depend_on_no_other_librarys_switches() -> None:
    # stamina's set_active(False) or set_testing(True) in a user's test suite used to
    # turn the SDK's retries off: the SDK now runs its own loop and imports no retry
    # library at all.
    code = (
        "import sys, sms_async, sms_async._transport; "
        "print(sorted(m for m in ('stamina', 'tenacity', 'backoff') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


async def test_instant_retries_keeps_the_attempts_and_drops_the_waits(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sms_async.testing import instant_retries

    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("sms_async._transport.asyncio.sleep", fake_sleep)
    router.delete(LIST).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), html(503), OK_COUNT]
    )
    async with AsyncSmsClient(USER, KEY, base_url=BASE, max_retries=2) as client:
        with instant_retries():
            assert await client.contact_lists.delete(1) == 1
    assert slept == [0.0, 0.0]
