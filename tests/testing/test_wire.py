"""The wire format: bodies, query strings and forms, replies, vars and times."""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_async import NewMember, sign_params
from sms_async._convert import parse_vars
from sms_async.testing import FakeSmsServer
from sms_async.testing._wire import py_literal

from .conftest import KEY, LISTS, SEND, USER, Api, json_values, lists, task_params


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


@pytest.mark.parametrize(
    "content", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b'{"a": NaN}', b"[" * 100_000]
)
async def test_malformed_bodies_are_400_never_500(api: Api, content: bytes) -> None:
    list_id = await api.create("m")
    for method, path in [
        ("POST", LISTS),
        ("PUT", f"{LISTS}/{list_id}"),
        ("POST", f"{LISTS}/{list_id}/members"),
    ]:
        response = await api.v1(
            method, path, content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["code"] == 35000


async def test_responses_are_utf8_json(api: Api) -> None:
    list_id = await api.create("utf")
    path = f"{LISTS}/{list_id}/members"
    await api.v1(
        "POST", path, json={"members": [{"phone": "+1", "name": "张三", "vars": {"城市": "北京"}}]}
    )
    response = await api.v1("GET", path)
    assert "张三".encode() in response.content
    assert json.loads(response.content)["result"][0]["vars"] == "{'城市':'北京'}"


async def test_post_reads_query_and_form_and_ignores_json(api: Api) -> None:
    await lists(api)
    data = {"smsUser": USER, **task_params()}
    data["signature"] = sign_params(data, KEY)
    as_json = (await api.http.post(SEND, json=data)).json()
    assert (as_json["result"], as_json["statusCode"]) == (False, 472)
    in_query = (await api.http.post(SEND, params=data)).json()
    assert in_query["result"] is True


@pytest.mark.parametrize("quirks", [True, False])
async def test_the_client_reads_both_shapes(quirks: bool) -> None:
    async with FakeSmsServer(quirks=quirks) as fake, fake.client() as client:
        created = await client.contact_lists.create(contact_list_name="shapes")
        await client.members.add(
            created.contact_list_id, [NewMember("+1", vars={"a": "b", "n": 1})]
        )
        [listed] = [item async for item in client.contact_lists.list()]
        [member] = [m async for m in client.members.list(created.contact_list_id)]
    assert listed.contact_list_id == created.contact_list_id
    assert member.vars == {"a": "b", "n": 1}
