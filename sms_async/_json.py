"""JSON encoding and decoding: orjson when installed (``sms-async[fast]``), else the stdlib.

Both give the same result for everything the SDK sends: compact UTF-8 JSON.
Values orjson refuses (integers beyond 64 bits, say) fall back to the stdlib.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

__all__ = ["FAST", "dumps", "encodable", "loads"]

try:
    _orjson: Any = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the install
    _orjson = None

#: True when orjson does the work.
FAST = _orjson is not None

_fast_dumps: Callable[[Any], bytes] | None = _orjson.dumps if FAST else None

#: Decode JSON bytes; raises ``ValueError`` (or ``RecursionError``) when they are not JSON.
loads: Callable[[bytes], Any] = _orjson.loads if FAST else json.loads


def dumps(value: Any) -> bytes:
    """Encode *value* as compact UTF-8 JSON."""
    if _fast_dumps is not None:
        try:
            return _fast_dumps(value)
        except TypeError:
            pass  # a value orjson does not take: the stdlib may
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encodable(text: str) -> bool:
    """Whether *text* can be sent as UTF-8 (it holds no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
