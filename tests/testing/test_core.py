"""Invariants of the fake's core, with hypothesis, and its public surface."""

from __future__ import annotations

import ast
import inspect
import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sms_async.testing
from sms_async import sign_params
from sms_async._convert import parse_vars
from sms_async.testing import FakeClock, FakeSmsServer
from sms_async.testing._service import _json_size, py_literal

from .conftest import CST, KEY, T0, USER

AUTH = {"authorization": "Basic dGVzdC11c2VyOnRlc3Qta2V5"}  # test-user:test-key

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_vars_render_as_a_literal_the_sdk_reads_back(value: dict[str, Any]) -> None:
    text = py_literal(value)
    assert ast.literal_eval(text) == value
    assert parse_vars(text) == value
    if all(type(v) is str and "'" not in k + v for k, v in value.items()):
        assert ": " not in text.replace("': '", "")  # no spaces: {'k':'v'}


def test_vars_render_like_the_seed() -> None:
    assert py_literal({"beizhu": "hello"}) == "{'beizhu':'hello'}"
    assert (
        py_literal({"a": "it's", "b": "back\\slash\n"}) == "{'a':'it\\'s','b':'back\\\\slash\\n'}"
    )


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_vars_size_is_the_compact_json_size(value: dict[str, Any]) -> None:
    expected = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    assert _json_size(value) == expected


def oracle_phone(phone: object) -> bool:
    """API.md: international format, digits with an optional leading '+'."""
    if not isinstance(phone, str):
        return False
    digits = phone[1:] if phone.startswith("+") else phone
    return digits != "" and all(c in "0123456789" for c in digits)


def oracle_member(member: object) -> bool:
    if not isinstance(member, dict) or not oracle_phone(member.get("phone")):
        return False
    name = member.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 48):
        return False
    vars_ = member.get("vars")
    if vars_ is None:
        return True
    if not isinstance(vars_, dict) or any(len(k) > 32 or "%" in k for k in vars_):
        return False
    return len(json.dumps(vars_, ensure_ascii=False, separators=(",", ":")).encode()) <= 1024


phones = st.one_of(
    st.from_regex(r"\+?[0-9]{1,6}", fullmatch=True),
    st.sampled_from(["", "+", "++1", "1 2", "١٢", "12a", "-1"]),
    st.integers(),
    st.none(),
)
members = st.one_of(
    st.fixed_dictionaries(
        {"phone": phones},
        optional={
            "name": st.none() | st.text(max_size=50) | st.integers(),
            "vars": st.none()
            | st.integers()
            | st.dictionaries(
                st.text(max_size=34), st.text(max_size=300) | st.integers(), max_size=5
            ),
        },
    ),
    st.text(max_size=3),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(members, max_size=30))
def test_add_members_accounts_for_every_member(batch: list[Any]) -> None:
    fake = FakeSmsServer()
    item = fake.create_list("l")
    reply = fake.service.handle(
        "POST",
        f"/v1/contact_lists/{item.contact_list_id}/members",
        headers=AUTH,
        body=json.dumps({"members": batch}).encode(),
    )
    assert reply.status == 200
    result = reply.json()["result"]
    assert result["count"] + len(result["invalid"]) == len(batch)
    expected: list[str] = []
    for member in batch:
        if oracle_member(member) and member["phone"] not in expected:
            expected.append(member["phone"])
    assert item.phones == expected
    assert result["count"] == len(expected)


@given(
    n=st.integers(0, 30),
    offset=st.integers(0, 40),
    limit=st.integers(0, 100),
    needle=st.sampled_from(["", "a", "1", "zz"]),
)
def test_list_pages_are_slices_of_the_whole(n: int, offset: int, limit: int, needle: str) -> None:
    fake = FakeSmsServer()
    names = [f"l{i}" + ("a" if i % 3 else "") for i in range(n)]
    for name in names:
        fake.create_list(name)
    query = urlencode({"offset": offset, "limit": limit, "contact_list_name": needle})
    body = fake.service.handle("GET", "/v1/contact_lists", query, AUTH).json()
    matching = [name for name in names if needle in name]
    assert [row["contact_list_name"] for row in body["result"]] == matching[offset : offset + limit]
    assert body["count"] == len(body["result"])
    assert body["total"] == len(matching)


safe_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@settings(max_examples=100)
@given(
    extra=st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), safe_text, max_size=4),
    method=st.sampled_from(["md5", "sha256"]),
    tamper=st.booleans(),
)
def test_any_correctly_signed_request_passes_and_any_change_fails(
    extra: dict[str, str], method: str, tamper: bool
) -> None:
    fake = FakeSmsServer()
    params = {"taskId": "1", **extra, "smsUser": USER}
    params["signature"] = sign_params(params, KEY, method)
    if tamper:
        params["taskId"] = "2"
    body = fake.service.handle(
        "POST",
        "/smsapi/queryContactListTask",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=urlencode(params).encode(),
    ).json()
    # signed right: past the signature check to "task does not exist"
    assert body["statusCode"] == (422 if tamper else 404)


requests = st.tuples(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    st.lists(
        st.sampled_from(["v1", "contact_lists", "members", "smsapi", "1001", "500001", "x", ""]),
        max_size=6,
    ).map(lambda parts: "/" + "/".join(parts))
    | st.sampled_from(
        [
            "/v1/contact_lists",
            "/v1/contact_lists/1001",
            "/v1/contact_lists/1001/members",
            "/v1/contact_lists/1001/members/500001",
            "/smsapi/sendContactListTask",
            "/smsapi/queryContactListTask",
        ]
    ),
    st.text(max_size=30)
    | st.sampled_from(["offset=-1", "limit=1000", "member_ids=;;", "phone=%ff"]),
    st.binary(max_size=60)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.sampled_from([b'{"members": [{}]}', b'{"member": null}', b'{"contact_list_name": "ok"}']),
    st.booleans(),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests, min_size=1, max_size=5))
def test_no_request_makes_the_fake_fail(batch: list[tuple[str, str, str, bytes, bool]]) -> None:
    fake = FakeSmsServer()
    fake.create_list("seed", members=[{"phone": "+1"}])
    for method, path, query, body, authed in batch:
        reply = fake.service.handle(method, path, query, AUTH if authed else {}, body)
        assert reply.status in {200, 400, 401, 404, 405}, (method, path, query, body)
        data = reply.json()
        assert isinstance(data, dict)
        if path.startswith("/smsapi/") and reply.status == 200:
            assert isinstance(data["result"], bool)


def test_the_clock() -> None:
    clock = FakeClock(datetime(2024, 1, 1, 8, 0))  # naive: read as UTC+8
    assert clock.now() == datetime(2024, 1, 1, 8, 0, tzinfo=CST)
    assert clock.advance(90) == datetime(2024, 1, 1, 8, 1, 30, tzinfo=CST)
    assert clock.advance(timedelta(hours=1)).hour == 9
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    clock.set(T0)
    assert clock.now() == T0
    assert not clock.realtime
    live = FakeClock(T0, realtime=True)
    assert live.realtime
    assert live.now() >= T0
    default = FakeClock()
    assert default.now().microsecond == 0
    assert default.now().utcoffset() == timedelta(hours=8)


def test_the_public_surface_is_documented() -> None:
    names = sms_async.testing.__all__
    assert len(set(names)) == len(names)  # ruff (RUF022) keeps it sorted
    for name in names:
        obj = getattr(sms_async.testing, name)
        if isinstance(obj, str | tuple) or name == "FaultKind":
            continue
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                target = member.fget if isinstance(member, property) else member
                if callable(target):
                    assert inspect.getdoc(target), f"{name}.{attr}"
