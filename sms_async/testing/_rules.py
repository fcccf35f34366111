# The fake keeps its own copy of the API's rules on purpose: everything below is written
# from the API document, not imported from the SDK (sms_async._constants, _validation), so
# that a client and the fake it is tested against cannot agree on the same mistake.
"""The API's rules as the fake enforces them: limits, codes, status texts, member checks."""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = [
    "CODE_INVALID",
    "CODE_LIST_MISSING",
    "CODE_MEMBER_MISSING",
    "CODE_NAME_EMPTY",
    "CODE_NAME_TAKEN",
    "CODE_UNAUTHORIZED",
    "EXECUTE_TIME",
    "FAILED",
    "INTEGER",
    "LIST_NAME",
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "MAX_DESCRIPTION",
    "MAX_LIST_NAME",
    "MAX_MEMBER_IDS",
    "MAX_MEMBER_NAME",
    "MAX_PAGE",
    "MAX_VARS_BYTES",
    "MAX_VAR_KEY",
    "RUNNING",
    "SC_BAD_PARAM",
    "SC_EXECUTE_TIME_FORMAT",
    "SC_EXECUTE_TIME_PAST",
    "SC_NOT_FOUND",
    "SC_OK",
    "SC_SIGNATURE_MISSING",
    "SC_SIGNATURE_WRONG",
    "SC_TEMPLATE_EMPTY",
    "SC_TEMPLATE_MISSING",
    "SC_TIMESTAMP",
    "SC_USER_EMPTY",
    "SC_USER_UNKNOWN",
    "SUCCEEDED",
    "TIMESTAMP_WINDOW_MS",
    "WAITING",
    "is_id",
    "name_problem",
    "phone_problem",
    "vars_problem",
]

# --- limits ------------------------------------------------------------------------------

MAX_LIST_NAME: Final = 48
MAX_DESCRIPTION: Final = 255
MAX_MEMBER_NAME: Final = 48
MAX_VARS_BYTES: Final = 1024
MAX_VAR_KEY: Final = 32
MAX_PAGE: Final = 100
MAX_BATCH: Final = 1000
MAX_MEMBER_IDS: Final = 100
#: Requests with a larger body are refused with 413 (a batch of 1000 is about 1 MB at most).
MAX_BODY_BYTES: Final = 8 * 1024 * 1024
#: The smsapi ``timestamp`` may be this far from the server's clock.
TIMESTAMP_WINDOW_MS: Final = 60_000

# --- v1 codes: documented ... --------------------------------------------------------------

CODE_UNAUTHORIZED: Final = 30000
CODE_LIST_MISSING: Final = 35002
CODE_NAME_EMPTY: Final = 35004
# ... and the fake's own choice for what the seed leaves undocumented.
CODE_INVALID: Final = 35000
CODE_NAME_TAKEN: Final = 35001
CODE_MEMBER_MISSING: Final = 35003

# --- smsapi statusCodes: documented ... ----------------------------------------------------

SC_OK: Final = 200
SC_SIGNATURE_MISSING: Final = 421
SC_SIGNATURE_WRONG: Final = 422
SC_TEMPLATE_MISSING: Final = 431
SC_TEMPLATE_EMPTY: Final = 433
SC_EXECUTE_TIME_FORMAT: Final = 451
SC_EXECUTE_TIME_PAST: Final = 452
SC_TIMESTAMP: Final = 461
SC_USER_UNKNOWN: Final = 471
SC_USER_EMPTY: Final = 472
# ... and the fake's own choice.
SC_BAD_PARAM: Final = 400
SC_NOT_FOUND: Final = 404

# --- task statuses -------------------------------------------------------------------------

WAITING: Final = "等待执行"
RUNNING: Final = "执行中"
SUCCEEDED: Final = "执行成功"
FAILED: Final = "执行失败"

# --- the shapes of values ------------------------------------------------------------------

LIST_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,48}")
EXECUTE_TIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
INTEGER: Final = re.compile(r"-?[0-9]{1,18}")
_PHONE: Final = re.compile(r"\+?[0-9]+")
_JSON_ESCAPED: Final = re.compile(r'["\\\x00-\x1f]')
_COMPACT: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def is_id(text: str) -> bool:
    """True when *text* can name a stored object: ASCII digits, at most 18 of them."""
    return text.isascii() and text.isdigit() and len(text) <= 18


# --- members (per the API document, independently of the SDK) ------------------------------


def phone_problem(phone: Any) -> str | None:
    """Why *phone* is not a valid phone (digits, optional leading ``+``), or ``None``."""
    if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
        return "phone must be digits with an optional leading '+'"
    return None


def name_problem(name: Any) -> str | None:
    """Why *name* is not a valid member name (a string of at most 48), or ``None``."""
    if name is not None and (not isinstance(name, str) or len(name) > MAX_MEMBER_NAME):
        return f"name must be a string of at most {MAX_MEMBER_NAME} characters"
    return None


def vars_problem(value: Any) -> str | None:
    """Why *value* is not valid vars (object, <= 1 KB, keys <= 32 without '%'), or ``None``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return "vars must be an object"
    for key in value:
        if len(key) > MAX_VAR_KEY or "%" in key:
            return f"vars keys must be at most {MAX_VAR_KEY} characters, without '%'"
    try:
        size = _json_size(value)
    except UnicodeEncodeError:
        return "vars must be valid text"
    if size > MAX_VARS_BYTES:
        return f"vars must be at most {MAX_VARS_BYTES} bytes"
    return None


def _json_size(value: dict[str, Any]) -> int:
    """Bytes of *value* as compact UTF-8 JSON (counted directly for flat string vars)."""
    size = 1 if value else 2  # the braces, less the comma that n pairs do not need
    for key, item in value.items():
        if type(item) is not str or _JSON_ESCAPED.search(key) or _JSON_ESCAPED.search(item):
            return len(_COMPACT.encode(value).encode("utf-8"))
        size += len(key.encode()) + len(item.encode()) + 6  # "k":"v",
    return size
