"""The fake's pure in-memory core: both APIs, their quirks, errors, faults and clock.

``FakeService.handle`` takes a request as plain values (method, path, raw
query, lower-cased headers, body bytes) and returns a ``Reply`` (status,
headers, body bytes); it does no I/O. ``FakeService.serve`` wraps it with what
a network adds: the request counters, the injected latency and faults. The
httpx transport and the ASGI app are thin front-ends over ``serve``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hmac
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, NoReturn
from urllib.parse import parse_qsl

import attrs

from .._auth import sign_params
from .._convert import API_TZ
from ._clock import FakeClock
from ._faults import FakeStats, FaultPlanner

__all__ = [
    "ConnectionDropped",
    "FakeService",
    "Reply",
    "StoredContactList",
    "StoredMember",
    "StoredTask",
    "py_literal",
]

logger = logging.getLogger("sms_async.testing")

# --- the API's limits and codes ------------------------------------------------------------

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

# v1 codes: documented ...
CODE_UNAUTHORIZED: Final = 30000
CODE_LIST_MISSING: Final = 35002
CODE_NAME_EMPTY: Final = 35004
# ... and the fake's own choice for what the seed leaves undocumented.
CODE_INVALID: Final = 35000
CODE_NAME_TAKEN: Final = 35001
CODE_MEMBER_MISSING: Final = 35003

# smsapi statusCodes: documented ...
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

WAITING: Final = "等待执行"
RUNNING: Final = "执行中"
SUCCEEDED: Final = "执行成功"
FAILED: Final = "执行失败"

V1_TIME: Final = "%Y-%m-%dT%H:%M:%S%z"
TASK_TIME: Final = "%Y-%m-%d %H:%M:%S"

_LIST_NAME = re.compile(r"[A-Za-z0-9_-]{1,48}")
_PHONE = re.compile(r"\+?[0-9]+")
_EXECUTE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_INT = re.compile(r"-?[0-9]{1,18}")

_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_JSON_TYPE: Final = ("content-type", "application/json;charset=UTF-8")
_HTML_TYPE: Final = ("content-type", "text/html; charset=utf-8")
_UNAVAILABLE_PAGE: Final = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

Sleep = Callable[[float], Awaitable[Any]]


class ConnectionDropped(Exception):
    """Raised by ``FakeService.serve``: close the connection without any response."""


@attrs.frozen
class Reply:
    """A response of the fake: status, headers (without Content-Length) and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON (for tests of the core)."""
        return json.loads(self.body)


class _Fail(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


# --- the stored state ----------------------------------------------------------------------


def _forget_row(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> Any:
    if attribute.name != "_row":
        object.__setattr__(instance, "_row", None)
    return value


@attrs.define(eq=False, on_setattr=_forget_row)
class StoredMember:
    """A member as the fake stores it.

    Attributes:
        member_id: Its id (unique over all lists).
        phone: The phone exactly as it was sent.
        name: Its name (``""`` when none was given).
        vars: Its variables as a dict (after ``name`` overrode a ``name`` key).
        create_time: When it was added (fake clock).
        update_time: When it last changed (fake clock).

    Replace a field rather than change it in place (``member.vars = {...}``):
    the member's rendered row is cached until a field is set.
    """

    member_id: int
    phone: str
    name: str
    vars: dict[str, Any]
    create_time: datetime
    update_time: datetime
    _row: tuple[bool, dict[str, Any]] | None = attrs.field(init=False, default=None, repr=False)


@attrs.define(eq=False)
class StoredContactList:
    """A contact list as the fake stores it.

    Attributes:
        contact_list_id: Its id.
        contact_list_name: Its name (unique in the fake).
        description: Its description.
        create_time: When it was created (fake clock).
        update_time: When its name or description last changed (fake clock).
        members: Its members by id, in id order.
    """

    contact_list_id: int
    contact_list_name: str
    description: str
    create_time: datetime
    update_time: datetime
    members: dict[int, StoredMember] = attrs.field(factory=dict)
    _phones: Counter[str] = attrs.field(init=False, factory=Counter, repr=False)
    _ordered: list[StoredMember] | None = attrs.field(init=False, default=None, repr=False)

    @property
    def member_count(self) -> int:
        """How many members the list holds."""
        return len(self.members)

    @property
    def phones(self) -> list[str]:
        """Every member's phone, in member-id order."""
        return [member.phone for member in self.members.values()]

    def has_phone(self, phone: str) -> bool:
        """True when a member of the list has exactly this phone."""
        return self._phones[phone] > 0

    def ordered(self) -> list[StoredMember]:
        """The members in id order (cached until the membership changes)."""
        if self._ordered is None:
            self._ordered = list(self.members.values())
        return self._ordered

    def _add(self, member: StoredMember) -> None:
        self.members[member.member_id] = member
        self._phones[member.phone] += 1
        self._ordered = None

    def _remove(self, member_id: int) -> None:
        member = self.members.pop(member_id)
        self._forget_phone(member.phone)
        self._ordered = None

    def _forget_phone(self, phone: str) -> None:
        self._phones[phone] -= 1
        if self._phones[phone] <= 0:
            del self._phones[phone]


@attrs.define(eq=False)
class StoredTask:
    """A contact-list task as the fake stores it.

    Its status follows the fake clock: waiting until ``start_time``, running
    until ``end_time``, then ``outcome``, unless ``forced_status`` is set.

    Attributes:
        task_id: Its id.
        contact_list_name: The ``contactListName`` as sent (several joined by ``;``).
        task_name: Its name.
        sender_name: The sender's name.
        template_id: The template's id.
        member_count: Members of the named lists when it was created (summed).
        create_time: When it was created.
        start_time: When it starts running (``executeTime``, or creation plus the
            server's ``task_start_delay``).
        end_time: When it ends (``start_time`` plus the server's ``task_duration``).
        outcome: The status it ends with: ``执行成功`` unless changed.
        forced_status: A status text reported instead of the computed one (any text).
    """

    task_id: int
    contact_list_name: str
    task_name: str
    sender_name: str
    template_id: int
    member_count: int
    create_time: datetime
    start_time: datetime
    end_time: datetime
    outcome: str = SUCCEEDED
    forced_status: str | None = None

    def status_at(self, now: datetime) -> tuple[str, datetime | None]:
        """Return the status text and the end time (``None`` until it ends) at *now*."""
        if self.forced_status is not None:
            ended = self.forced_status in (SUCCEEDED, FAILED)
            return self.forced_status, (min(now, self.end_time) if ended else None)
        if now < self.start_time:
            return WAITING, None
        if now < self.end_time:
            return RUNNING, None
        return self.outcome, self.end_time


# --- formatting ----------------------------------------------------------------------------

_QUOTE_TABLE = {ord("\\"): "\\\\", ord("'"): "\\'", ord("\n"): "\\n", ord("\r"): "\\r"}
_QUOTE_TABLE.update({c: f"\\x{c:02x}" for c in (*range(32), 127) if c not in _QUOTE_TABLE})
_NEEDS_QUOTING = re.compile(r"[\\'\x00-\x1f\x7f]")


def _quote(text: str) -> str:
    if _NEEDS_QUOTING.search(text):
        text = text.translate(_QUOTE_TABLE)
    return f"'{text}'"


def py_literal(value: Any) -> str:
    """Render JSON data in the API's single-quoted, Python-like form: ``{'beizhu':'hello'}``.

    Strings are single-quoted (escapes as in Python), no spaces after ``:`` or
    ``,``, ``True``/``False``/``None`` for JSON's literals: the result is what
    ``ast.literal_eval`` reads back.
    """
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "None"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        items = ",".join(
            f"{py_literal(key)}:{_quote(item) if type(item) is str else py_literal(item)}"
            for key, item in value.items()
        )
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(py_literal(item) for item in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__}")


@functools.lru_cache(maxsize=4096)
def v1_time(when: datetime) -> str:
    """Format a v1 timestamp: ``2016-05-10T15:18:38+0800``."""
    return when.astimezone(API_TZ).strftime(V1_TIME)


def task_time(when: datetime) -> str:
    """Format an smsapi time: ``2017-05-19 14:22:57`` (UTC+8)."""
    return when.astimezone(API_TZ).strftime(TASK_TIME)


def dump_json(value: Any) -> bytes:
    """Encode a response body: compact UTF-8 JSON (ASCII escapes only if it must)."""
    text = _ENCODER.encode(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate sent to us and echoed back
        return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def json_reply(status: int, value: Any, *extra: tuple[str, str]) -> Reply:
    """A JSON reply."""
    return Reply(status, (_JSON_TYPE, *extra), dump_json(value))


def v1_error(status: int, code: int, message: str) -> Reply:
    """A v1 error reply: ``{"code": N, "message": "..."}``."""
    return json_reply(status, {"code": code, "message": message})


def too_many_requests(retry_after: float | None) -> Reply:
    """The 429 reply of an injected fault."""
    extra: tuple[tuple[str, str], ...] = ()
    if retry_after is not None:
        seconds = int(retry_after) if float(retry_after).is_integer() else retry_after
        extra = (("retry-after", str(seconds)),)
    return json_reply(429, {"code": 429, "message": "Too Many Requests"}, *extra)


def unauthorized(route: str) -> Reply:
    """The reply of an injected ``"401"``: the account's credentials are refused."""
    if route.startswith("tasks."):
        return json_reply(
            200,
            {"result": False, "statusCode": SC_SIGNATURE_WRONG, "message": "signature is wrong"},
        )
    return v1_error(401, CODE_UNAUTHORIZED, "Unauthorized")


def service_unavailable() -> Reply:
    """The 503 reply of an injected fault: an HTML page, as a proxy would send it."""
    return Reply(503, (_HTML_TYPE,), _UNAVAILABLE_PAGE)


def _fail(status: int, code: int, message: str) -> NoReturn:
    raise _Fail(v1_error(status, code, message))


def _invalid(message: str) -> NoReturn:
    _fail(400, CODE_INVALID, message)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        _invalid("request body is not valid JSON")


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    data = _load_json(body)
    if not isinstance(data, dict):
        _invalid("request body must be a JSON object")
    return data


# --- validation of members (per the API document, independently of the SDK) ---------------


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
            return len(_ENCODER.encode(value).encode("utf-8"))
        size += len(key.encode()) + len(item.encode()) + 6  # "k":"v",
    return size


def _invalid_label(item: Any) -> str:
    """How a rejected member appears in ``invalid``: its phone as sent."""
    phone = item.get("phone") if isinstance(item, dict) else None
    if isinstance(phone, str):
        return phone
    return "" if phone is None else json.dumps(phone, ensure_ascii=False)


def _with_name(vars_: dict[str, Any] | None, name: str) -> dict[str, Any]:
    result = dict(vars_ or {})
    if name and "name" in result:
        result["name"] = name  # the API: a name key in vars is overridden by name
    return result


# --- routing -------------------------------------------------------------------------------

_V1_PREFIX = "/v1/contact_lists"
_SEND_PATH = "/smsapi/sendContactListTask"
_QUERY_PATH = "/smsapi/queryContactListTask"
_ADMIN_STATS = "/_fake/stats"

_ALLOWED: Final[dict[str, dict[str, str]]] = {
    "lists": {"GET": "contact_lists.list", "POST": "contact_lists.create"},
    "list": {"PUT": "contact_lists.update", "DELETE": "contact_lists.delete"},
    "members": {"GET": "members.list", "POST": "members.add"},
    "member": {"PUT": "members.update", "DELETE": "members.delete"},
    "send": {"GET": "tasks.send", "POST": "tasks.send"},
    "query": {"GET": "tasks.get", "POST": "tasks.get"},
}


def match(method: str, path: str) -> tuple[str | None, tuple[str, ...], str | None]:
    """Route a request by method and path.

    Returns ``(route, path ids, None)``; ``(None, (), allow)`` for a wrong
    method (405); or ``(None, (), None)`` for an unknown path (404).
    """
    kind: str | None = None
    ids: tuple[str, ...] = ()
    if path == _SEND_PATH:
        kind = "send"
    elif path == _QUERY_PATH:
        kind = "query"
    elif path.startswith(_V1_PREFIX):
        parts = path[len(_V1_PREFIX) :].split("/")
        # "" -> lists; "/ID" -> list; "/ID/members" -> members; "/ID/members/MID" -> member
        if parts == [""]:
            kind = "lists"
        elif parts[0] == "" and all(parts[1:]):
            if len(parts) == 2:
                kind, ids = "list", (parts[1],)
            elif len(parts) == 3 and parts[2] == "members":
                kind, ids = "members", (parts[1],)
            elif len(parts) == 4 and parts[2] == "members":
                kind, ids = "member", (parts[1], parts[3])
    if kind is None:
        return None, (), None
    methods = _ALLOWED[kind]
    route = methods.get(method)
    if route is None:
        return None, (), ", ".join(methods)
    return route, ids, None


def _first_values(pairs: Iterable[tuple[str, str]], into: dict[str, str]) -> dict[str, str]:
    for name, value in pairs:
        into.setdefault(name, value)
    return into


def _query(query: bytes | str) -> dict[str, str]:
    text = query.decode("utf-8", "replace") if isinstance(query, bytes) else query
    if not text:
        return {}
    return _first_values(parse_qsl(text, keep_blank_values=True), {})


@attrs.frozen
class Request:
    """A request as the core sees it."""

    method: str
    query: bytes | str
    headers: Mapping[str, str]
    body: bytes

    def query_params(self) -> dict[str, str]:
        """The query parameters, the first value of each name."""
        return _query(self.query)


# --- the service ---------------------------------------------------------------------------


class FakeService:
    """Both APIs in memory: state, validation, quirks, the clock, faults and stats.

    Use it through ``FakeSmsServer``; this class is the engine both front-ends
    (the httpx transport and the ASGI app) share.
    """

    def __init__(
        self,
        sms_user: str,
        sms_key: str,
        *,
        seed: int | str = 0,
        clock: FakeClock | None = None,
        quirks: bool = True,
        allow_duplicate_phones: bool = False,
        task_start_delay: float = 1.0,
        task_duration: float = 2.0,
        templates: Collection[int] | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if not sms_user or not sms_key:
            raise ValueError("sms_user and sms_key must not be empty")
        if task_start_delay < 0 or task_duration < 0:
            raise ValueError("task_start_delay and task_duration must be >= 0")
        self.sms_user = sms_user
        self.sms_key = sms_key
        self.clock = clock if clock is not None else FakeClock()
        self.quirks = quirks
        self.allow_duplicate_phones = allow_duplicate_phones
        self.task_start_delay = timedelta(seconds=task_start_delay)
        self.task_duration = timedelta(seconds=task_duration)
        self.templates = None if templates is None else frozenset(templates)
        self.stats = FakeStats()
        self.faults = FaultPlanner(seed)
        self.lists: dict[int, StoredContactList] = {}
        self.tasks: dict[int, StoredTask] = {}
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._auth = "Basic " + base64.b64encode(f"{sms_user}:{sms_key}".encode()).decode()
        self._next_list_id = 1001
        self._next_member_id = 500001
        self._next_task_id = 9001
        self._handlers: dict[str, Callable[[tuple[str, ...], Request], Reply]] = {
            "contact_lists.list": self._list_lists,
            "contact_lists.create": self._create_list,
            "contact_lists.update": self._update_list,
            "contact_lists.delete": self._delete_list,
            "members.list": self._list_members,
            "members.add": self._add_members,
            "members.update": self._update_member,
            "members.delete": self._delete_member,
            "tasks.send": self._send_task,
            "tasks.get": self._query_task,
        }

    def __repr__(self) -> str:
        lists, tasks = len(self.lists), len(self.tasks)
        return f"<FakeService user={self.sms_user!r} lists={lists} tasks={tasks}>"

    # --- entry points ---------------------------------------------------------------------

    async def serve(
        self,
        method: str,
        path: str,
        query: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        """Handle one request as the network would deliver it: counted, delayed, faulted.

        Raises:
            ConnectionDropped: When an injected fault closes the connection; the
                front-end must then close it without any response.
        """
        stats = self.stats
        route, ids, allow = match(method, path)
        if route is None:
            if path == _ADMIN_STATS and method == "GET":
                return json_reply(200, stats.as_dict())
            stats.requests["unmatched"] += 1
            reply = self._unmatched(allow)
            stats.statuses[reply.status] += 1
            return reply
        stats.requests[route] += 1
        stats.per_second[int(time.time())] += 1
        stats.in_flight += 1
        if stats.in_flight > stats.max_in_flight:
            stats.max_in_flight = stats.in_flight
        try:
            plan = self.faults.plan(route)
            stats.total_delay += plan.delay
            await self._sleep(plan.delay)  # even 0: requests in flight overlap, as on a network
            fault = plan.fault
            if fault is not None:
                stats._fault(route, fault)
            if fault == "drop":
                raise ConnectionDropped(route)
            if fault == "429":
                reply = too_many_requests(plan.retry_after)
            elif fault == "503":
                reply = service_unavailable()
            elif fault == "401":
                reply = unauthorized(route)
            else:
                reply = self._dispatch(route, ids, Request(method, query, headers or {}, body))
            if fault == "drop_after":
                raise ConnectionDropped(route)
            stats.statuses[reply.status] += 1
            return reply
        finally:
            stats.in_flight -= 1

    def handle(
        self,
        method: str,
        path: str,
        query: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        """Handle one request with no network in between: no faults, no delay, not counted.

        Args:
            method: The HTTP method, upper case.
            path: The URL path, percent-decoded.
            query: The raw query string.
            headers: The request headers, names in lower case.
            body: The request body.
        """
        route, ids, allow = match(method, path)
        if route is None:
            return self._unmatched(allow)
        return self._dispatch(route, ids, Request(method, query, headers or {}, body))

    def _unmatched(self, allow: str | None) -> Reply:
        if allow is None:
            return v1_error(404, 404, "Not Found")
        return json_reply(405, {"code": 405, "message": "Method Not Allowed"}, ("allow", allow))

    def _dispatch(self, route: str, ids: tuple[str, ...], request: Request) -> Reply:
        if len(request.body) > MAX_BODY_BYTES:
            return v1_error(413, 413, "Request Entity Too Large")
        try:
            if route.startswith(("contact_lists.", "members.")):
                self._check_basic_auth(request.headers)
            return self._handlers[route](ids, request)
        except _Fail as failure:
            return failure.reply
        except Exception:  # a bug of the fake: say so, never a bare traceback page
            logger.exception("the fake failed on %s", route)
            return v1_error(500, 500, "internal error in the fake SMS server")

    # --- v1 --------------------------------------------------------------------------------

    def _check_basic_auth(self, headers: Mapping[str, str]) -> None:
        value = headers.get("authorization", "")
        if value == self._auth:
            return
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                decoded = ""
            user, sep, key = decoded.partition(":")
            if (
                sep
                and hmac.compare_digest(user.encode(), self.sms_user.encode())
                and hmac.compare_digest(key.encode(), self.sms_key.encode())
            ):
                return
        _fail(401, CODE_UNAUTHORIZED, "Unauthorized.")

    def _get_list(self, raw_id: str) -> StoredContactList:
        found = None
        if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18:
            found = self.lists.get(int(raw_id))
        if found is None:
            _fail(400, CODE_LIST_MISSING, "The contact_list_id does not exist")
        return found

    def _get_member(self, contact_list: StoredContactList, raw_id: str) -> StoredMember:
        found = None
        if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18:
            found = contact_list.members.get(int(raw_id))
        if found is None:
            _fail(400, CODE_MEMBER_MISSING, "The member_id does not exist")
        return found

    def _paging(self, query: Mapping[str, str]) -> tuple[int, int]:
        offset = self._int_param(query, "offset", 0)
        limit = self._int_param(query, "limit", MAX_PAGE)
        if offset < 0:
            _invalid("offset must be >= 0")
        if not 0 <= limit <= MAX_PAGE:
            _invalid(f"limit must be from 0 to {MAX_PAGE}")
        return offset, limit

    def _int_param(self, query: Mapping[str, str], name: str, default: int) -> int:
        raw = query.get(name)
        if raw is None:
            return default
        if not _INT.fullmatch(raw.strip()):
            _invalid(f"{name} must be an integer")
        return int(raw)

    def _list_row(self, item: StoredContactList, id_key: str) -> dict[str, Any]:
        return {
            id_key: item.contact_list_id,
            "contact_list_name": item.contact_list_name,
            "description": item.description,
            "member_count": item.member_count,
            "create_time": v1_time(item.create_time),
            "update_time": v1_time(item.update_time),
        }

    def _member_row(self, member: StoredMember) -> dict[str, Any]:
        cached = member._row
        if cached is not None and cached[0] is self.quirks:
            return cached[1]
        vars_: Any = member.vars
        if self.quirks:
            vars_ = py_literal(vars_) if vars_ else ""
        row = {
            "member_id": member.member_id,
            "phone": member.phone,
            "name": member.name,
            "vars": vars_,
            "create_time": v1_time(member.create_time),
            "update_time": v1_time(member.update_time),
        }
        member._row = (self.quirks, row)
        return row

    def _list_lists(self, ids: tuple[str, ...], request: Request) -> Reply:
        query = request.query_params()
        offset, limit = self._paging(query)
        needle = query.get("contact_list_name", "").lower()
        rows = [
            item
            for item in self.lists.values()
            if not needle or needle in item.contact_list_name.lower()
        ]
        id_key = "contact_List_id" if self.quirks else "contact_list_id"
        page = [self._list_row(item, id_key) for item in rows[offset : offset + limit]]
        return json_reply(200, {"result": page, "count": len(page), "total": len(rows)})

    def _check_name(self, value: Any) -> str:
        if value is None or value == "":
            _fail(400, CODE_NAME_EMPTY, "contact_list_name cannot be empty")
        if not isinstance(value, str) or not _LIST_NAME.fullmatch(value):
            _invalid("contact_list_name must be 1 to 48 letters, digits, '_' or '-'")
        return value

    def _check_description(self, value: Any) -> str:
        if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
            _invalid(f"description must be a string of at most {MAX_DESCRIPTION} characters")
        return value

    def _name_taken(self, name: str, but: int | None = None) -> bool:
        return any(
            item.contact_list_name == name and item.contact_list_id != but
            for item in self.lists.values()
        )

    def _create_list(self, ids: tuple[str, ...], request: Request) -> Reply:
        data = _json_object(request.body)
        name = self._check_name(data.get("contact_list_name"))
        description = data.get("description")
        description = "" if description is None else self._check_description(description)
        if self._name_taken(name):
            _fail(400, CODE_NAME_TAKEN, "contact_list_name already exists")
        item = self.create_list(name, description)
        return json_reply(200, {"result": self._list_row(item, "contact_list_id")})

    def _update_list(self, ids: tuple[str, ...], request: Request) -> Reply:
        item = self._get_list(ids[0])
        data = _json_object(request.body)
        name = data.get("contact_list_name")
        description = data.get("description")
        if name is not None:
            name = self._check_name(name)
            if self._name_taken(name, but=item.contact_list_id):
                _fail(400, CODE_NAME_TAKEN, "contact_list_name already exists")
        if description is not None:
            description = self._check_description(description)
        if name is not None or description is not None:
            if name is not None:
                item.contact_list_name = name
            if description is not None:
                item.description = description
            item.update_time = self.clock.now()
        return json_reply(200, {"count": 1})

    def _delete_list(self, ids: tuple[str, ...], request: Request) -> Reply:
        item = self._get_list(ids[0])
        del self.lists[item.contact_list_id]
        return json_reply(200, {"count": 1})

    def _list_members(self, ids: tuple[str, ...], request: Request) -> Reply:
        query = request.query_params()
        offset, limit = self._paging(query)
        wanted: list[int] | None = None
        raw_ids = query.get("member_ids", "")
        if raw_ids:
            parts = [part.strip() for part in raw_ids.split(";") if part.strip()]
            if len(parts) > MAX_MEMBER_IDS:
                _invalid(f"member_ids must name at most {MAX_MEMBER_IDS} members")
            if not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in parts):
                _invalid("member_ids must be integers joined by ';'")
            wanted = sorted({int(part) for part in parts})
        item = self._get_list(ids[0])
        if wanted is not None:
            members = [item.members[i] for i in wanted if i in item.members]
        else:
            members = item.ordered()
        phone = query.get("phone", "")
        if phone:
            members = [member for member in members if phone in member.phone]
        page = [self._member_row(member) for member in members[offset : offset + limit]]
        return json_reply(200, {"result": page, "total": len(members), "count": len(page)})

    def _add_members(self, ids: tuple[str, ...], request: Request) -> Reply:
        item = self._get_list(ids[0])
        data = _json_object(request.body)
        members = data.get("members")
        if not isinstance(members, list):
            _invalid("members must be an array of members")
        if len(members) > MAX_BATCH:
            _invalid(f"members must hold at most {MAX_BATCH} members per request")
        self.stats.member_batches.append(len(members))
        added, invalid = self._store_members(item, members)
        return json_reply(200, {"result": {"count": added, "invalid": invalid}})

    def _store_members(self, item: StoredContactList, members: list[Any]) -> tuple[int, list[str]]:
        now = self.clock.now()
        invalid: list[str] = []
        added = 0
        for raw in members:
            if not isinstance(raw, dict):
                invalid.append(_invalid_label(raw))
                continue
            phone: Any = raw.get("phone")  # checked just below
            name = raw.get("name")
            vars_ = raw.get("vars")
            if (
                phone_problem(phone)
                or name_problem(name)
                or vars_problem(vars_)
                or (not self.allow_duplicate_phones and item.has_phone(phone))
            ):
                invalid.append(_invalid_label(raw))
                continue
            name = name or ""
            item._add(
                StoredMember(self._next_member_id, phone, name, _with_name(vars_, name), now, now)
            )
            self._next_member_id += 1
            added += 1
        return added, invalid

    def _update_member(self, ids: tuple[str, ...], request: Request) -> Reply:
        item = self._get_list(ids[0])
        member = self._get_member(item, ids[1])
        data = _json_object(request.body)
        fields = data.get("member")
        if not isinstance(fields, dict):
            _invalid("member must be an object")
        phone = fields.get("phone")
        name = fields.get("name")
        vars_ = fields.get("vars")
        problem = (
            (phone_problem(phone) if phone is not None else None)
            or name_problem(name)
            or vars_problem(vars_)
        )
        if problem:
            _invalid(problem)
        if (
            phone is not None
            and phone != member.phone
            and not self.allow_duplicate_phones
            and item.has_phone(phone)
        ):
            _invalid("phone is already in the contact list")
        if phone is not None and phone != member.phone:
            item._forget_phone(member.phone)
            item._phones[phone] += 1
            member.phone = phone
        if name is not None:
            member.name = name
        if vars_ is not None:
            member.vars = dict(vars_)
        member.vars = _with_name(member.vars, member.name)
        member.update_time = self.clock.now()
        return json_reply(200, {"count": 1})

    def _delete_member(self, ids: tuple[str, ...], request: Request) -> Reply:
        item = self._get_list(ids[0])
        member = self._get_member(item, ids[1])
        item._remove(member.member_id)
        return json_reply(200, {"count": 1})

    # --- smsapi ----------------------------------------------------------------------------

    def _smsapi_params(self, request: Request) -> dict[str, str]:
        params = _query(request.query)
        if request.method == "POST" and request.body:
            content_type = request.headers.get("content-type", "")
            if not content_type or content_type.lower().startswith(
                "application/x-www-form-urlencoded"
            ):
                try:
                    text = request.body.decode("utf-8")
                except UnicodeDecodeError:
                    self._smsapi_fail(SC_BAD_PARAM, "the form is not valid UTF-8")
                _first_values(parse_qsl(text, keep_blank_values=True), params)
        return params

    def _smsapi_fail(self, status_code: int, message: str) -> NoReturn:
        raise _Fail(
            json_reply(
                200, {"result": False, "statusCode": status_code, "message": message, "info": {}}
            )
        )

    def _smsapi_auth(self, params: Mapping[str, str]) -> None:
        user = params.get("smsUser", "")
        if not user:
            self._smsapi_fail(SC_USER_EMPTY, "smsUser is empty")
        if user != self.sms_user:
            self._smsapi_fail(SC_USER_UNKNOWN, "smsUser does not exist")
        signature = params.get("signature", "")
        if not signature:
            self._smsapi_fail(SC_SIGNATURE_MISSING, "signature parameter is missing")
        given = signature.strip().lower().encode()
        if not any(
            hmac.compare_digest(given, sign_params(params, self.sms_key, method).encode())
            for method in ("md5", "sha256")
        ):
            self._smsapi_fail(SC_SIGNATURE_WRONG, "signature is wrong")
        timestamp = params.get("timestamp")
        if timestamp is not None:
            now_ms = int(self.clock.now().timestamp() * 1000)
            if not _INT.fullmatch(timestamp) or abs(now_ms - int(timestamp)) > TIMESTAMP_WINDOW_MS:
                self._smsapi_fail(SC_TIMESTAMP, "timestamp is invalid or too far from server time")

    def _task_json(self, task: StoredTask, status: str, end: datetime | None) -> dict[str, Any]:
        return {
            "contactListName": task.contact_list_name,
            "createTime": task_time(task.create_time),
            "endTime": "" if end is None else task_time(end),
            "memberCount": task.member_count,
            "senderName": task.sender_name,
            "status": status,
            "taskId": task.task_id,
            "taskName": task.task_name,
            "templateId": task.template_id,
        }

    def _envelope(self, message: str, task: dict[str, Any]) -> Reply:
        return json_reply(
            200,
            {"result": True, "statusCode": SC_OK, "message": message, "info": {"smsTask": task}},
        )

    def _send_task(self, ids: tuple[str, ...], request: Request) -> Reply:
        params = self._smsapi_params(request)
        self._smsapi_auth(params)
        raw_names = params.get("contactListName", "")
        names = list(dict.fromkeys(name for name in raw_names.split(";") if name))
        if not names:
            self._smsapi_fail(SC_BAD_PARAM, "contactListName is required")
        by_name = {item.contact_list_name: item for item in self.lists.values()}
        missing = [name for name in names if name not in by_name]
        if missing:
            self._smsapi_fail(SC_NOT_FOUND, f"contact list does not exist: {missing[0]}")
        task_name = params.get("taskName", "")
        if not task_name:
            self._smsapi_fail(SC_BAD_PARAM, "taskName is required")
        sender_name = params.get("senderName", "")
        if not sender_name:
            self._smsapi_fail(SC_BAD_PARAM, "senderName is required")
        raw_template = params.get("templateId", "").strip()
        if not raw_template:
            self._smsapi_fail(SC_TEMPLATE_EMPTY, "templateId is empty")
        if not (raw_template.isascii() and raw_template.isdigit()) or (
            self.templates is not None and int(raw_template) not in self.templates
        ):
            self._smsapi_fail(SC_TEMPLATE_MISSING, "template does not exist")
        now = self.clock.now()
        start = now + self.task_start_delay
        raw_time = params.get("executeTime", "")
        if raw_time:
            try:
                if not _EXECUTE_TIME.fullmatch(raw_time):
                    raise ValueError(raw_time)
                start = datetime.strptime(raw_time, TASK_TIME).replace(tzinfo=API_TZ)
            except ValueError:
                self._smsapi_fail(SC_EXECUTE_TIME_FORMAT, "executeTime must be yyyy-MM-dd HH:mm:ss")
            if start < now.replace(microsecond=0):
                self._smsapi_fail(SC_EXECUTE_TIME_PAST, "executeTime is earlier than server time")
        task = StoredTask(
            task_id=self._next_task_id,
            contact_list_name=raw_names,
            task_name=task_name,
            sender_name=sender_name,
            template_id=int(raw_template),
            member_count=sum(by_name[name].member_count for name in names),
            create_time=now,
            start_time=start,
            end_time=start + self.task_duration,
        )
        self._next_task_id += 1
        self.tasks[task.task_id] = task
        # the answer to a send reports the task as saved: waiting
        return self._envelope("联系人列表任务保存成功", self._task_json(task, WAITING, None))

    def _query_task(self, ids: tuple[str, ...], request: Request) -> Reply:
        params = self._smsapi_params(request)
        self._smsapi_auth(params)
        raw_id = params.get("taskId", "").strip()
        if not raw_id:
            self._smsapi_fail(SC_BAD_PARAM, "taskId is required")
        if not _INT.fullmatch(raw_id):
            self._smsapi_fail(SC_BAD_PARAM, "taskId must be an integer")
        task = self.tasks.get(int(raw_id))
        if task is None:
            self._smsapi_fail(SC_NOT_FOUND, "task does not exist")
        status, end = task.status_at(self.clock.now())
        return self._envelope("查询成功", self._task_json(task, status, end))

    # --- direct state changes (for tests) -----------------------------------------------------

    def create_list(self, name: str, description: str = "") -> StoredContactList:
        """Store a new contact list now, without validation, and return it."""
        now = self.clock.now()
        item = StoredContactList(self._next_list_id, name, description, now, now)
        self._next_list_id += 1
        self.lists[item.contact_list_id] = item
        return item

    def store_members(
        self, item: StoredContactList, members: Iterable[Mapping[str, Any]]
    ) -> tuple[int, list[str]]:
        """Add members as the add endpoint would (same rules); return ``(added, invalid)``."""
        return self._store_members(item, [dict(member) for member in members])
