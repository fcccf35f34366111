"""Client-side checks of the API's documented rules, run before any request.

Each ``check_*`` raises ``ValidationError`` naming the field and the rule.
``member_problem`` returns the problem instead, for the bulk path, where a bad
member is reported in ``invalid`` and the upload goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

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
    return value


def check_range(name: str, value: object, low: int, high: int) -> int:
    """Return *value* if it is an int in ``low..high``, else raise ``ValidationError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def check_page_size(value: object) -> int:
    """Return a valid ``page_size`` (1..100)."""
    return check_range("page_size", value, 1, MAX_PAGE_SIZE)


def check_max_items(value: object) -> int | None:
    """Return a valid ``max_items`` (``None``, or an int >= 0)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"max_items must be None or an integer >= 0, got {value!r}")
    return value


def check_batch_size(value: object) -> int:
    """Return a valid ``batch_size`` (1..1000)."""
    return check_range("batch_size", value, 1, MAX_BATCH_SIZE)


def check_id(name: str, value: object) -> int:
    """Return *value* if it is a usable id (a non-negative int), else raise ``ValidationError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{name} must be a non-negative integer, got {value!r}")
    return value


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


def name_problem(name: object) -> str | None:
    """Describe what is wrong with a member *name*, or return ``None``."""
    if name is not None and (not isinstance(name, str) or len(name) > MAX_MEMBER_NAME):
        return f"name must be a string of at most {MAX_MEMBER_NAME} characters"
    return None


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
        if bound <= MAX_VARS_BYTES:
            if type(item) is str:
                bound += _MAX_BYTES_PER_CHAR * (len(key) + len(item)) + _ITEM_OVERHEAD
            else:
                bound = MAX_VARS_BYTES + 1  # not a string: measure exactly
    if bound <= MAX_VARS_BYTES:
        return None
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except (TypeError, ValueError):
        return "vars must be JSON-serialisable"
    if size > MAX_VARS_BYTES:
        return f"vars must be at most {MAX_VARS_BYTES} bytes as JSON, got {size}"
    return None


def member_problem(member: NewMember) -> str | None:
    """Describe the first rule *member* breaks, or return ``None`` if it may be sent."""
    return phone_problem(member.phone) or name_problem(member.name) or vars_problem(member.vars)


MEMBER_KEYS = frozenset({"phone", "name", "vars"})


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
