import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_async import _json
from sms_async._validation import vars_problem


@pytest.fixture(params=["fast", "stdlib"])
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "stdlib":
        monkeypatch.setattr(_json, "_fast_dumps", None)
        monkeypatch.setattr(_json, "loads", json.loads)
    return str(request.param)


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(), c, max_size=3),
        max_leaves=10,
    )
)
def test_dumps_is_compact_utf8_json_that_loads_back(value: object) -> None:
    encoded = _json.dumps(value)
    assert json.loads(encoded) == value
    assert encoded == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_both_codecs(codec: str) -> None:
    assert _json.dumps({"a": "é", "n": [1, None]}) == '{"a":"é","n":[1,null]}'.encode()
    assert _json.dumps({"big": 2**80}) == b'{"big":1208925819614629174706176}'  # orjson refuses it
    assert _json.loads(b'{"x": 1}') == {"x": 1}
    with pytest.raises(ValueError, match=r"(?i)expect|unexpected|invalid"):
        _json.loads(b"<html>")


def exact_problem(value: dict[str, object]) -> bool:
    keys_ok = all(len(k) <= 32 and "%" not in k for k in value)
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    return not (keys_ok and size <= 1024)


@given(
    st.dictionaries(
        st.text(max_size=34),
        st.text(max_size=400) | st.integers() | st.text(alphabet='\x00\x1f"\\é𝄞', max_size=200),
        max_size=12,
    )
)
def test_vars_fast_bound_agrees_with_the_exact_rule(value: dict[str, object]) -> None:
    assert (vars_problem(value) is not None) == exact_problem(value)


def test_vars_at_exactly_1024_bytes() -> None:
    value = {"k": "x" * (1024 - len('{"k":""}'))}
    assert len(json.dumps(value, separators=(",", ":"))) == 1024
    assert vars_problem(value) is None
    assert vars_problem({"k": "x" * (1025 - len('{"k":""}'))}) is not None


def test_loads_text_reads_a_str() -> None:
    assert _json.loads_text('{"a": ["é", 1]}') == {"a": ["é", 1]}
    with pytest.raises(ValueError, match=r"(?i)expect|unexpected|invalid"):
        _json.loads_text("{'a': 1}")


@pytest.mark.skipif(not _json.FAST, reason="orjson is not installed")
def test_orjson_loads_text_refuses_lone_surrogates() -> None:
    # the quick vars parser relies on it (the stdlib's is checked by _convert instead)
    with pytest.raises(ValueError, match="surrogates"):
        _json.loads_text('{"a": "\ud800"}')


@pytest.mark.parametrize("fragments", [True, False])
def test_a_frozen_dict_is_sent_as_the_dict_was_then(
    fragments: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not fragments:
        monkeypatch.setattr(_json, "_Fragment", None)  # orjson not installed, or too old
    value = {"k": "é", "n": 1, "f": -0.0, "b": True, "z": None}
    frozen = _json.freeze(value)
    value["k"] = "changed later"
    expected = {"k": "é", "n": 1, "f": -0.0, "b": True, "z": None}
    assert _json.thaw(frozen) == expected
    assert json.loads(_json.dumps({"m": [{"vars": frozen}]})) == {"m": [{"vars": expected}]}
    # a body orjson refuses (an integer beyond 64 bits) goes to the stdlib, frozen parts too
    body = _json.dumps({"m": [{"vars": frozen}, {"vars": {"big": 2**70}}]})
    assert json.loads(body) == {"m": [{"vars": expected}, {"vars": {"big": 2**70}}]}
    assert _json.thaw("text") == "text"
    with pytest.raises(TypeError):
        _json.dumps({"m": object()})
