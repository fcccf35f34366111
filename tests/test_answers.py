"""Reading answers (``_answers.py``): statuses, codes, bodies and network failures to errors."""

import httpx
import pytest
import respx

from sms_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncSmsClient,
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SmsError,
)

from .conftest import BASE, KEY, TASK_BASE

LISTS = f"{BASE}/v1/contact_lists"
QUERY = f"{TASK_BASE}/smsapi/queryContactListTask"


@pytest.fixture
async def client(router: respx.MockRouter) -> AsyncSmsClient:
    # no retries: each response below is seen exactly once
    async with AsyncSmsClient("u", KEY, base_url=BASE, task_base_url=TASK_BASE, max_retries=0) as c:
        yield c


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (401, {"code": 30000, "message": "Unauthorized."}, AuthenticationError, 30000),
        (400, {"code": 30000, "message": "Unauthorized."}, AuthenticationError, 30000),
        (403, {"code": 1, "message": "forbidden"}, PermissionDeniedError, 1),
        (404, {"message": "no such path"}, NotFoundError, None),
        (
            400,
            {"code": 35002, "message": "The contact_list_id does not exist"},
            NotFoundError,
            35002,
        ),
        (
            400,
            {"code": 35004, "message": "contact_list_name cannot be empty"},
            BadRequestError,
            35004,
        ),
        (422, {"code": 9, "message": "x"}, BadRequestError, 9),
        (429, {"code": 1, "message": "slow down"}, RateLimitError, 1),
        (500, {"code": 1, "message": "boom"}, ServerError, 1),
        (502, {"message": "bad gateway"}, ServerError, None),
    ],
)
async def test_v1_error_mapping(
    client: AsyncSmsClient,
    router: respx.MockRouter,
    status: int,
    body: dict[str, object],
    cls: type[APIError],
    code: int | None,
) -> None:
    router.delete(f"{LISTS}/1").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(cls) as info:
        await client.contact_lists.delete(1)
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.code) == (status, code)
    assert err.message == body["message"]
    assert str(status) in str(err)


async def test_code_in_a_200_body_is_an_error(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.delete(f"{LISTS}/1").mock(
        return_value=httpx.Response(200, json={"code": 35002, "message": "does not exist"})
    )
    with pytest.raises(NotFoundError):
        await client.contact_lists.delete(1)


async def test_retry_after_seconds_on_429(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    router.delete(f"{LISTS}/1").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "slow"})
    )
    with pytest.raises(RateLimitError) as info:
        await client.contact_lists.delete(1)
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("status_code", "cls"),
    [
        (421, AuthenticationError),
        (422, AuthenticationError),
        (471, AuthenticationError),
        (472, AuthenticationError),
        (474, AuthenticationError),
        (473, PermissionDeniedError),
        (601, PermissionDeniedError),
        (496, RateLimitError),
        (498, RateLimitError),
        (501, ServerError),
        (451, BadRequestError),
        (311, BadRequestError),
    ],
)
async def test_smsapi_result_false_mapping(
    client: AsyncSmsClient, router: respx.MockRouter, status_code: int, cls: type[APIError]
) -> None:
    router.post(QUERY).mock(
        return_value=httpx.Response(
            200, json={"result": False, "statusCode": status_code, "message": "失败", "info": {}}
        )
    )
    with pytest.raises(cls) as info:
        await client.tasks.get(1)
    assert type(info.value) is cls
    assert info.value.code == status_code
    assert info.value.status_code == 200
    assert info.value.message == "失败"


BAD_BODIES = [
    (200, b"<html><body>Gateway</body></html>", "not JSON"),
    (200, b"", "empty body"),
    (200, b'{"count": ', "not JSON"),
    (200, b'{"count": "many"}', "count"),
    (200, b"[1, 2, 3]", "shape"),
    (200, b"null", "shape"),
]


@pytest.mark.parametrize(("status", "content", "why"), BAD_BODIES)
async def test_malformed_v1_bodies(
    client: AsyncSmsClient, router: respx.MockRouter, status: int, content: bytes, why: str
) -> None:
    router.delete(f"{LISTS}/1").mock(return_value=httpx.Response(status, content=content))
    with pytest.raises(MalformedResponseError) as info:
        await client.contact_lists.delete(1)
    assert info.value.status_code == status
    assert why in str(info.value)
    assert info.value.body == content.decode()[:200]


async def test_html_error_page_keeps_status_and_excerpt(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    html = "<html>" + "x" * 500 + "</html>"
    router.get(LISTS).mock(return_value=httpx.Response(503, text=html))
    with pytest.raises(ServerError) as info:
        async for _ in client.contact_lists.list():
            pass
    assert info.value.status_code == 503
    assert info.value.body == html[:200]
    assert "non-JSON" in info.value.message


@pytest.mark.parametrize(
    "content",
    [b"<html/>", b'{"result": "yes"}', b'{"statusCode": 200}', b'{"result": true, "info": {}}'],
)
async def test_malformed_smsapi_bodies(
    client: AsyncSmsClient, router: respx.MockRouter, content: bytes
) -> None:
    router.post(QUERY).mock(return_value=httpx.Response(200, content=content))
    with pytest.raises(MalformedResponseError):
        await client.tasks.get(1)


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError("refused"), APIConnectionError),
        (httpx.ReadError("reset"), APIConnectionError),
        (httpx.RemoteProtocolError("closed"), APIConnectionError),
        (httpx.ConnectTimeout("slow"), APITimeoutError),
        (httpx.ReadTimeout("slow"), APITimeoutError),
        (httpx.PoolTimeout("busy"), APITimeoutError),
    ],
)
async def test_network_failures_are_typed(
    client: AsyncSmsClient, router: respx.MockRouter, exc: Exception, cls: type[SmsError]
) -> None:
    router.delete(f"{LISTS}/9").mock(side_effect=exc)
    with pytest.raises(cls) as info:
        await client.contact_lists.delete(9)
    assert type(info.value) is cls
    assert isinstance(info.value.__cause__, httpx.HTTPError)
    assert "/v1/contact_lists/9" in str(info.value)
