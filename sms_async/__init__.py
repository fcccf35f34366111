"""sms_async: a typed asyncio SDK for the SMS contact-list API and its task API.

The public surface is what ``__all__`` lists; every other module is private.

Public names are imported on first use (PEP 562): ``import sms_async`` costs
next to nothing, and a tool that needs part of the SDK does not pay for the
rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._auth import sign_params
    from ._client import AsyncSmsClient
    from ._errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BulkAddAbortedError,
        BulkAddError,
        ConfigurationError,
        LimiterUnavailableError,
        MalformedResponseError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ServerError,
        SmsError,
        ValidationError,
    )
    from ._journal import ImportJournal
    from ._limits import (
        ConcurrencyLimiter,
        LocalConcurrencyLimiter,
        LocalRateLimiter,
        RateLimiter,
    )
    from ._models import (
        AddMembersResult,
        AddProgress,
        BatchOutcome,
        ContactList,
        FailedBatch,
        Member,
        NewMember,
        Page,
        SmsTask,
        TaskStatus,
    )
    from ._pagination import AsyncPaginator
    from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AddMembersResult",
    "AddProgress",
    "AsyncPaginator",
    "AsyncSmsClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchOutcome",
    "BulkAddAbortedError",
    "BulkAddError",
    "ConcurrencyLimiter",
    "ConfigurationError",
    "ContactList",
    "FailedBatch",
    "ImportJournal",
    "LimiterUnavailableError",
    "LocalConcurrencyLimiter",
    "LocalRateLimiter",
    "MalformedResponseError",
    "Member",
    "NewMember",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiter",
    "ServerError",
    "SmsError",
    "SmsTask",
    "TaskStatus",
    "ValidationError",
    "__version__",
    "sign_params",
]

#: Where each public name lives (imported on first use, PEP 562).
_LOCATIONS: dict[str, str] = {
    "APIConnectionError": "._errors",
    "APIError": "._errors",
    "APITimeoutError": "._errors",
    "AddMembersResult": "._models",
    "AddProgress": "._models",
    "AsyncPaginator": "._pagination",
    "AsyncSmsClient": "._client",
    "AuthenticationError": "._errors",
    "BadRequestError": "._errors",
    "BatchOutcome": "._models",
    "BulkAddAbortedError": "._errors",
    "BulkAddError": "._errors",
    "ConcurrencyLimiter": "._limits",
    "ConfigurationError": "._errors",
    "ContactList": "._models",
    "FailedBatch": "._models",
    "ImportJournal": "._journal",
    "LimiterUnavailableError": "._errors",
    "LocalConcurrencyLimiter": "._limits",
    "LocalRateLimiter": "._limits",
    "MalformedResponseError": "._errors",
    "Member": "._models",
    "NewMember": "._models",
    "NotFoundError": "._errors",
    "Page": "._models",
    "PermissionDeniedError": "._errors",
    "RateLimitError": "._errors",
    "RateLimiter": "._limits",
    "ServerError": "._errors",
    "SmsError": "._errors",
    "SmsTask": "._models",
    "TaskStatus": "._models",
    "ValidationError": "._errors",
    "__version__": "._version",
    "sign_params": "._auth",
}


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'sms_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
