"""``instant_retries``: the SDK's retries without their waits, for tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .._policy import set_retry_wait_scale

__all__ = ["instant_retries"]


@contextlib.contextmanager
def instant_retries() -> Iterator[None]:
    """Within the block, the SDK retries as usual but does not wait between attempts.

    ``max_retries`` and the retry policy still decide which requests are retried
    and how often; only the backoff and ``Retry-After`` sleeps are skipped. It
    affects every ``AsyncSmsClient`` of the process (and nothing but them)::

        from sms_async.testing import instant_retries

        @pytest.fixture(autouse=True)
        def _no_retry_waits():
            with instant_retries():
                yield

    The ``sms_instant_retries`` fixture of the pytest plugin does the same.
    """
    previous = set_retry_wait_scale(0.0)
    try:
        yield
    finally:
        set_retry_wait_scale(previous)
