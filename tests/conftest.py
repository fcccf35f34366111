"""Shared fixtures: a client wired to respx, with retry waits disabled; both HTTP backends."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
import respx

import sms_async._exchange
from sms_async import AsyncSmsClient
from sms_async.testing import instant_retries

USER = "test-user"
KEY = "s3cr3t-KEY-do-not-leak"
BASE = "https://v1.example.test"
TASK_BASE = "https://task.example.test"


def require_redis_server() -> str:
    """The path of redis-server; fails the test in CI without it, skips it elsewhere."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI: .ci/run installs it")
        # a developer's machine without the binary; CI fails just above instead
        pytest.skip("redis-server is not installed here (apt-get install redis-server)")
    return binary


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    """Keep the SDK's attempts but remove its waits."""
    with instant_retries():
        yield


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
async def client(router: respx.MockRouter) -> AsyncIterator[AsyncSmsClient]:
    async with AsyncSmsClient(USER, KEY, base_url=BASE, task_base_url=TASK_BASE) as c:
        yield c


#: The reliability suite (chaos, hostile servers, end to end, the socket-level
#: policy table) runs on every HTTP backend.
HTTP_BACKENDS = list(sms_async._exchange.HTTP_BACKENDS)


@pytest.fixture(params=HTTP_BACKENDS)
def http_backend(request: pytest.FixtureRequest) -> str:
    """Each HTTP backend in turn."""
    return str(request.param)
