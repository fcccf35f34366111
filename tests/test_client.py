import httpx
import pytest
import respx

from sms_async import AsyncSmsClient, ConfigurationError
from sms_async._constants import DEFAULT_BASE_URL, DEFAULT_TASK_BASE_URL

from .conftest import KEY


def test_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_ASYNC_USER", "env-user")
    monkeypatch.setenv("SMS_ASYNC_KEY", "env-key")
    monkeypatch.setenv("SMS_ASYNC_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("SMS_ASYNC_TASK_BASE_URL", "http://127.0.0.1:10")
    client = AsyncSmsClient()
    assert client.sms_user == "env-user"
    assert client.base_url == "http://127.0.0.1:9"
    assert client.task_base_url == "http://127.0.0.1:10"


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMS_ASYNC_BASE_URL", raising=False)
    monkeypatch.delenv("SMS_ASYNC_TASK_BASE_URL", raising=False)
    client = AsyncSmsClient("u", "k")
    assert client.base_url == DEFAULT_BASE_URL == "https://sms.api.engagelab.cc"
    assert client.task_base_url == DEFAULT_TASK_BASE_URL == "https://api.sendcloud.net"
    assert client.timeout == httpx.Timeout(30.0, connect=5.0)
    assert (client.max_retries, client.max_concurrency, client.signature_method) == (3, 8, "md5")


def test_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMS_ASYNC_USER", raising=False)
    monkeypatch.delenv("SMS_ASYNC_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SMS_ASYNC_USER"):
        AsyncSmsClient()
    with pytest.raises(ConfigurationError, match="SMS_ASYNC_KEY"):
        AsyncSmsClient("u")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_concurrency": 0},
        {"signature_method": "sha1"},
        {"timeout": 0},
        {"timeout": "30"},
        {"base_url": "ftp://x"},
        {"base_url": "not a url"},
        {"rate_limit": -5},
        {"http_client": object()},
    ],
)
def test_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        AsyncSmsClient("u", "k", **kwargs)


def test_float_timeout_becomes_httpx_timeout() -> None:
    assert AsyncSmsClient("u", "k", timeout=2.5).timeout == httpx.Timeout(2.5)


def test_repr_never_shows_the_key() -> None:
    client = AsyncSmsClient("u", KEY)
    for text in (repr(client), str(client), repr(client._transport), repr(client.members)):
        assert KEY not in text
    assert "u" in repr(client)


async def test_user_http_client_is_never_closed() -> None:
    http = httpx.AsyncClient()
    async with AsyncSmsClient("u", "k", http_client=http):
        pass
    assert not http.is_closed
    await http.aclose()


async def test_owned_http_client_is_closed_and_aclose_is_idempotent() -> None:
    client = AsyncSmsClient("u", "k")
    await client.aclose()
    await client.aclose()
    assert client._transport._backend.http_client.is_closed


async def test_user_http_client_is_used(router: respx.MockRouter) -> None:
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    router.delete("https://v1.test/v1/contact_lists/1").mock(
        return_value=httpx.Response(200, json={"count": 1})
    )
    http = httpx.AsyncClient(event_hooks={"request": [hook]})
    async with http, AsyncSmsClient("u", "k", base_url="https://v1.test", http_client=http) as c:
        assert await c.contact_lists.delete(1) == 1
    assert seen == ["/v1/contact_lists/1"]


async def test_explicit_timeout_applies_to_a_user_http_client(router: respx.MockRouter) -> None:
    route = router.delete("https://v1.test/v1/contact_lists/1").mock(
        return_value=httpx.Response(200, json={"count": 1})
    )
    async with httpx.AsyncClient(timeout=99) as http:
        async with AsyncSmsClient(
            "u", "k", base_url="https://v1.test", http_client=http, timeout=3
        ) as c:
            await c.contact_lists.delete(1)
        assert route.calls.last.request.extensions["timeout"]["read"] == 3
        async with AsyncSmsClient("u", "k", base_url="https://v1.test", http_client=http) as c:
            await c.contact_lists.delete(1)
        assert route.calls.last.request.extensions["timeout"]["read"] == 99
