"""The one cattrs converter: JSON <-> models, absorbing the API's quirks.

Quirks absorbed here, and nowhere else:

- list rows spell the id ``contact_List_id`` (create returns ``contact_list_id``);
- ``vars`` comes back as a single-quoted, Python-like string
  (``"{'beizhu':'hello'}"``): parsed as JSON first, then by a literal-only
  parser (``ast.literal_eval``; never ``eval``);
- timestamps are ``2016-05-10T15:18:38+0800`` (v1) or ``2017-05-19 14:22:57``
  (smsapi, on the API's UTC+8 clock); every datetime is made timezone-aware;
- ``endTime`` of ``""`` means ``None``;
- smsapi fields are camelCase; unknown extra fields are ignored; missing
  optional fields take their defaults; ``null`` strings read as ``""``.

Any mismatch raises; the transport turns it into ``MalformedResponseError``.

The hot path of a large listing has quick passes in front of the full ones:
``quick_member_page`` builds a page of members in one pass, ``quick_vars``
reads the usual single-quoted vars as JSON. Each answers only for the usual
shape, exactly as the full path would, and leaves anything else to it (so
errors are still described by path); ``tests/test_fast_paths.py`` checks that
they agree.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ._constants import API_UTC_OFFSET_HOURS, TASK_TIME_FORMAT
from ._json import FAST, encodable, loads_text
from ._models import ContactList, Member, NewMember, SmsTask, TaskStatus

__all__ = [
    "API_TZ",
    "AddResponse",
    "CountResponse",
    "ListResponse",
    "ResultResponse",
    "TaskResponse",
    "format_execute_time",
    "get_converter",
    "parse_vars",
    "unstructure_member",
]

T = TypeVar("T")

#: The API's clock.
API_TZ = timezone(timedelta(hours=API_UTC_OFFSET_HOURS))


# --- response envelopes (private shapes of the API's bodies) -------------------------


@attrs.frozen
class ResultResponse(Generic[T]):
    """``{"result": <T>}``: create a list."""

    result: T


@attrs.frozen
class ListResponse(Generic[T]):
    """``{"result": [...], "count": n, "total": N}``: a page of a listing."""

    result: list[T]
    total: int
    count: int | None = None


@attrs.frozen
class CountResponse:
    """``{"count": n}``: update and delete."""

    count: int


@attrs.frozen
class AddResult:
    """The ``result`` of an add-members call."""

    count: int = 0
    invalid: list[str] = attrs.field(factory=list)


AddResponse = ResultResponse[AddResult]


@attrs.frozen
class _TaskInfo:
    sms_task: SmsTask


@attrs.frozen
class TaskResponse:
    """The ``info`` of a successful smsapi envelope."""

    info: _TaskInfo

    @property
    def task(self) -> SmsTask:
        """The task in the envelope."""
        return self.info.sms_task


# --- scalar hooks ----------------------------------------------------------------------


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _structure_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a boolean, got {type(value).__name__}")


#: Timestamps parsed lately, by their text: the members of a listing were mostly
#: added in bulk and share a handful of them. Datetimes are immutable; shared is fine.
_TIMES: dict[Any, datetime] = {}
_MAX_TIMES = 1024


def _parse_datetime(value: Any) -> datetime | None:
    if type(value) is str:
        parsed = _TIMES.get(value)
        if parsed is not None:
            return parsed
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a timestamp string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=API_TZ)
    if type(value) is str:
        if len(_TIMES) >= _MAX_TIMES:
            _TIMES.clear()
        _TIMES[value] = parsed
    return parsed


def _structure_optional_datetime(value: Any, _: type) -> datetime | None:
    return _parse_datetime(value)


def _structure_datetime(value: Any, _: type) -> datetime:
    parsed = _parse_datetime(value)
    if parsed is None:
        raise ValueError("expected a timestamp, got an empty value")
    return parsed


#: The literal parser is only run on strings up to this size (vars are at most 1 KB).
_MAX_LITERAL_CHARS = 64 * 1024

# The quirk's usual form, ``{'k':'v', 'k2':'v2'}`` with no escapes inside the
# quotes, is read by these two regexes: ten times faster than the literal parser,
# and exactly what ``ast.literal_eval`` would return for it.
_PAIR = r"'([^'\\\n\r\x00]*)'\s*:\s*'([^'\\\n\r\x00]*)'"
_FLAT_QUOTED = re.compile(rf"\{{\s*(?:{_PAIR}(?:\s*,\s*{_PAIR})*\s*,?\s*)?\}}")
_FLAT_PAIRS = re.compile(_PAIR)


def _checked_text_loads(text: str) -> Any:
    """The stdlib's JSON of a str, refusing lone surrogates as orjson does."""
    if not encodable(text):
        raise ValueError("the text holds a lone surrogate")
    return json.loads(text)


#: JSON of a str: orjson when installed; either way, a lone surrogate is an error.
_text_loads: Callable[[str], Any] = loads_text if FAST else _checked_text_loads


def quick_vars(value: str) -> dict[str, Any] | None:
    """The quirk's single-quoted vars of flat strings and integers, or ``None``: parse in full.

    ``{'k':'v','n':3}`` with no ``"`` nor backslash in it is JSON once its
    quotes are swapped; the JSON parser reads it about three times faster than
    the regexes of the full parser. A result is returned only where JSON and the
    Python literal agree: the values are strings or integers (JSON's ``true``,
    ``null`` or floats are not Python's, or are not read alike); anything else
    (including a parse error) is left to ``parse_vars_reference``, so that
    ``parse_vars`` accepts and refuses exactly what it always did.
    """
    if len(value) > _MAX_LITERAL_CHARS or '"' in value or "\\" in value:
        return None
    try:
        parsed = _text_loads(value.replace("'", '"'))
    except ValueError:  # orjson's and the stdlib's decode errors are ValueErrors
        return None
    if type(parsed) is not dict:
        return None
    for item in parsed.values():
        kind = type(item)
        if kind is not str and kind is not int:
            return None
    return parsed


def parse_vars(value: Any) -> dict[str, Any]:
    """Parse a member's ``vars`` in any form the API uses into a dict.

    Accepts a JSON object, ``None`` or ``""`` (empty), a JSON string, or the
    single-quoted Python-like form ``"{'beizhu':'hello'}"``, which is read by a
    literal-only parser. Anything else raises ``ValueError``.
    """
    if type(value) is str and value:
        parsed = quick_vars(value)
        if parsed is not None:
            return parsed
    elif type(value) is dict:
        for key in value:
            if type(key) is not str:
                break
        else:
            return value.copy()
    return parse_vars_reference(value)


def parse_vars_reference(value: Any) -> dict[str, Any]:
    """``parse_vars`` without its quick path: what the quick path must agree with."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    if not isinstance(value, str):
        raise TypeError(f"expected vars as an object or a string, got {type(value).__name__}")
    if value.startswith("{'") and _FLAT_QUOTED.fullmatch(value):
        return dict(_FLAT_PAIRS.findall(value))
    try:
        parsed = json.loads(value)
    except ValueError:
        if len(value) > _MAX_LITERAL_CHARS:
            raise ValueError("vars string is too long to parse") from None
        try:
            parsed = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
            raise ValueError("vars is neither JSON nor a literal mapping") from exc
    if not isinstance(parsed, dict):
        raise ValueError(f"vars must be a mapping, got {type(parsed).__name__}")
    return {str(key): item for key, item in parsed.items()}


def _structure_vars(value: Any, _: type) -> dict[str, Any]:
    return parse_vars(value)


def quick_member_page(value: Any) -> ListResponse[Member] | None:
    """A page of a member listing in the usual well-formed shape, or ``None``: structure it in full.

    The hot path of a large listing: one pass over the rows, exact types only
    (``int`` ids and counts, ``str`` phones and names, vars in any form
    ``parse_vars`` reads, timestamps as text or ``null``), each ``Member``
    built directly. What it returns is what the converter's full (and much
    dearer) structuring returns; for anything else (a missing id, a ``null``
    phone, an id as text, a bad timestamp, unreadable vars) it returns
    ``None``, and the full structuring answers, or describes the error by path.
    """
    if type(value) is not dict:
        return None
    rows = value.get("result")
    total = value.get("total")
    count = value.get("count")
    if (
        type(rows) is not list
        or type(total) is not int
        or (count is not None and type(count) is not int)
    ):
        return None
    members: list[Member] = []
    append = members.append
    times = _TIMES
    try:
        for row in rows:
            if type(row) is not dict:
                return None
            member_id = row["member_id"]
            phone = row.get("phone", "")
            name = row.get("name", "")
            if type(member_id) is not int or type(phone) is not str or type(name) is not str:
                return None
            variables = row.get("vars")
            if type(variables) is str and variables:  # the quirk: a single-quoted literal
                parsed = quick_vars(variables)
                if parsed is None:
                    parsed = parse_vars_reference(variables)
            else:
                parsed = parse_vars(variables)  # also the missing key: None gives {}
            created = row.get("create_time")
            updated = row.get("update_time")
            append(
                Member(
                    member_id,
                    phone,
                    name,
                    parsed,
                    times.get(created) or _parse_datetime(created),
                    times.get(updated) or _parse_datetime(updated),
                )
            )
    except Exception:  # any failure is the full structuring's to describe
        return None
    return ListResponse(members, total, count)


# --- the converter -----------------------------------------------------------------------


if TYPE_CHECKING:
    import cattrs


def _make_converter() -> cattrs.Converter:
    import cattrs  # imported with the first answer parsed, not with the SDK (~60 ms)
    from cattrs.gen import make_dict_structure_fn, override

    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(datetime | None, _structure_optional_datetime)

    contact_list_fn = make_dict_structure_fn(ContactList, conv)

    def structure_contact_list(value: Any, _: type) -> ContactList:
        # the list endpoint spells the id contact_List_id
        if (
            isinstance(value, Mapping)
            and "contact_list_id" not in value
            and "contact_List_id" in value
        ):
            value = {**value, "contact_list_id": value["contact_List_id"]}
        return contact_list_fn(value, ContactList)

    conv.register_structure_hook(ContactList, structure_contact_list)

    conv.register_structure_hook(
        Member,
        make_dict_structure_fn(Member, conv, vars=override(struct_hook=_structure_vars)),
    )
    member_page_fn = make_dict_structure_fn(ListResponse[Member], conv)

    def structure_member_page(value: Any, cls: type) -> ListResponse[Member]:
        # the quick pass, else the full structuring (which describes any error by path)
        page = quick_member_page(value)
        return member_page_fn(value, cls) if page is None else page

    # by predicate: registering the generic alias itself would resolve its annotations
    member_page = ListResponse[Member]
    conv.register_structure_hook_func(lambda cls: cls == member_page, structure_member_page)

    task_fn = make_dict_structure_fn(
        SmsTask,
        conv,
        task_id=override(rename="taskId"),
        contact_list_name=override(rename="contactListName"),
        task_name=override(rename="taskName"),
        sender_name=override(rename="senderName"),
        template_id=override(rename="templateId"),
        member_count=override(rename="memberCount"),
        status=override(omit=True),
        raw_status=override(rename="status"),
        create_time=override(rename="createTime"),
        end_time=override(rename="endTime"),
    )

    def structure_task(value: Any, _: type) -> SmsTask:
        task = task_fn(value, SmsTask)
        return attrs.evolve(task, status=TaskStatus.from_raw(task.raw_status))

    conv.register_structure_hook(SmsTask, structure_task)
    conv.register_structure_hook(
        _TaskInfo,
        make_dict_structure_fn(_TaskInfo, conv, sms_task=override(rename="smsTask")),
    )
    conv.register_unstructure_hook(NewMember, unstructure_member)
    return conv


def unstructure_member(member: NewMember) -> dict[str, Any]:
    """Return the JSON object of *member* for an add, leaving out ``None`` fields."""
    return member_fields(member.phone, member.name, member.vars)


def member_fields(phone: str | None, name: str | None, vars: Any) -> dict[str, Any]:
    """The JSON object of a member's fields (an add, or an update's changes); ``None`` left out."""
    data: dict[str, Any] = {}
    if phone is not None:
        data["phone"] = phone
    if name is not None:
        data["name"] = name
    if vars is not None:
        # any Mapping is accepted; JSON encoders only take a dict
        data["vars"] = vars if type(vars) is dict else dict(vars)
    return data


def format_execute_time(value: datetime) -> str:
    """Format an ``executeTime``: aware datetimes are converted to UTC+8, naive ones kept."""
    if value.tzinfo is not None:
        value = value.astimezone(API_TZ)
    return value.strftime(TASK_TIME_FORMAT)


@functools.cache
def get_converter() -> cattrs.Converter:
    """The converter every JSON <-> model mapping goes through (built on first use)."""
    return _make_converter()


def structurer(cls: type[T]) -> Callable[[Any], T]:
    """Return a one-argument function that structures JSON into *cls*.

    The structuring hook is made on the first call (with the converter), so that
    importing the SDK does not import cattrs or generate code.
    """
    hooks: list[Callable[[Any, type], Any]] = []

    def structure(value: Any) -> T:
        if not hooks:
            hooks.append(get_converter().get_structure_hook(cls))
        # cattrs types its hooks' results as Any; the hook was made for cls.
        return hooks[0](value, cls)  # type: ignore[no-any-return]

    return structure
