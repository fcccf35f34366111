"""The fake's wire format: requests and replies as plain values, bodies, texts and times.

A ``Request`` is what a front-end hands the core; a ``Reply`` is what it sends
back. In between, the handlers read JSON bodies, query strings and smsapi
forms, fail with a ``Fail`` carrying the API's error reply, and answer with
compact UTF-8 JSON in the API's spelling: v1 times like
``2016-05-10T15:18:38+0800``, smsapi times like ``2017-05-19 14:22:57`` and
member ``vars`` as a single-quoted, Python-like string (``py_literal``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final, NoReturn
from urllib.parse import parse_qsl

import attrs

from .._convert import API_TZ
from ._rules import CODE_INVALID, CODE_UNAUTHORIZED, SC_BAD_PARAM, SC_SIGNATURE_WRONG

__all__ = [
    "TASK_TIME",
    "V1_TIME",
    "Fail",
    "Reply",
    "Request",
    "dump_json",
    "fail",
    "invalid",
    "json_reply",
    "py_literal",
    "service_unavailable",
    "smsapi_fail",
    "task_time",
    "too_large",
    "too_many_requests",
    "unauthorized",
    "unmatched",
    "v1_error",
    "v1_time",
]

V1_TIME: Final = "%Y-%m-%dT%H:%M:%S%z"
TASK_TIME: Final = "%Y-%m-%d %H:%M:%S"

_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_JSON_TYPE: Final = ("content-type", "application/json;charset=UTF-8")
_HTML_TYPE: Final = ("content-type", "text/html; charset=utf-8")
_UNAVAILABLE_PAGE: Final = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


# --- requests ------------------------------------------------------------------------------


@attrs.frozen
class Request:
    """A request as the core sees it: method, percent-decoded path, raw query, body.

    Header names are in lower case.
    """

    method: str
    path: str
    query: bytes | str = b""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""

    def query_params(self) -> dict[str, str]:
        """The query parameters, the first value of each name."""
        return _parse_query(self.query)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object (``{}`` for an empty body), or fail with 400."""
        if not self.body.strip():
            return {}
        data = _load_json(self.body)
        if not isinstance(data, dict):
            invalid("request body must be a JSON object")
        return data

    def smsapi_params(self) -> dict[str, str]:
        """The smsapi parameters: the query, then a form-encoded ``POST`` body."""
        params = _parse_query(self.query)
        if self.method == "POST" and self.body:
            content_type = self.headers.get("content-type", "")
            if not content_type or content_type.lower().startswith(
                "application/x-www-form-urlencoded"
            ):
                try:
                    text = self.body.decode("utf-8")
                except UnicodeDecodeError:
                    smsapi_fail(SC_BAD_PARAM, "the form is not valid UTF-8")
                _first_values(parse_qsl(text, keep_blank_values=True), params)
        return params


def _first_values(pairs: Iterable[tuple[str, str]], into: dict[str, str]) -> dict[str, str]:
    for name, value in pairs:
        into.setdefault(name, value)
    return into


def _parse_query(query: bytes | str) -> dict[str, str]:
    text = query.decode("utf-8", "replace") if isinstance(query, bytes) else query
    if not text:
        return {}
    return _first_values(parse_qsl(text, keep_blank_values=True), {})


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
        invalid("request body is not valid JSON")


# --- replies -------------------------------------------------------------------------------


@attrs.frozen
class Reply:
    """A response of the fake: status, headers (without Content-Length) and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def json(self) -> Any:
        """Decode the body as JSON (for tests of the core)."""
        return json.loads(self.body)


class Fail(Exception):
    """Raised by a handler: answer with ``reply`` (an error of the API) instead."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def fail(status: int, code: int, message: str) -> NoReturn:
    """Fail with a v1 error."""
    raise Fail(v1_error(status, code, message))


def invalid(message: str) -> NoReturn:
    """Fail with the v1 error of a bad value: 400, code 35000."""
    fail(400, CODE_INVALID, message)


def smsapi_fail(status_code: int, message: str) -> NoReturn:
    """Fail as the smsapi does: HTTP 200 with ``"result": false`` and a ``statusCode``."""
    raise Fail(
        json_reply(
            200, {"result": False, "statusCode": status_code, "message": message, "info": {}}
        )
    )


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


def unmatched(allow: str | None) -> Reply:
    """The reply to an unknown path (404), or to a known one with a wrong method (405)."""
    if allow is None:
        return v1_error(404, 404, "Not Found")
    return json_reply(405, {"code": 405, "message": "Method Not Allowed"}, ("allow", allow))


def too_large() -> Reply:
    """The reply to a body over ``MAX_BODY_BYTES``."""
    return v1_error(413, 413, "Request Entity Too Large")


def too_many_requests(retry_after: float | None) -> Reply:
    """The 429 reply of an injected fault."""
    extra: tuple[tuple[str, str], ...] = ()
    if retry_after is not None:
        seconds = int(retry_after) if float(retry_after).is_integer() else retry_after
        extra = (("retry-after", str(seconds)),)
    return json_reply(429, {"code": 429, "message": "Too Many Requests"}, *extra)


def unauthorized(*, smsapi: bool) -> Reply:
    """The reply of an injected ``"401"``: the account's credentials are refused."""
    if smsapi:
        return json_reply(
            200,
            {"result": False, "statusCode": SC_SIGNATURE_WRONG, "message": "signature is wrong"},
        )
    return v1_error(401, CODE_UNAUTHORIZED, "Unauthorized")


def service_unavailable() -> Reply:
    """The 503 reply of an injected fault: an HTML page, as a proxy would send it."""
    return Reply(503, (_HTML_TYPE,), _UNAVAILABLE_PAGE)


# --- the API's spelling of values ----------------------------------------------------------

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
