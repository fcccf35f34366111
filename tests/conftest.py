"""Shared fixtures: a client wired to respx, with retry waits disabled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx
import stamina

from sms_async import AsyncSmsClient

USER = "test-user"
KEY = "s3cr3t-KEY-do-not-leak"
BASE = "https://v1.example.test"
TASK_BASE = "https://task.example.test"


@pytest.fixture(autouse=True)
def _no_retry_waits() -> Iterator[None]:
    """Keep stamina's attempts but remove its waits (cap=True keeps our max_retries)."""
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
async def client(router: respx.MockRouter) -> AsyncIterator[AsyncSmsClient]:
    async with AsyncSmsClient(USER, KEY, base_url=BASE, task_base_url=TASK_BASE) as c:
        yield c
