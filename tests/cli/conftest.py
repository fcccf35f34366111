"""Fixtures of the command line's tests: the fake served on a loopback port, and the command."""

from collections.abc import Iterator

import pytest

from sms_async.testing import FakeSmsServer

from ._helpers import KEY, USER


@pytest.fixture
def fake() -> FakeSmsServer:
    return FakeSmsServer(USER, KEY)


@pytest.fixture
def base_url(fake: FakeSmsServer) -> Iterator[str]:
    with fake.serve_in_thread() as url:
        yield url


@pytest.fixture
def env(base_url: str) -> dict[str, str]:
    return {
        "SMS_ASYNC_USER": USER,
        "SMS_ASYNC_KEY": KEY,
        "SMS_ASYNC_BASE_URL": base_url,
        "SMS_ASYNC_TASK_BASE_URL": base_url,
    }
