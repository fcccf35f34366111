"""JSON encoding and decoding: orjson when installed (``sms-async[fast]``), else the stdlib.

Both give the same result for everything the SDK sends: compact UTF-8 JSON.
Values orjson refuses (integers beyond 64 bits, say) fall back to the stdlib.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

__all__ = [
    "CHUNKS",
    "FAST",
    "dumps",
    "dumps_exact",
    "encodable",
    "fragment",
    "freeze",
    "loads",
    "loads_text",
    "thaw",
]

try:
    _orjson: Any = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - depends on the install
    _orjson = None

#: True when orjson does the work.
FAST = _orjson is not None

_fast_dumps: Callable[[Any], bytes] | None = _orjson.dumps if FAST else None

#: Decode JSON bytes; raises ``ValueError`` (or ``RecursionError``) when they are not JSON.
loads: Callable[[bytes], Any] = _orjson.loads if FAST else json.loads
#: Decode JSON text (a str); the same errors. The stdlib's passes lone surrogates, orjson's not.
loads_text: Callable[[str], Any] = _orjson.loads if FAST else json.loads


#: orjson's holder of ready JSON, which it writes out as it is (orjson 3.9.11 and later).
_Fragment: Any = getattr(_orjson, "Fragment", None)

#: True when ``dumps_exact`` and ``fragment`` work: a batch may be sent as JSON made ahead.
CHUNKS = _Fragment is not None


def dumps(value: Any) -> bytes:
    """Encode *value* as compact UTF-8 JSON (``freeze`` snapshots included)."""
    if _fast_dumps is not None:
        try:
            return _fast_dumps(value)
        except TypeError:
            pass  # a value orjson does not take: the stdlib may
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), default=_thawed_or_refused
    ).encode("utf-8")


#: orjson refuses (``TypeError``) what it would otherwise write by its own rules: subclasses
#: of str, int, dict and list, dates and times, dataclasses.
_EXACT = (
    _orjson.OPT_PASSTHROUGH_SUBCLASS
    | _orjson.OPT_PASSTHROUGH_DATETIME
    | _orjson.OPT_PASSTHROUGH_DATACLASS
    if FAST
    else 0
)


def dumps_exact(value: Any) -> bytes | None:
    """*value* as compact JSON by orjson, or ``None`` (no orjson, or a value it would adapt).

    ``None`` too with an orjson too old for ``fragment`` (before 3.9.11), which the
    caller needs to send the JSON it gets.

    For a caller that checked the types in *value* itself and then reads the
    JSON: orjson writes the builtin types exactly as ``dumps`` does, and refuses
    subclasses, dates, dataclasses, integers beyond 64 bits, non-str keys and
    lone surrogates. It still writes enums, UUIDs and fragments, and NaN as
    ``null``: the caller's type check rules those out.
    """
    if not CHUNKS:
        return None
    try:
        return _orjson.dumps(value, option=_EXACT)  # type: ignore[no-any-return]  # orjson is Any here
    except TypeError:
        return None


def fragment(data: bytes) -> Any:
    """Ready JSON *data* that ``dumps`` writes out as it is (needs orjson: see ``FAST``)."""
    return _Fragment(data)


def freeze(value: dict[str, Any]) -> Any:
    """A snapshot of the dict *value* to send: its JSON in an ``orjson.Fragment``, or a copy.

    Either way, later changes to *value* are not in it. The fragment (with
    orjson installed) is also no container the garbage collector tracks: a
    large upload holds thousands of snapshots at once, which the collector
    would otherwise traverse again and again. ``dumps`` writes it as the dict
    would be written; ``thaw`` gives the dict back. Raises ``TypeError`` when
    orjson cannot encode *value* (an integer beyond 64 bits, say).
    """
    if _Fragment is None:
        return value.copy()
    return _Fragment(_orjson.dumps(value))


def thaw(value: Any) -> Any:
    """The dict of a ``freeze`` snapshot; any other value as it is."""
    if _Fragment is not None and type(value) is _Fragment:
        return _orjson.loads(_orjson.dumps(value))  # orjson writes a fragment's JSON out
    return value


def _thawed_or_refused(value: Any) -> Any:
    """The stdlib encoder's ``default``: a fragment's value; for anything else, TypeError."""
    if _Fragment is not None and type(value) is _Fragment:
        return thaw(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encodable(text: str) -> bool:
    """Whether *text* can be sent as UTF-8 (it holds no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
