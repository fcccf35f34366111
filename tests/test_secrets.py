"""No secret, in any spelling, in any exception the SDK raises or in its log.

A hostile server echoes the key, the Basic token and the request's signature
in every spelling (plain, JSON-escaped, URL-encoded, ``\\u``-escaped, hex,
base64) in bodies, messages and malformed answers; a broken network puts them
in its error texts. Every exception the SDK raises is then walked -- its
args, attributes and repr, its ``__cause__`` and ``__context__`` chain -- and
so is every record of the ``sms_async`` logger at DEBUG.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from sms_async import AsyncSmsClient, BulkAddAbortedError, SmsError
from sms_async._redact import spellings

from .conftest import BASE, KEY, TASK_BASE, USER

TOKEN = base64.b64encode(f"{USER}:{KEY}".encode()).decode()

Call = Callable[[AsyncSmsClient], Awaitable[object]]

CALLS: dict[str, Call] = {
    "lists.create": lambda c: c.contact_lists.create(contact_list_name="x"),
    "lists.update": lambda c: c.contact_lists.update(1, description="d"),
    "lists.list": lambda c: c.contact_lists.list().pages().__anext__(),
    "members.add": lambda c: c.members.add(1, [{"phone": "+15550000001"}], raise_on_error=False),
    "members.update": lambda c: c.members.update(1, 2, name="n"),
    "members.delete": lambda c: c.members.delete(1, 2),
    "tasks.send": lambda c: c.tasks.send(
        contact_list_name="x", task_name="t", template_id=1, sender_name="s"
    ),
    "tasks.get": lambda c: c.tasks.get(5),
}


def echo(secrets: list[str]) -> str:
    """Every spelling of every secret, in one text."""
    return " | ".join(sorted({s for secret in secrets for s in spellings(secret)}))


def signature_of(request: httpx.Request) -> str | None:
    if request.url.path.startswith("/smsapi/"):
        return parse_qs(request.content.decode())["signature"][0]
    return None


def hostile(kind: str) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        secrets = [KEY, TOKEN]
        signature = signature_of(request)
        if signature:
            secrets.append(signature)
        text = echo(secrets)
        smsapi = signature is not None
        if kind == "message":
            if smsapi:
                body: Any = {"result": False, "statusCode": 422, "message": text}
                return httpx.Response(200, json=body)
            return httpx.Response(400, json={"code": 35004, "message": text})
        if kind == "html":
            return httpx.Response(500, text=f"<html>{text}</html>")
        if kind == "malformed":
            return httpx.Response(200, text=f"{{not json {text}")
        if kind == "wrong type":  # a value of the wrong type: the parser's error must not show it
            if smsapi:
                return httpx.Response(200, json={"result": True, "info": {"smsTask": text}})
            return httpx.Response(200, json={"result": text, "count": text, "total": text})
        if kind == "header":
            return httpx.Response(401, headers={"X-Echo": KEY, "WWW-Authenticate": TOKEN})
        if kind == "network":
            raise httpx.ConnectError(f"refused: {text}", request=request)
        if kind == "protocol":
            raise httpx.RemoteProtocolError(f"illegal header line {text!r}", request=request)
        if kind == "timeout":
            raise httpx.ReadTimeout(f"no answer {text}", request=request)
        raise AssertionError(kind)

    return respond


KINDS = ["message", "html", "malformed", "wrong type", "header", "network", "protocol", "timeout"]


def texts(value: object, seen: set[int] | None = None, depth: int = 0) -> Iterator[str]:
    """Every text reachable from *value*: args, attributes, reprs, the exception chain."""
    seen = set() if seen is None else seen
    if value is None or isinstance(value, bool | int | float) or id(value) in seen or depth > 8:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield value
        return
    if isinstance(value, bytes | bytearray):
        yield bytes(value).decode("latin-1")
        return
    yield repr(value)
    if isinstance(value, BaseException):
        yield str(value)
        yield from texts(value.args, seen, depth + 1)
        yield from texts(value.__cause__, seen, depth + 1)
        yield from texts(value.__context__, seen, depth + 1)
        yield from texts(getattr(value, "__notes__", None), seen, depth + 1)
    if isinstance(value, dict | httpx.Headers):
        for key, item in value.items():
            yield from texts(key, seen, depth + 1)
            yield from texts(item, seen, depth + 1)
        return
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from texts(item, seen, depth + 1)
        return
    for name in getattr(value, "__slots__", ()):
        yield from texts(getattr(value, name, None), seen, depth + 1)
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        yield from texts(attributes, seen, depth + 1)


def leaks(found: Iterator[str], secrets: list[str]) -> list[str]:
    return [
        f"{spelling!r} in {text[:120]!r}"
        for text in found
        for secret in secrets
        for spelling in spellings(secret)
        if spelling in text
    ]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("call", list(CALLS))
async def test_no_secret_in_any_exception_chain_or_log_line(
    call: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    signatures: list[str] = []

    def respond(request: httpx.Request) -> httpx.Response:
        signature = signature_of(request)
        if signature:
            signatures.append(signature)
        return hostile(kind)(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    caplog.set_level(logging.DEBUG, logger="sms_async")
    raised: BaseException | None = None
    async with (
        http,
        AsyncSmsClient(
            USER, KEY, base_url=BASE, task_base_url=TASK_BASE, max_retries=1, http_client=http
        ) as client,
    ):
        try:
            outcome = await CALLS[call](client)
        except SmsError as exc:
            raised = exc
            outcome = None
    if isinstance(raised, BulkAddAbortedError) or raised is None:
        # members.add keeps going: the failures are in the result's batches.
        outcome = raised.result if raised is not None else outcome
    secrets = [KEY, TOKEN, *signatures]
    found = list(texts(raised)) + list(texts(outcome))
    found += [record.getMessage() for record in caplog.records]
    assert raised is not None or call == "members.add"
    assert not leaks(iter(found), secrets)


def test_the_scan_finds_a_secret_where_there_is_one() -> None:
    error = SmsError("fine")
    error.__context__ = ValueError("x", {"nested": [f"%{KEY.encode().hex().upper()}"]})
    assert leaks(texts(error), [KEY])


BAD = "caf\udce9"  # a lone surrogate


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"x": value}
    return value


SINGLE_CALLS_WITH_BAD_TEXT: dict[str, tuple[Call, str]] = {
    "create description": (
        lambda c: c.contact_lists.create(contact_list_name="x", description=BAD),
        "description",
    ),
    "update description": (lambda c: c.contact_lists.update(1, description=BAD), "description"),
    "member name": (lambda c: c.members.update(1, 2, name=BAD), "name"),
    "member vars key": (lambda c: c.members.update(1, 2, vars={BAD: "v"}), "vars"),
    "member vars value": (lambda c: c.members.update(1, 2, vars={"k": BAD}), "vars"),
    "member deep vars": (lambda c: c.members.update(1, 2, vars=deep(100_000)), "vars"),
    "member vars object": (lambda c: c.members.update(1, 2, vars={"k": object()}), "vars"),
    "task name": (
        lambda c: c.tasks.send(contact_list_name="x", task_name=BAD, template_id=1),
        "task_name",
    ),
    "sender name": (
        lambda c: c.tasks.send(
            contact_list_name="x", task_name="t", template_id=1, sender_name=BAD
        ),
        "sender_name",
    ),
}


@pytest.mark.parametrize("case", list(SINGLE_CALLS_WITH_BAD_TEXT))
async def test_text_that_cannot_be_sent_is_a_validation_error_naming_the_field(case: str) -> None:
    from sms_async import ValidationError

    call, field = SINGLE_CALLS_WITH_BAD_TEXT[case]
    sent: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    http = httpx.AsyncClient(transport=httpx.MockTransport(respond))
    async with (
        http,
        AsyncSmsClient(USER, KEY, base_url=BASE, task_base_url=TASK_BASE, http_client=http) as c,
    ):
        with pytest.raises(ValidationError, match=field) as caught:
            await call(c)
    assert sent == []
    # Nothing in the exception, its chain or their attributes holds the key (the
    # smsapi signing string, with the key in it, never gets as far as an encoder).
    assert not leaks(texts(caught.value), [KEY, TOKEN])
