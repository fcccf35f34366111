"""Client-side checks of the API's documented rules, run before any request.

Each ``check_*`` raises ``ValidationError`` naming the field and the rule.
``member_problem`` returns the problem instead, for the bulk path, where a bad
member is reported in ``invalid`` and the upload goes on; in front of it,
``quick_payload`` takes the usual well-formed member in one pass and leaves
anything else to the full checks (``tests/test_fast_paths.py`` checks that
they agree).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Mapping
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

from ._checks import integer
from ._constants import (
    MAX_BATCH_SIZE,
    MAX_CONTACT_LIST_NAME,
    MAX_DESCRIPTION,
    MAX_MEMBER_NAME,
    MAX_PAGE_SIZE,
    MAX_VAR_KEY,
    MAX_VARS_BYTES,
)
from ._errors import ValidationError
from ._json import CHUNKS, dumps_exact, encodable, freeze
from ._models import NewMember

_LIST_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_CONTACT_LIST_NAME}}}")
PHONE_PATTERN = re.compile(r"\+?[0-9]+")


def check_contact_list_name(value: object) -> str:
    """Return *value* if it is a valid ``contact_list_name``, else raise ``ValidationError``."""
    if not isinstance(value, str) or not _LIST_NAME.fullmatch(value):
        raise ValidationError(
            "contact_list_name must match ^[A-Za-z0-9_-]{1,48}$ "
            "(letters, digits, '_' and '-', 1 to 48 characters)"
        )
    return value


def check_description(value: object) -> str:
    """Return *value* if it is a valid ``description``, else raise ``ValidationError``."""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise ValidationError(
            f"description must be a string of at most {MAX_DESCRIPTION} characters"
        )
    check_text("description", value)
    return value


def check_range(name: str, value: object, low: int, high: int) -> int:
    """Return *value* if it is an int in ``low..high``, else raise ``ValidationError``."""
    return integer(name, value, low=low, high=high)


def check_page_size(value: object) -> int:
    """Return a valid ``page_size`` (1..100)."""
    return check_range("page_size", value, 1, MAX_PAGE_SIZE)


def check_max_items(value: object) -> int | None:
    """Return a valid ``max_items`` (``None``, or an int >= 0)."""
    return None if value is None else integer("max_items", value, low=0)


def check_batch_size(value: object) -> int:
    """Return a valid ``batch_size`` (1..1000)."""
    return check_range("batch_size", value, 1, MAX_BATCH_SIZE)


def check_id(name: str, value: object) -> int:
    """Return *value* if it is a usable id (a non-negative int), else raise ``ValidationError``."""
    return integer(name, value, low=0)


_phone_match = PHONE_PATTERN.fullmatch


def phone_problem(phone: object) -> str | None:
    """Describe what is wrong with *phone*, or return ``None``."""
    if type(phone) is str and _phone_match(phone):
        return None  # the common case, checked first and cheaply
    if not isinstance(phone, str) or not phone:
        return "phone must be a non-empty string"
    if not _phone_match(phone):
        return "phone must be digits with an optional leading '+'"
    return None


def text_problem(field: str, value: object) -> str | None:
    """Describe why the string *value* of *field* cannot be sent, or return ``None``."""
    if isinstance(value, str) and not encodable(value):
        return f"{field} holds text that cannot be encoded as UTF-8 (a lone surrogate)"
    return None


def check_text(field: str, value: object) -> None:
    """Raise ``ValidationError`` naming *field* if its text cannot be encoded."""
    problem = text_problem(field, value)
    if problem is not None:
        raise ValidationError(problem)


def name_problem(name: object) -> str | None:
    """Describe what is wrong with a member *name*, or return ``None``."""
    if name is not None and (not isinstance(name, str) or len(name) > MAX_MEMBER_NAME):
        return f"name must be a string of at most {MAX_MEMBER_NAME} characters"
    return text_problem("name", name)


#: JSON spends at most this many bytes on one character of a string (``\\u001f``).
_MAX_BYTES_PER_CHAR = 6
#: And this many on each ``"key":"value",`` beyond the characters themselves.
_ITEM_OVERHEAD = 6


def vars_problem(value: object) -> str | None:
    """Describe what is wrong with member *vars*, or return ``None``."""
    if value is None:
        return None
    if type(value) is not dict and not isinstance(value, Mapping):
        return "vars must be a mapping"
    # An upper bound of the JSON size, for the usual flat dict of strings: when it
    # is within the limit, the exact (and much dearer) encoding is not needed.
    bound = 2
    for key, item in value.items():
        if type(key) is not str or len(key) > MAX_VAR_KEY or "%" in key:
            return f"vars keys must be strings of at most {MAX_VAR_KEY} characters without '%'"
        if not key.isascii() and not encodable(key):
            return "vars keys must be text that can be encoded as UTF-8 (no lone surrogate)"
        if bound <= MAX_VARS_BYTES:
            if type(item) is str and (item.isascii() or encodable(item)):
                bound += _MAX_BYTES_PER_CHAR * (len(key) + len(item)) + _ITEM_OVERHEAD
            else:
                bound = MAX_VARS_BYTES + 1  # not a plain string: measure exactly
    if bound <= MAX_VARS_BYTES:
        return None
    try:
        size = len(
            json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
                "utf-8"
            )
        )
    except RecursionError:
        return "vars are nested too deeply to be sent as JSON"
    except UnicodeEncodeError:
        return "vars hold text that cannot be encoded as UTF-8 (a lone surrogate)"
    except (TypeError, ValueError):
        return "vars must be JSON-serialisable (strings, numbers, booleans, null, lists, objects)"
    if size > MAX_VARS_BYTES:
        return f"vars must be at most {MAX_VARS_BYTES} bytes as JSON, got {size}"
    return None


def member_problem(member: NewMember, *, any_phone: bool = False) -> str | None:
    """Describe the first rule *member* breaks, or return ``None`` if it may be sent.

    With *any_phone*, a phone written any way (any string) passes: a client with a
    ``default_region`` normalizes it afterwards (``_phones.PhoneRules``).
    """
    phone = member.phone
    return (
        (_written_phone_problem(phone) if any_phone else phone_problem(phone))
        or name_problem(member.name)
        or vars_problem(member.vars)
    )


def _written_phone_problem(phone: object) -> str | None:
    return None if isinstance(phone, str) else "phone must be a string"


MEMBER_KEYS = frozenset({"phone", "name", "vars"})

_SCALARS = (str, int, float, bool, type(None))


class CheckedMember(dict[str, Any]):
    """A member dict its maker checked with ``payload_problem`` and never changes again.

    The command line reads each row into one, checks it once, and hands it to
    ``members.add``, which then sends it as it is instead of checking and
    copying it a second time. Internal: code that cannot promise both (checked
    with the SDK's own rule, never changed afterwards) passes plain dicts.
    """

    __slots__ = ()


def payload_problem(raw: dict[str, Any], *, any_phone: bool = False) -> str | None:
    """Describe why the plain dict *raw* cannot be sent as a member, or return ``None``.

    The hot path of a large upload: a dict that already is a valid member is
    checked here without building a ``NewMember``. *any_phone* as for
    ``member_problem``.
    """
    phone = raw.get("phone")
    if type(phone) is not str or not (any_phone or _phone_match(phone)):
        return phone_problem(phone) or "phone is not valid"
    name = raw.get("name")
    if name is not None and (
        type(name) is not str
        or len(name) > MAX_MEMBER_NAME
        or not (name.isascii() or encodable(name))
    ):
        return name_problem(name) or "name is not valid"
    variables = raw.get("vars")
    if variables is not None and (type(variables) is not dict or vars_problem(variables)):
        return vars_problem(variables) or "vars must be a dict"
    if not raw.keys() <= MEMBER_KEYS:
        return "member has unknown fields; use phone, name, vars"
    return None


def snapshot_payload(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a valid member to send: ``None`` fields left out, ``vars`` copied too.

    What is sent is then what the input held when it was read, whatever the
    caller does to its dict (or its vars) afterwards.
    """
    payload: dict[str, Any] = {"phone": raw["phone"]}
    name = raw.get("name")
    if name is not None:
        payload["name"] = name
    variables = raw.get("vars")
    if variables is not None:
        if all(type(item) in _SCALARS for item in variables.values()):
            payload["vars"] = dict(variables)
        else:
            payload["vars"] = copy.deepcopy(dict(variables))
    return payload


#: Integers within this bound (exclusive) are at most 20 characters of JSON, and
#: within orjson's 64 bits.
_SHORT_INT = 2**63
#: JSON spends at most ``_MAX_BYTES_PER_CHAR`` times this many bytes on a short int,
#: a finite float (``-1.7976931348623157e+308``: 24), a boolean or ``null``.
_SCALAR_CHARS = 4


def quick_payload(
    phone: object, name: object, variables: object, any_phone: bool = False
) -> dict[str, Any] | None:
    """The payload of a member in the usual well-formed shape, or ``None``: check it in full.

    The hot path of a large upload, in one pass and without building anything
    but the payload: exact types only (``str`` phone and name, a ``dict`` of
    scalars as vars) and the upper bound of the vars' JSON size that
    ``vars_problem`` uses. A member it returns a payload for is one the full
    checks (``payload_problem``, ``member_problem``) accept, and the payload is
    the one ``snapshot_payload`` makes, but for its vars: a ``freeze`` snapshot,
    sent as the copy would be (``thaw`` gives the copy). For anything else (an
    error, a subclass, nested vars, vars near the size limit) it returns
    ``None`` and the full checks decide. With *any_phone*, any ``str`` phone
    passes (as for ``member_problem``).
    """
    # PHONE_PATTERN without the regex engine: ASCII digits, with an optional leading +
    if type(phone) is not str or not (
        any_phone
        or (phone.isascii() and (phone.isdigit() or (phone[1:].isdigit() and phone[0] == "+")))
    ):
        return None
    if name is not None and not (
        type(name) is str and len(name) <= MAX_MEMBER_NAME and (name.isascii() or encodable(name))
    ):
        return None
    if variables is None:
        return {"phone": phone} if name is None else {"phone": phone, "name": name}
    if type(variables) is not dict:
        return None
    chars = 0  # of the keys and values, each counted _MAX_BYTES_PER_CHAR times
    for key, item in variables.items():
        if (
            type(key) is not str
            or len(key) > MAX_VAR_KEY
            or "%" in key
            or not (key.isascii() or encodable(key))
        ):
            return None
        kind = type(item)
        if kind is str:
            if not (item.isascii() or encodable(item)):
                return None
            chars += len(key) + len(item)
        elif (
            (kind is int and -_SHORT_INT < item < _SHORT_INT)
            or kind is bool
            or item is None
            or (kind is float and item - item == 0.0)  # finite: not NaN nor an infinity
        ):
            chars += len(key) + _SCALAR_CHARS
        else:
            return None
    # vars_problem's bound: 2 for the braces, and per item its characters and overhead
    if 2 + _MAX_BYTES_PER_CHAR * chars + _ITEM_OVERHEAD * len(variables) > MAX_VARS_BYTES:
        return None
    try:
        frozen = freeze(variables)  # sent as a copy would be, and cheaper to hold
    except (TypeError, ValueError):  # what orjson does not take (none of the above, so far)
        return None
    if name is None:
        return {"phone": phone, "vars": frozen}
    return {"phone": phone, "name": name, "vars": frozen}


@functools.cache
def members_json_pattern(phone: bytes) -> re.Pattern[bytes]:
    """The JSON array of members ``quick_json`` takes, with phones that *phone* matches.

    *phone* matches one phone as a JSON string, quotes included. The rest is a
    subset of what the full checks accept, read on orjson's compact output: keys
    ``phone``, ``name``, ``vars`` in that order; strings without escapes (no quote,
    backslash or control character); a name of at most ``MAX_MEMBER_NAME`` bytes
    (so at most as many characters); vars of strings, integers and booleans, keys
    of at most ``MAX_VAR_KEY`` bytes without ``%``, and no ``}`` in a key or a value,
    so that the lookahead measures the vars' JSON exactly against ``MAX_VARS_BYTES``.
    """
    name = rb'"[^"\\]{0,%d}+"' % MAX_MEMBER_NAME
    key = rb'"[^"\\%%}]{0,%d}+"' % MAX_VAR_KEY
    item = key + rb':(?:"[^"\\}]*+"|-?[0-9]++|true|false)'
    variables = rb"(?=\{[^}]{0,%d}\})\{(?:%s(?:,%s)*+)?\}" % (MAX_VARS_BYTES - 2, item, item)
    member = rb'\{"phone":%s(?:,"name":%s)?+(?:,"vars":%s)?+\}' % (phone, name, variables)
    # the member once (a comma only before another member): half the pattern to compile
    return re.compile(rb"\[(?:%s(?:,(?=\{)|(?=\]\Z)))++\]" % member)


#: Phones as the API takes them (``PHONE_PATTERN``).
AS_SENT = members_json_pattern(rb'"\+?[0-9]++"')
_phone_of = itemgetter("phone")
_DICT = {dict}
_STR = {str}
_NAMES = {str, type(None)}
_VARS = {dict, type(None)}
_VALUES = {str, int, bool}


def quick_json(members: list[Any], *patterns: re.Pattern[bytes]) -> tuple[bytes, list[str]] | None:
    """The JSON array to send of a chunk of members, and their phones; or ``None``.

    The hot path of a large upload read from a list: one pass in C over the whole
    chunk instead of one per member. Only plain dicts of the usual shape (those
    ``quick_payload`` takes, strings without escapes, vars of strings, integers
    and booleans) in the usual key order; for anything else, or any member the
    full checks would refuse, it returns ``None`` and each member is checked on
    its own. When it answers, every member is one the full checks accept and the
    JSON is the one their payloads would be sent as. The JSON is the snapshot:
    the caller must take it before any code that could change *members* runs.
    *patterns* (``members_json_pattern``; tried in turn, on the one JSON) say which
    phones pass: as the API takes them (``AS_SENT``, without any), or
    (``_phones.e164_json_pattern``) already in E.164 for a client with a region.
    Needs orjson: ``None`` without it.
    """
    if not CHUNKS:
        return None
    try:
        if set(map(type, members)) != _DICT:
            return None
        phones: list[str] = list(map(_phone_of, members))
        variables = list(map(dict.get, members, repeat("vars")))
        if (
            set(map(type, phones)) != _STR
            or not set(map(type, map(dict.get, members, repeat("name")))) <= _NAMES
            or not set(map(type, variables)) <= _VARS
            # enums, UUIDs, fragments and floats (NaN is written as null) stop here
            or not set(map(type, chain.from_iterable(map(dict.values, filter(None, variables)))))
            <= _VALUES
        ):
            return None
    except Exception:  # a member without a phone, or a type that raises: checked one by one
        return None
    data = dumps_exact(members)
    if data is None:
        return None
    for pattern in patterns or (AS_SENT,):
        if pattern.fullmatch(data) is not None:
            return data, phones
    return None


def to_new_member(value: object) -> NewMember:
    """Turn a ``NewMember`` or a dict with ``phone``, ``name``, ``vars`` into a ``NewMember``.

    Raises ``ValidationError`` for anything else, or a dict with other keys or no phone.
    """
    if isinstance(value, NewMember):
        return value
    if isinstance(value, Mapping):
        extra = value.keys() - MEMBER_KEYS
        if extra:
            raise ValidationError(
                f"member has unknown field(s) {sorted(map(str, extra))}; use phone, name, vars"
            )
        if "phone" not in value:
            raise ValidationError("member is missing its phone")
        return NewMember(phone=value["phone"], name=value.get("name"), vars=value.get("vars"))
    raise ValidationError(
        f"a member must be a NewMember or a dict with phone, name, vars; got {type(value).__name__}"
    )


def check_member_fields(*, phone: object, name: object, vars: object) -> None:
    """Check the fields of a member update (``None`` means unchanged)."""
    problem = (
        (phone_problem(phone) if phone is not None else None)
        or name_problem(name)
        or vars_problem(vars)
    )
    if problem:
        raise ValidationError(problem)
