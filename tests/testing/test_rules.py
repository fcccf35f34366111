"""The fake's own copy of the API's rules."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sms_async.testing._rules import _json_size

from .conftest import json_values


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_vars_size_is_the_compact_json_size(value: dict[str, Any]) -> None:
    expected = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    assert _json_size(value) == expected
