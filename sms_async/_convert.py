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


def _parse_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a timestamp string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=API_TZ)
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


def parse_vars(value: Any) -> dict[str, Any]:
    """Parse a member's ``vars`` in any form the API uses into a dict.

    Accepts a JSON object, ``None`` or ``""`` (empty), a JSON string, or the
    single-quoted Python-like form ``"{'beizhu':'hello'}"``, which is read by a
    literal-only parser. Anything else raises ``ValueError``.
    """
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
