"""The quick paths of the hot loops answer exactly as the full checks they stand in front of.

Each quick path returns a result only for the usual well-formed input and
leaves anything else to the full path; these properties check, on generated
inputs valid and invalid, that the answer is the same either way, and that
the usual input does take the quick path.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import enum
import json
import math
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sms_async import (
    AddProgress,
    BulkAddAbortedError,
    ConfigurationError,
    Member,
    NewMember,
    SmsError,
)
from sms_async import _convert as convert
from sms_async._bulk import Batch, add_members
from sms_async._convert import (
    ListResponse,
    get_converter,
    parse_vars,
    parse_vars_reference,
    quick_member_page,
    quick_vars,
    structurer,
)
from sms_async._json import FAST, dumps, loads, thaw
from sms_async._phones import PhoneNormalizer, PhoneRules
from sms_async._validation import (
    member_problem,
    quick_json,
    quick_payload,
    snapshot_payload,
    vars_problem,
)
from sms_async.resources.members import _accept, _accept_checked
from sms_async.testing._wire import py_literal

SURROGATE = "\ud800"


def as_sent(payload: dict[str, Any] | None) -> tuple[bytes, str] | None:
    """What a payload means: the JSON sent, and the member it reports (vars thawed)."""
    if payload is None:
        return None
    thawed = {key: thaw(value) for key, value in payload.items()}
    try:
        data = dumps(payload)
    except UnicodeEncodeError:  # a phone as written may hold anything: normalizing refuses it
        data = b"(cannot be sent: a lone surrogate)"
    return data, repr(thawed)  # repr: strict (True and 1, 1.0 and 1 differ)


# --- members to upload -----------------------------------------------------------------


class Text(str):
    """A str subclass: never the quick path's (a subclass may encode otherwise)."""


class Number(int):
    """An int subclass."""


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually *good*, now and then *bad*: a member breaks one rule at a time, mostly."""
    return st.integers(0, 5).flatmap(lambda roll: bad if roll == 5 else good)


utf8 = st.characters(codec="utf-8")  # no lone surrogate
good_phones = st.from_regex(r"\+?[0-9]{1,15}", fullmatch=True)
bad_phones = st.one_of(
    st.sampled_from(["", "+", "++1", "1+", " 1", "1 ", "+٣٤", "١٢٣", "12\n", "+1" + SURROGATE]),
    st.text(max_size=6),
    st.sampled_from([None, 13800138000, True, b"+1", Text("+123")]),
)
good_names = st.none() | st.text(utf8, max_size=48)
bad_names = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["n" * 49, "名" * 49, "a" + SURROGATE, 42, True, b"n", Text("n")]),
)
good_keys = st.text(st.characters(codec="utf-8", exclude_characters="%"), max_size=32)
bad_keys = st.one_of(
    st.tuples(good_keys, good_keys).map(lambda pair: f"{pair[0][:15]}%{pair[1][:16]}"),
    st.text("k", min_size=33, max_size=40),
    good_keys.map(lambda key: key[:31] + SURROGATE),
    st.sampled_from([1, True, None, (1, 2), Text("k")]),
)


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


good_values = st.one_of(
    st.text(utf8, max_size=40),
    # long, escaped or multi-byte text: near the 1 KB limit by its exact size, or over it
    st.integers(20, 400).flatmap(lambda size: st.text('a"\\\x01é𝄞', min_size=size, max_size=size)),
    st.integers(-(10**19) + 1, 10**19 - 1),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
bad_values = st.one_of(
    st.text(alphabet='\x00\x1f"\\é𝄞' + SURROGATE, max_size=40),
    st.integers(),
    st.sampled_from([10**19, -(10**19), 2**63, 2**64, -(2**64), 10**1100, 10**5000]),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, -1.7976931348623157e308]),
    st.sampled_from(["x" * 1000, "x" * 200_000, "é" * 300, Text("v"), Number(5), b"b", (1, 2)]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.integers(0, 60).map(nested),  # deeper ones: test_deep_vars_are_left_to_the_full_checks
)
var_dicts = st.dictionaries(
    mostly(good_keys, bad_keys), mostly(good_values, bad_values), max_size=8
)
variables = mostly(
    st.none() | var_dicts,
    st.one_of(
        var_dicts.map(OrderedDict),
        var_dicts.map(MappingProxyType),
        st.sampled_from([[("k", "v")], "{'k':'v'}", 5]),
    ),
)
phones = mostly(good_phones, bad_phones)
names = mostly(good_names, bad_names)


@st.composite
def raw_members(draw: st.DrawFn) -> object:
    phone, name, vars_ = draw(phones), draw(names), draw(variables)
    shape = draw(st.sampled_from(["dict", "dict", "dict", "sparse", "extra", "new", "new", "odd"]))
    if shape == "new":
        return NewMember(phone, name, vars_)  # any field, on purpose
    if shape == "odd":
        return draw(
            st.sampled_from([None, "+123", 123, ["+123"], ("+123", "n")])
            | st.builds(OrderedDict, st.just({"phone": phone, "name": name, "vars": vars_}))
        )
    raw: dict[str, Any] = {"phone": phone, "name": name, "vars": vars_}
    if shape in ("sparse", "extra"):  # some keys left out, or None values kept
        raw = {key: value for key, value in raw.items() if draw(st.booleans())}
    if shape == "extra":
        raw[draw(st.sampled_from(["nick", "Phone", "", "vars "]))] = draw(st.text(max_size=3))
    return raw


well_formed = st.fixed_dictionaries(
    {"phone": good_phones},
    optional={
        "name": st.text(utf8, max_size=48),
        "vars": st.dictionaries(
            st.text(st.characters(codec="utf-8", exclude_characters="%"), max_size=12),
            st.text(utf8, max_size=20)
            | st.integers(-(10**18), 10**18)
            | st.booleans()
            | st.none()
            | st.floats(allow_nan=False, allow_infinity=False),
            max_size=5,
        ),
    },
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(raw_members())
@example({"phone": "+8613800138000", "name": "n", "vars": {"k": "v"}})
@example({"phone": "+1", "vars": {"k": "x" * (1024 - len('{"k":""}'))}})
@example({"phone": "+1", "vars": {"k": "x" * (1025 - len('{"k":""}'))}})
@example({"phone": "+1", "vars": {"k": True, "n": 1, "f": 1.5, "z": None}})
@example({"phone": "+1", "name": None})
@example({"phone": "+٣٤"})  # digits, but not ASCII ones
@example({"phone": "١٢٣", "name": "n"})
@example(NewMember("+²"))
@example({"phone": "+1", "nick": "x"})
@example({"phone": "138 0013 8000", "name": "n"})  # a phone as written: default_region's
@example({"phone": "", "vars": {"k": "v"}})
@example({"phone": "+1" + SURROGATE, "name": None, "vars": None})
def test_quick_accept_answers_as_the_full_checks(raw: object) -> None:
    for any_phone in (False, True):  # a client without and with default_region
        quick_invalid: list[str] = []
        full_invalid: list[str] = []
        quick = _accept(raw, quick_invalid, any_phone)
        full = _accept_checked(raw, full_invalid, any_phone)
        assert as_sent(quick) == as_sent(full)
        assert quick_invalid == full_invalid
        if any_phone and isinstance(raw, Mapping) and not isinstance(raw.get("phone"), str):
            assert quick is None  # only text can be a phone as written
    quick_invalid = []
    quick = _accept(raw, quick_invalid)
    original = raw.vars if isinstance(raw, NewMember) else None
    if isinstance(raw, Mapping):
        original = raw.get("vars")
    if quick is not None and type(original) is dict:  # a snapshot: later changes are not in it
        sent = as_sent(quick)
        original["changed"] = "later"
        assert as_sent(quick) == sent


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        mostly(good_keys, bad_keys), mostly(good_values, bad_values), min_size=1, max_size=8
    )
)
@example({"k": "\x01" * 200})  # 1 KB by its escapes
@example({"k": "é" * 508})  # just within 1 KB in UTF-8
@example({"k": "𝄞" * 300})
@example({"k": 10**1100})  # long by its digits
@example({"k": 10**5000})  # too many digits to write
@example({f"k{i}": -1.7976931348623157e308 for i in range(40)})  # 1 KB by the numbers
def test_quick_vars_checks_answer_as_vars_problem(value: dict[Any, Any]) -> None:
    payload = quick_payload("+1", None, value)
    if payload is not None:
        assert vars_problem(value) is None
        assert as_sent(payload) == as_sent(snapshot_payload({"phone": "+1", "vars": value}))
    raw = {"phone": "+1", "vars": value}
    assert as_sent(_accept(raw, [])) == as_sent(_accept_checked(raw, []))


@pytest.mark.parametrize("depth", [100, 300, 999, 1000, 5000, 50_000])
def test_deep_vars_are_left_to_the_full_checks(depth: int) -> None:
    for raw in (
        {"phone": "+1", "vars": {"k": nested(depth)}},
        NewMember("+1", None, {"k": nested(depth)}),
    ):
        quick_invalid: list[str] = []
        full_invalid: list[str] = []
        quick = _accept(raw, quick_invalid)
        full = _accept_checked(raw, full_invalid)
        assert quick_invalid == full_invalid
        assert (quick is None) == (full is None) == (depth > 300)  # too deep, or over 1 KB
        if quick is not None:
            assert thaw(quick["vars"]) == full["vars"]  # (== is recursive, as repr is)


@settings(max_examples=300)
@given(phones, names, variables)
def test_quick_payload_is_only_given_for_members_the_full_checks_accept(
    phone: Any, name: Any, vars_: Any
) -> None:
    payload = quick_payload(phone, name, vars_)
    if payload is not None:
        member = NewMember(phone, name, vars_)
        assert member_problem(member) is None
        assert as_sent(payload) == as_sent(
            snapshot_payload({"phone": phone, "name": name, "vars": vars_})
        )


@given(well_formed)
def test_the_usual_member_takes_the_quick_path(raw: dict[str, Any]) -> None:
    # at most 5 vars of 12 + 20 characters: within the size bound, whatever the characters
    payload = quick_payload(raw["phone"], raw.get("name"), raw.get("vars"))
    assert payload is not None
    assert as_sent(payload) == as_sent(snapshot_payload(raw))
    assert as_sent(_accept(raw, [])) == as_sent(payload)


def test_a_new_member_takes_the_quick_path_too() -> None:
    member = NewMember("+8613800138000", "名字", {"k": "v", "n": 1})
    with mock.patch("sms_async.resources.members._accept_checked") as full:
        payload = _accept(member, [])
    full.assert_not_called()
    assert as_sent(payload) == as_sent({"phone": member.phone, "name": "名字", "vars": member.vars})


# --- the single-quoted vars --------------------------------------------------------------


def outcome(parse: Callable[[Any], dict[str, Any]], value: Any) -> tuple[str, str]:
    try:
        return "ok", repr(parse(value))  # repr: a strict comparison (1 != 1.0 != True)
    except (ValueError, TypeError) as exc:
        return "error", type(exc).__name__


# the JSON parser used (orjson's, when installed) and the stdlib's
LOADERS = [convert._text_loads, convert._checked_text_loads]

WHITESPACE = [" ", "", "\t", "\n", "\r", "\x0c", "\x0b", "\xa0", "\u3000", "\u2028", "\x85"]
scalar_values = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="'\"\\\n\r\t\x00é" + SURROGATE, max_size=6),
    st.integers(),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30, 0, -0]),
    st.floats(),
    st.booleans(),
    st.none(),
)
vars_values = st.recursive(
    scalar_values,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def quirk_texts(draw: st.DrawFn) -> str:
    """Text near the quirk's form: rendered literals, bent in the ways a server might."""
    value = draw(
        st.dictionaries(
            mostly(
                st.text(max_size=8), st.text("'\"\\\n\x00é" + SURROGATE, max_size=3) | st.integers()
            ),
            mostly(st.text(max_size=12) | st.integers(), vars_values),
            max_size=5,
        )
    )
    text = py_literal(value) if all(type(k) is str for k in value) else repr(value)
    bends = ["none", "none", "none", "space", "json", "repr", "cut", "swap", "trail", "pad"]
    bend = draw(st.sampled_from(bends))
    if bend == "space":
        text = text.replace(
            ":", draw(st.sampled_from(WHITESPACE)) + ":" + draw(st.sampled_from(WHITESPACE))
        )
        text = text.replace(",", "," + draw(st.sampled_from(WHITESPACE)))
    elif bend == "json":
        with contextlib.suppress(TypeError, ValueError):  # keys json cannot take
            text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    elif bend == "repr":
        text = repr(value)
    elif bend == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif bend == "swap":
        text = text.replace("'", '"')
    elif bend == "trail":
        text = text[:-1] + ",}"
    elif bend == "pad":
        pad = draw(st.sampled_from(WHITESPACE))
        text = pad + text + pad
    return text


texts = st.one_of(
    quirk_texts(),
    quirk_texts(),
    quirk_texts(),
    st.text(alphabet="{}[]'\":, \t\n\r\\0123456789-+.eETrueFalsNnul_xé" + SURROGATE, max_size=40),
    st.text(max_size=40),
    st.sampled_from(
        ["{}", "{'a':1}", "{'a':-0}", "{'a':01}", "{'a':1_0}", "{'a':true}", "\ufeff{}"]
    ),
    st.sampled_from(["{'a':" + "1" * 5000 + "}", "{'a':'" + "x" * 70_000 + "'}"]),
    st.just("{'n':1,'a':'" + "x" * 70_000 + "'}"),  # too long for the literal parser
    st.sampled_from(["{'a':\"x','y\":1}", "{\"a\":'b'}", "{'a':'\\''}", "{'a':'\\/'}"]),
    st.just("{'a':'" + SURROGATE + "','n':1}"),
    st.sampled_from(["{'n':" + str(2**64) + "}", "{'n':" + str(-(2**63) - 1) + "}", "{'a':1e400}"]),
)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_the_quick_vars_parser_agrees_with_the_reference(text: str) -> None:
    for loader in LOADERS:
        with mock.patch.object(convert, "_text_loads", loader):
            quick = quick_vars(text)
            reference = outcome(parse_vars_reference, text)
            if quick is not None:
                assert ("ok", repr(quick)) == reference
                assert repr(quick) == repr(ast.literal_eval(text.strip()))  # the quirk's meaning
            assert outcome(parse_vars, text) == reference


@given(
    st.one_of(
        st.none(),
        st.just(""),
        st.integers(),
        st.lists(st.text()),
        var_dicts,
        var_dicts.map(MappingProxyType),
    )
)
def test_parse_vars_agrees_with_the_reference_on_what_is_not_text(value: Any) -> None:
    assert outcome(parse_vars, value) == outcome(parse_vars_reference, value)


def test_the_usual_quirk_takes_the_quick_path() -> None:
    assert quick_vars("{'beizhu':'hello','n':3}") == {"beizhu": "hello", "n": 3}
    assert quick_vars("{'名':'值'}") == {"名": "值"}
    for slower in ["{'a':True}", "{'a':1.5}", "{'a':'it\\'s'}", "{'a':None}", "{'a':[1]}"]:
        assert quick_vars(slower) is None  # left to the reference, which reads them
        assert parse_vars(slower) == ast.literal_eval(slower)


# --- members listed ----------------------------------------------------------------------

UTC8 = timezone(timedelta(hours=8))
good_times = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC8)
    ).map(lambda when: when.strftime("%Y-%m-%dT%H:%M:%S%z")),
)
bad_times = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda when: when.strftime("%Y-%m-%d %H:%M:%S")  # smsapi's form: read as UTC+8
    ),
    st.sampled_from(["", " 2016-05-10T15:18:38+0800 ", "yesterday", "2016-13-01T00:00:00+0800"]),
    st.sampled_from(["2016-05-10T15:18:38Z", "2016-05-10", 0, 1.5, ["2016-05-10"], {"t": 1}]),
)
flat_vars = st.dictionaries(st.text(max_size=8), st.text(max_size=12) | st.integers(), max_size=4)
good_row_vars = st.one_of(flat_vars.map(py_literal), flat_vars, st.sampled_from(["", None]))
bad_row_vars = st.one_of(
    var_dicts,
    st.dictionaries(st.text(max_size=5), vars_values, max_size=3).map(
        lambda value: py_literal(value) if all(type(k) is str for k in value) else repr(value)
    ),
    texts,
    st.sampled_from([5, [1], "[1]", {1: "a"}]),
)
good_ids = st.integers(0, 2**63)
bad_ids = st.one_of(st.integers(), st.sampled_from(["12", " 12", "abc", True, False, None, 1.0]))
good_strings = st.text(max_size=12)
bad_strings = st.sampled_from([None, 0, 5, 1.5, True, False, [], [1], Text("t")])


@st.composite
def rows(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 30)) == 30:
        return draw(st.sampled_from([None, 1, "row", [1], OrderedDict(member_id=1)]))
    fields = {
        "member_id": mostly(good_ids, bad_ids),
        "phone": mostly(good_strings, bad_strings),
        "name": mostly(good_strings, bad_strings),
        "vars": mostly(good_row_vars, bad_row_vars),
        "create_time": mostly(good_times, bad_times),
        "update_time": mostly(good_times, bad_times),
    }
    return {
        key: draw(strategy)
        for key, strategy in fields.items()
        if draw(st.integers(0, 9)) != 9  # now and then a field is missing
    } | draw(
        st.dictionaries(st.sampled_from(["extra", "contact_List_id"]), st.integers(), max_size=1)
    )


@st.composite
def bodies(draw: st.DrawFn) -> object:
    if draw(st.integers(0, 20)) == 20:
        return draw(st.sampled_from([[], None, "page", {"result": "nope", "total": 1}]))
    body: dict[str, Any] = {"result": draw(mostly(st.lists(rows(), max_size=4), st.just(())))}
    for key, strategy in [("total", good_ids), ("count", st.none() | good_ids)]:
        if draw(st.integers(0, 9)) != 9:
            body[key] = draw(mostly(strategy, bad_ids))
    return body


def structured(parse: Callable[[Any], Any], body: Any) -> tuple[str, str]:
    from sms_async._answers import describe_structure_error

    try:
        return "ok", repr(parse(body))  # repr: strict (types, and each datetime's offset)
    except Exception as exc:  # what the transport turns into MalformedResponseError
        return "error", describe_structure_error(exc)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_quick_member_pages_are_what_full_structuring_makes(body: Any) -> None:
    from cattrs.gen import make_dict_structure_fn

    full = make_dict_structure_fn(ListResponse[Member], get_converter())
    convert._TIMES.clear()  # each path parses its timestamps itself
    expected = structured(lambda value: full(value, ListResponse[Member]), body)
    convert._TIMES.clear()
    assert structured(structurer(ListResponse[Member]), body) == expected
    convert._TIMES.clear()
    quick = quick_member_page(body)
    if quick is not None:
        assert ("ok", repr(quick)) == expected
    else:  # the quick path only leaves what it must
        assert body_is_unusual(body), body


def body_is_unusual(body: Any) -> bool:
    """Whether *body* is off the usual shape: the quick path must take the others."""
    if type(body) is not dict or type(body.get("result")) is not list:
        return True
    if type(body.get("total")) is not int or type(body.get("count", 0)) not in (int, type(None)):
        return True
    return not all(row_is_usual(row) for row in body["result"])


def row_is_usual(row: Any) -> bool:
    if type(row) is not dict or type(row.get("member_id")) is not int:
        return False
    if any(type(row.get(key, "")) is not str for key in ("phone", "name")):
        return False
    times = [row.get("create_time"), row.get("update_time")]
    if any(type(when) not in (str, type(None)) for when in times):
        return False
    if type(row.get("vars")) not in (str, dict, type(None)):
        return False
    try:
        parse_vars_reference(row.get("vars"))
        for when in times:
            convert._parse_datetime(when)
    except (ValueError, TypeError):
        return False
    return True


def test_timestamps_are_cached_by_their_exact_text() -> None:
    convert._TIMES.clear()
    first = convert._parse_datetime("2016-05-10T15:18:38+0800")
    assert convert._parse_datetime("2016-05-10T15:18:38+0800") is first
    assert convert._parse_datetime("2016-05-10T15:18:39+0800") == first + timedelta(seconds=1)
    assert convert._parse_datetime(" 2016-05-10T15:18:38+0800") == first
    assert convert._parse_datetime("2016-05-10 15:18:38") == first  # smsapi's: UTC+8
    for second in range(3 * convert._MAX_TIMES):
        when = datetime(2026, 1, 1, tzinfo=UTC8) + timedelta(seconds=second)
        assert convert._parse_datetime(when.strftime("%Y-%m-%dT%H:%M:%S%z")) == when
    assert len(convert._TIMES) <= convert._MAX_TIMES


def test_a_usual_page_takes_the_quick_path() -> None:
    row = {
        "member_id": 440164,
        "phone": "18********",
        "name": "",
        "vars": "{'beizhu':'hello'}",
        "create_time": "2016-10-18T15:13:27+0800",
        "update_time": "2016-10-18T15:13:27+0800",
    }
    page = quick_member_page({"result": [row, {**row, "vars": {"a": 1}}], "total": 2, "count": 2})
    assert page is not None
    assert [member.vars for member in page.result] == [{"beizhu": "hello"}, {"a": 1}]
    assert page.result[0].create_time == datetime(2016, 10, 18, 15, 13, 27, tzinfo=UTC8)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"result": [{"member_id": "abc"}], "total": 1}, "$.result[0].member_id"),
        ({"result": [{"member_id": 1, "vars": "[1]"}], "total": 1}, "$.result[0].vars"),
        ({"result": [{"member_id": 1, "create_time": "x"}], "total": 1}, "$.result[0].create_time"),
        ({"result": [{"member_id": 1}, {"phone": "1"}], "total": 1}, "$.result[1].member_id"),
        ({"result": []}, "$.total"),
    ],
)
def test_errors_of_a_page_still_name_the_field(body: Any, why: str) -> None:
    assert why in structured(structurer(ListResponse[Member]), body)[1]


async def test_members_reported_back_hold_their_vars_as_dicts() -> None:
    sent: list[bytes] = []

    async def send(batch: Batch) -> tuple[object, object]:
        sent.append(dumps(batch.wire()))
        if len(sent) == 2:
            raise SmsError("the second batch fails")
        return len(batch), []

    members: list[object] = [
        {"phone": f"+{i}", "name": "n", "vars": {"i": i, "s": "é", "f": 0.5}} for i in range(4)
    ]
    members.append(NewMember("+9", None, {"k": "v"}))
    reports: list[AddProgress] = []
    result = await add_members(
        members,
        send,
        batch_size=2,
        concurrency=1,
        raise_on_error=False,
        accept=_accept,
        on_progress=reports.append,
    )
    expected = [NewMember(f"+{i}", "n", {"i": i, "s": "é", "f": 0.5}) for i in range(4)] + [
        NewMember("+9", None, {"k": "v"})
    ]
    outcomes = [report.batch for report in reports if report.batch is not None]
    assert [member for outcome in outcomes for member in outcome.members] == expected
    assert result.failed_members == expected[2:4]
    assert all(type(member.vars) is dict for member in result.failed_members)
    assert json.loads(sent[0]) == [
        {"phone": "+0", "name": "n", "vars": {"i": 0, "s": "é", "f": 0.5}},
        {"phone": "+1", "name": "n", "vars": {"i": 1, "s": "é", "f": 0.5}},
    ]


def test_a_checked_member_is_sent_as_it_is_and_a_plain_dict_is_checked() -> None:
    from sms_async._validation import CheckedMember
    from sms_async.resources.members import _accept

    invalid: list[str] = []
    checked = CheckedMember(phone="+8613800138000", name="n")
    assert _accept(checked, invalid) is checked  # no second check, no copy
    plain = {"phone": "+8613800138000", "name": "n"}
    sent = _accept(plain, invalid)
    assert sent == plain
    assert sent is not plain  # snapshotted
    assert _accept({"phone": "not a phone"}, invalid) is None
    assert invalid == ["not a phone"]


# --- a whole chunk of a list at once (quick_json) ----------------------------------------

needs_orjson = pytest.mark.skipif(not FAST, reason="the chunk path needs orjson")


async def store_all(batch: Batch) -> tuple[object, object]:
    """The API's answer when every member of *batch* is added."""
    return len(batch), []


class Colour(enum.Enum):
    RED = "+1"


class Code(enum.StrEnum):
    A = "a"


class Level(enum.IntEnum):
    ONE = 1


try:
    import orjson

    FRAGMENTS: list[object] = [orjson.Fragment(b'"x"'), orjson.Fragment(b"1")]
except ImportError:  # pragma: no cover - depends on the install
    FRAGMENTS = []

#: Values orjson writes by rules of its own (or as null), in every place of a member.
odd_values = st.sampled_from(
    [
        Colour.RED,
        Code.A,
        Level.ONE,
        uuid.UUID(int=1),
        math.nan,
        math.inf,
        1.5,
        datetime(2026, 1, 1),
        Text("+1"),
        *FRAGMENTS,
    ]
)


@st.composite
def odd_members(draw: st.DrawFn) -> dict[str, Any]:
    member: dict[str, Any] = {"phone": "+8613800138000", "name": "n", "vars": {"k": "v"}}
    where = draw(st.sampled_from(["phone", "name", "vars", "value"]))
    if where == "value":
        member["vars"] = {"k": draw(odd_values)}
    else:
        member[where] = draw(odd_values)
    return member


#: Text as the chunk path takes it: no quote, backslash, control character or brace.
plain_text = st.characters(
    codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters='"\\{}%'
)
usual_members = st.fixed_dictionaries(
    {"phone": good_phones},
    optional={
        "name": st.text(plain_text, max_size=12),  # 4 bytes a character at most: <= 48 bytes
        "vars": st.dictionaries(
            st.text(plain_text, max_size=8),
            st.text(plain_text, max_size=20) | st.integers(-(2**63) + 1, 2**63 - 1) | st.booleans(),
            max_size=5,
        ),
    },
).map(lambda member: {key: member[key] for key in ("phone", "name", "vars") if key in member})


def accepted_one_by_one(
    members: list[Any], any_phone: bool = False
) -> tuple[bytes, list[str], str] | None:
    """What the members would be sent as, each checked on its own; None if one is refused."""
    payloads = [_accept_checked(member, [], any_phone) for member in members]
    if any(payload is None for payload in payloads):
        return None
    thawed = [{key: thaw(value) for key, value in p.items()} for p in payloads if p]
    return dumps(payloads), [p["phone"] for p in payloads if p], repr(thawed)


try:
    #: The rules of an upload: a client without a region, and (with phonenumbers) one in CN.
    RULES = [PhoneRules(None, dedupe=False), PhoneRules(PhoneNormalizer("CN"), dedupe=False)]
except ConfigurationError:  # pragma: no cover - phonenumbers is not installed
    RULES = [PhoneRules(None, dedupe=False)]


@needs_orjson
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(raw_members(), usual_members, odd_members()), min_size=1, max_size=6))
@example([{"phone": "+1", "vars": {"k": "x" * (1024 - len('{"k":""}'))}}])
@example([{"phone": "+1", "vars": {"k": "x" * (1025 - len('{"k":""}'))}}])
@example([{"phone": "+1", "vars": {"k": "é" * 508}}])  # 1 KB of UTF-8, by 508 characters
@example([{"phone": "+1", "vars": {"k": "é" * 509}}])
@example([{"phone": "+1", "name": "é" * 24}, {"phone": "+2", "name": "n" * 49}])
@example([{"phone": "+1", "vars": {"k" * 32: 1}}, {"phone": "+1", "vars": {"k" * 33: 1}}])
@example([{"phone": "+1", "vars": {"a%": 1}}])
@example([{"phone": "+1", "vars": {"k": "}"}}])
@example([{"phone": "+1", "name": None}])
@example([{"name": "n", "phone": "+1"}])  # another key order: sent as the full checks send it
@example([{"phone": "+8613800138000", "name": "n"}, {"phone": "13800138001"}])  # national
@example([{"phone": "+8613800138000"}, {"phone": "+86138001380"}])  # too short
def test_a_chunk_is_taken_whole_only_as_each_member_would_be_sent(members: list[Any]) -> None:
    for rules in RULES:  # a client without and with default_region
        got = rules.quick(members)
        if got is None:
            continue
        one_by_one = accepted_one_by_one(members, rules.active)
        assert one_by_one is not None, "the chunk path took a member the full checks refuse"
        data, phones = got
        assert data == one_by_one[0]  # the same JSON sent
        assert phones == one_by_one[1]
        assert repr(loads(data)) == one_by_one[2]  # and the same members reported back
        if rules.active:  # and normalizing would send each phone as it is
            assert all(rules.normalize(phone) == (phone, None) for phone in phones)


@needs_orjson
@given(st.lists(usual_members, min_size=1, max_size=20), st.sampled_from(RULES))
@example([{"phone": "+1", "vars": {"big": 2**64 - 1, "small": -(2**63)}}], RULES[0])
def test_the_usual_chunk_takes_the_chunk_path(members: list[Any], rules: PhoneRules) -> None:
    if rules.active:  # with a region: phones in E.164 already (Chinese mobiles)
        members = [{**m, "phone": f"+86138{i:08d}"} for i, m in enumerate(members)]
    got = rules.quick(members)
    assert got is not None
    assert got == accepted_one_by_one(members)[:2]  # type: ignore[index]


@needs_orjson
async def test_a_list_is_sent_as_read_whatever_changes_during_the_request() -> None:
    members = [{"phone": f"+1555000{i:04d}", "vars": {"n": str(i)}} for i in range(3)]
    release = asyncio.Event()
    sent: list[bytes] = []

    async def send(batch: Batch) -> tuple[object, object]:
        await release.wait()
        sent.append(dumps(batch.wire()))
        return len(batch), []

    upload = asyncio.ensure_future(
        add_members(
            members,
            send,
            batch_size=3,
            concurrency=1,
            raise_on_error=True,
            accept=_accept,
            quick=quick_json,
        )
    )
    for _ in range(5):
        await asyncio.sleep(0)
    members[0]["phone"] = "+19999999999"  # read already: none of this is sent
    members[1]["vars"]["n"] = "changed"
    del members[2]["vars"]
    release.set()
    result = await upload
    assert json.loads(sent[0]) == [
        {"phone": "+15550000000", "vars": {"n": "0"}},
        {"phone": "+15550000001", "vars": {"n": "1"}},
        {"phone": "+15550000002", "vars": {"n": "2"}},
    ]
    assert result.count == 3
    assert len(sent) == 1


@needs_orjson
async def test_only_a_list_or_a_tuple_is_read_a_chunk_at_a_time() -> None:
    rows = [{"phone": f"+1555000{i:04d}"} for i in range(4)]
    chunks: list[int] = []

    def quick(members: list[Any]) -> tuple[bytes, list[str]] | None:
        chunks.append(len(members))
        return quick_json(members)

    class Rows(list[dict[str, str]]):  # its iteration may run code of its own
        pass

    for members, expected in (
        (rows, [2, 2]),
        (tuple(rows), [2, 2]),
        (iter(rows), []),
        (Rows(rows), []),
    ):
        chunks.clear()
        result = await add_members(
            members,  # type: ignore[arg-type]  # an iterator of dicts
            store_all,
            batch_size=2,
            concurrency=1,
            raise_on_error=True,
            accept=_accept,
            quick=quick,
        )
        assert result.count == 4
        assert chunks == expected  # the others' items are snapshotted one by one


@needs_orjson
async def test_a_batch_sent_as_json_is_the_same_bytes_as_its_members() -> None:
    members = [{"phone": f"+1555000{i:04d}", "name": "名字", "vars": {"n": i}} for i in range(5)]
    got = quick_json(members)
    assert got is not None
    batch = Batch()
    batch.hold(*got)
    before = dumps(batch.wire())
    assert batch.is_json
    assert batch.members() == members  # dicts equal to the input, but copies
    assert batch.members()[0] is not members[0]
    assert not batch.is_json
    assert dumps(batch.wire()) == before
    assert batch.phones == [m["phone"] for m in members]


class _LikeDict(type):
    """A metaclass whose classes pass for ``dict`` in a set of types (and then raise)."""

    def __eq__(cls, other: object) -> bool:
        return other is dict or type.__eq__(cls, other)

    def __hash__(cls) -> int:
        return hash(dict)


class Impostor(metaclass=_LikeDict):
    pass


async def test_a_chunk_with_a_type_that_passes_for_dict_is_read_one_by_one() -> None:
    members: list[Any] = [{"phone": "+15550000001"}, {"phone": "+15550000002"}, Impostor()]
    with pytest.raises(BulkAddAbortedError) as raised:  # the impostor fools isinstance too
        await add_members(
            members,
            store_all,
            batch_size=3,
            concurrency=1,
            raise_on_error=True,
            accept=_accept,
            quick=quick_json,
        )
    # the chunk is not lost: the members before the impostor are sent, as one by one
    assert raised.value.result.count == 2
    assert raised.value.result.invalid == []


class Touchy(str):
    """A name that raises when measured: the input "raises" when this member is read."""

    def __len__(self) -> int:
        raise RuntimeError("touched")


@pytest.mark.parametrize("container", [list, tuple])
async def test_a_member_that_raises_mid_chunk_leaves_the_rest_unread(
    container: Callable[[list[Any]], Any],
) -> None:
    members = [{"phone": f"+1555000{i:04d}"} for i in range(10)]
    members[4] = {"phone": "+15559999999", "name": Touchy("n")}
    sent: list[list[str]] = []

    async def send(batch: Batch) -> tuple[object, object]:
        sent.append(batch.phones)
        return len(batch), []

    with pytest.raises(BulkAddAbortedError) as raised:
        await add_members(
            container(members),
            send,
            batch_size=10,
            concurrency=1,
            raise_on_error=True,
            accept=_accept,
            quick=quick_json,
        )
    assert isinstance(raised.value.__cause__, RuntimeError)
    # what was read before the raising member is sent and accounted for; nothing after it
    assert sent == [[f"+1555000{i:04d}" for i in range(4)]]
    assert raised.value.result.count == 4
    assert raised.value.result.invalid == []
    assert raised.value.result.failed == []
