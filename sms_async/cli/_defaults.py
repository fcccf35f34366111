"""The SDK's defaults the command's options show, without importing the SDK.

``sms_async._constants`` imports httpx (for its timeout), and ``--help`` must
not pay for that; a test checks that these are the SDK's values.
"""

from __future__ import annotations

from typing import Final

#: ``_constants.DEFAULT_BATCH_SIZE``.
DEFAULT_BATCH_SIZE: Final = 1000
#: ``_constants.DEFAULT_MAX_CONCURRENCY``.
DEFAULT_MAX_CONCURRENCY: Final = 8
#: ``_constants.DEFAULT_POLL_INTERVAL``.
DEFAULT_POLL_INTERVAL: Final = 5.0
#: ``_constants.LOGGER_NAME``.
LOGGER_NAME: Final = "sms_async"
