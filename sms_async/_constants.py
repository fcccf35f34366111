"""Every default and limit of the SDK, in one place.

Other modules import these names; none of them repeats a literal.
"""

from __future__ import annotations

from typing import Final

import httpx

#: Base URL of the v1 REST API (contact lists and members).
DEFAULT_BASE_URL: Final = "https://sms.api.engagelab.cc"
#: Base URL of the smsapi (contact-list tasks).
DEFAULT_TASK_BASE_URL: Final = "https://api.sendcloud.net"

ENV_USER: Final = "SMS_ASYNC_USER"
ENV_KEY: Final = "SMS_ASYNC_KEY"
ENV_BASE_URL: Final = "SMS_ASYNC_BASE_URL"
ENV_TASK_BASE_URL: Final = "SMS_ASYNC_TASK_BASE_URL"

#: 30 s for reads, writes and the pool; 5 s to connect.
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
DEFAULT_MAX_RETRIES: Final = 3
DEFAULT_MAX_CONCURRENCY: Final = 8
DEFAULT_SIGNATURE_METHOD: Final = "md5"
SIGNATURE_METHODS: Final = frozenset({"md5", "sha256"})

# Retry backoff: exponential with full jitter.
RETRY_INITIAL_WAIT: Final = 0.5
RETRY_MAX_WAIT: Final = 8.0
#: A Retry-After longer than this is not slept through: the error is raised.
RETRY_AFTER_MAX: Final = 60.0

# API limits.
MAX_PAGE_SIZE: Final = 100
DEFAULT_PAGE_SIZE: Final = 100
MAX_BATCH_SIZE: Final = 1000
DEFAULT_BATCH_SIZE: Final = 1000
MAX_MEMBER_IDS: Final = 100
MAX_CONTACT_LIST_NAME: Final = 48
MAX_DESCRIPTION: Final = 255
MAX_MEMBER_NAME: Final = 48
MAX_VARS_BYTES: Final = 1024
MAX_VAR_KEY: Final = 32

# tasks.wait
DEFAULT_POLL_INTERVAL: Final = 5.0

#: Characters of a response body kept in an error.
BODY_EXCERPT_CHARS: Final = 200
#: Characters of a server's message kept in an error.
MAX_MESSAGE_CHARS: Final = 500
#: A response body larger than this is refused rather than read into memory.
MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024

#: Seconds a response close or a lease release may take in the background after a
#: cancellation, and that ``aclose()`` waits for such cleanup, before giving up on it.
CLOSE_TIMEOUT: Final = 5.0

# Shared limiters (sms_async.contrib.redis).
#: Seconds any one Redis call of a limiter may take.
DEFAULT_REDIS_TIMEOUT: Final = 2.0
#: Seconds between two tries of Redis while in the local fallback.
DEFAULT_RETRY_REDIS_AFTER: Final = 5.0

#: The API's clock: timestamps without an offset are UTC+8.
API_UTC_OFFSET_HOURS: Final = 8
TASK_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"

LOGGER_NAME: Final = "sms_async"
