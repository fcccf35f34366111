"""The pytest plugin of ``sms_async`` (registered through the ``pytest11`` entry point).

It provides the ``sms_fake`` fixture: a fresh ``FakeSmsServer`` for each test.
Get a client wired to it with ``fake.client()``::

    async def test_create(sms_fake):
        async with sms_fake.client() as client:
            await client.contact_lists.create(contact_list_name="promo")
        assert sms_fake.get_list("promo").member_count == 0

Configure it per test with the ``sms_fake`` marker, whose keyword arguments go
to ``FakeSmsServer``::

    @pytest.mark.sms_fake(seed=7, quirks=False)
    async def test_clean_shapes(sms_fake): ...

The ``sms_instant_retries`` fixture keeps the SDK's retries but skips their
waits (see ``sms_async.testing.instant_retries``); use it, or make it autouse
in your ``conftest.py``, to keep tests of retried failures fast.

The fixtures themselves are synchronous, so it works with pytest-asyncio in either
mode and with anyio's plugin; the fake it yields is ready at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._retries import instant_retries
from ._server import FakeSmsServer

__all__ = ["pytest_configure", "sms_fake", "sms_instant_retries"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``sms_fake`` marker."""
    config.addinivalue_line(
        "markers",
        "sms_fake(**options): keyword arguments for the FakeSmsServer of the sms_fake fixture",
    )


@pytest.fixture
def sms_fake(request: pytest.FixtureRequest) -> Iterator[FakeSmsServer]:
    """A fresh ``FakeSmsServer`` (user ``test-user``, key ``test-key``) for one test.

    Options come from the test's ``@pytest.mark.sms_fake(...)`` marker, if any.
    The fake is closed after the test.
    """
    marker = request.node.get_closest_marker("sms_fake")
    options = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        raise TypeError("the sms_fake marker takes keyword arguments only")
    fake = FakeSmsServer(**options)
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def sms_instant_retries() -> Iterator[None]:
    """The SDK's retries, without their waits, for one test."""
    with instant_retries():
        yield
