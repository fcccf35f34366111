"""sms_async: a typed asyncio SDK for the SMS contact-list API and its task API.

The public surface is what ``__all__`` lists; every other module is private.
"""

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
