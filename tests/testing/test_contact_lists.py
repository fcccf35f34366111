"""The ``contact_lists`` endpoints, checked against API.md with raw HTTP (both front-ends)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_async.testing import FakeSmsServer

from .conftest import LISTS, V1_TIME, Api

AUTH = {"authorization": "Basic dGVzdC11c2VyOnRlc3Qta2V5"}  # test-user:test-key


async def test_create_returns_the_list_with_contact_list_id(api: Api) -> None:
    response = await api.v1(
        "POST", LISTS, json={"contact_list_name": "beijing", "description": "test"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    result = response.json()["result"]
    assert set(result) == {
        "contact_list_id",
        "contact_list_name",
        "description",
        "member_count",
        "create_time",
        "update_time",
    }
    assert result["contact_list_name"] == "beijing"
    assert result["description"] == "test"
    assert result["member_count"] == 0
    assert re.fullmatch(V1_TIME, result["create_time"])
    assert result["create_time"] == "2024-05-19T14:22:57+0800"
    assert api.fake.get_list(result["contact_list_id"]).contact_list_name == "beijing"


@pytest.mark.parametrize("body", [{}, {"contact_list_name": ""}, {"contact_list_name": None}])
async def test_create_without_a_name_is_35004(api: Api, body: dict[str, object]) -> None:
    response = await api.v1("POST", LISTS, json=body)
    assert response.status_code == 400
    assert response.json() == {"code": 35004, "message": "contact_list_name cannot be empty"}
    assert api.fake.contact_lists == []


@pytest.mark.parametrize(
    "body",
    [
        {"contact_list_name": "has space"},
        {"contact_list_name": "x" * 49},
        {"contact_list_name": "名单"},
        {"contact_list_name": 12},
        {"contact_list_name": ["a"]},
        {"contact_list_name": "ok", "description": "d" * 256},
        {"contact_list_name": "ok", "description": 5},
    ],
)
async def test_create_rejects_bad_values_with_400(api: Api, body: dict[str, object]) -> None:
    response = await api.v1("POST", LISTS, json=body)
    assert response.status_code == 400
    data = response.json()
    assert isinstance(data["code"], int)
    assert isinstance(data["message"], str)
    assert api.fake.contact_lists == []


async def test_create_accepts_the_limits(api: Api) -> None:
    name = "A-z_0" + "x" * 43
    assert len(name) == 48
    response = await api.v1(
        "POST", LISTS, json={"contact_list_name": name, "description": "d" * 255}
    )
    assert response.status_code == 200
    assert response.json()["result"]["contact_list_name"] == name


async def test_a_name_is_taken_once(api: Api) -> None:
    await api.create("dup")
    response = await api.v1("POST", LISTS, json={"contact_list_name": "dup"})
    assert response.status_code == 400
    assert response.json()["code"] == 35001
    assert len(api.fake.contact_lists) == 1


async def test_listing_spells_the_id_contact_List_id(api: Api) -> None:
    first = await api.create("test")
    await api.create("test2")
    response = await api.v1("GET", LISTS)
    body = response.json()
    assert body["count"] == 2
    assert body["total"] == 2
    assert [row["contact_List_id"] for row in body["result"]] == [first, first + 1]
    assert all("contact_list_id" not in row for row in body["result"])
    assert all(re.fullmatch(V1_TIME, row["update_time"]) for row in body["result"])


async def test_listing_pages_and_fuzzy_name(api: Api) -> None:
    for name in ["alpha", "beta", "alphabet", "gamma", "ALPHA2"]:
        await api.create(name)
    body = (await api.v1("GET", LISTS, params={"contact_list_name": "alpha"})).json()
    assert [row["contact_list_name"] for row in body["result"]] == ["alpha", "alphabet", "ALPHA2"]
    assert body["total"] == 3
    page = (await api.v1("GET", LISTS, params={"offset": 1, "limit": 2})).json()
    assert [row["contact_list_name"] for row in page["result"]] == ["beta", "alphabet"]
    assert (page["count"], page["total"]) == (2, 5)
    empty = (await api.v1("GET", LISTS, params={"limit": 0})).json()
    assert (empty["result"], empty["count"], empty["total"]) == ([], 0, 5)
    past = (await api.v1("GET", LISTS, params={"offset": 99})).json()
    assert (past["result"], past["total"]) == ([], 5)


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


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "101"},
        {"limit": "-1"},
        {"offset": "-1"},
        {"offset": "x"},
        {"limit": ""},
        {"limit": "1.5"},
    ],
)
async def test_listing_rejects_bad_paging(api: Api, params: dict[str, str]) -> None:
    for path in [
        LISTS,
        f"{LISTS}/{await api.create('p' + str(len(api.fake.contact_lists)))}/members",
    ]:
        response = await api.v1("GET", path, params=params)
        assert response.status_code == 400
        assert response.json()["code"] == 35000


async def test_update_changes_name_description_and_update_time(api: Api) -> None:
    list_id = await api.create("old")
    api.fake.clock.advance(60)
    response = await api.v1(
        "PUT", f"{LISTS}/{list_id}", json={"contact_list_name": "new", "description": "d"}
    )
    assert response.status_code == 200
    assert response.json() == {"count": 1}
    stored = api.fake.get_list(list_id)
    assert (stored.contact_list_name, stored.description) == ("new", "d")
    row = (await api.v1("GET", LISTS)).json()["result"][0]
    assert row["create_time"] == "2024-05-19T14:22:57+0800"
    assert row["update_time"] == "2024-05-19T14:23:57+0800"


async def test_update_with_an_empty_name_is_35004_and_taken_name_35001(api: Api) -> None:
    list_id = await api.create("one")
    await api.create("two")
    empty = await api.v1("PUT", f"{LISTS}/{list_id}", json={"contact_list_name": ""})
    assert (empty.status_code, empty.json()["code"]) == (400, 35004)
    taken = await api.v1("PUT", f"{LISTS}/{list_id}", json={"contact_list_name": "two"})
    assert (taken.status_code, taken.json()["code"]) == (400, 35001)
    same = await api.v1("PUT", f"{LISTS}/{list_id}", json={"contact_list_name": "one"})
    assert same.json() == {"count": 1}


@pytest.mark.parametrize("list_id", ["999999", "abc", "0", "1" * 40, "٣"])
async def test_missing_lists_are_35002_everywhere(api: Api, list_id: str) -> None:
    calls = [
        ("PUT", f"{LISTS}/{list_id}", {"description": "x"}),
        ("DELETE", f"{LISTS}/{list_id}", None),
        ("GET", f"{LISTS}/{list_id}/members", None),
        ("POST", f"{LISTS}/{list_id}/members", {"members": []}),
        ("PUT", f"{LISTS}/{list_id}/members/1", {"member": {}}),
        ("DELETE", f"{LISTS}/{list_id}/members/1", None),
    ]
    for method, path, body in calls:
        response = await api.v1(method, path, json=body)
        assert response.status_code == 400, (method, path)
        assert response.json() == {"code": 35002, "message": "The contact_list_id does not exist"}


async def test_delete_removes_the_list(api: Api) -> None:
    list_id = await api.create("gone")
    response = await api.v1("DELETE", f"{LISTS}/{list_id}")
    assert response.json() == {"count": 1}
    assert api.fake.contact_lists == []
    again = await api.v1("DELETE", f"{LISTS}/{list_id}")
    assert again.json()["code"] == 35002
