"""The v1 REST API of the fake, checked against API.md with raw HTTP (both front-ends)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from .conftest import KEY, USER, V1_TIME, Api

LISTS = "/v1/contact_lists"

ENDPOINTS = [
    ("GET", LISTS),
    ("POST", LISTS),
    ("PUT", f"{LISTS}/1"),
    ("DELETE", f"{LISTS}/1"),
    ("GET", f"{LISTS}/1/members"),
    ("POST", f"{LISTS}/1/members"),
    ("PUT", f"{LISTS}/1/members/1"),
    ("DELETE", f"{LISTS}/1/members/1"),
]


def basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic(USER, "wrong"),
        basic("someone", KEY),
        "Basic not-base64!!",
        "Bearer " + base64.b64encode(f"{USER}:{KEY}".encode()).decode(),
        "Basic " + base64.b64encode(USER.encode()).decode(),  # no colon
    ],
)
async def test_every_v1_endpoint_needs_valid_basic_auth(
    api: Api, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await api.http.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.json() == {"code": 30000, "message": "Unauthorized."}


async def test_basic_auth_scheme_is_case_insensitive(api: Api) -> None:
    token = base64.b64encode(f"{USER}:{KEY}".encode()).decode()
    response = await api.http.get(LISTS, headers={"Authorization": f"basic {token}"})
    assert response.status_code == 200


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


async def test_members_do_not_touch_the_list_update_time(api: Api) -> None:
    list_id = await api.create("l")
    api.fake.clock.advance(60)
    response = await api.v1(
        "POST", f"{LISTS}/{list_id}/members", json={"members": [{"phone": "+1"}]}
    )
    assert response.json()["result"]["count"] == 1
    row = (await api.v1("GET", LISTS)).json()["result"][0]
    assert row["update_time"] == row["create_time"]
    assert row["member_count"] == 1


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


async def test_add_members_counts_and_reports_invalid_ones(api: Api) -> None:
    list_id = await api.create("m")
    members = [
        {"phone": "+86158452369825", "name": "aaa", "vars": {"sex": "male", "code": "1"}},
        {"phone": "8618754265414"},
        {"phone": "130-1234"},  # not digits
        {"phone": "+"},
        {"phone": 8613800000000},  # not a string
        {"name": "no phone"},
        {"phone": "+8613800000001", "name": "n" * 49},
        {"phone": "+8613800000002", "vars": {"k" * 33: "v"}},
        {"phone": "+8613800000003", "vars": {"100%": "v"}},
        {"phone": "+8613800000004", "vars": {"big": "x" * 1100}},
        {"phone": "+8613800000005", "vars": ["not", "an", "object"]},
        {"phone": "+86158452369825"},  # already in the list
        "not an object",
    ]
    response = await api.v1("POST", f"{LISTS}/{list_id}/members", json={"members": members})
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["count"] == 2
    assert result["invalid"] == [
        "130-1234",
        "+",
        "8613800000000",
        "",
        "+8613800000001",
        "+8613800000002",
        "+8613800000003",
        "+8613800000004",
        "+8613800000005",
        "+86158452369825",
        "",
    ]
    assert api.fake.get_list(list_id).phones == ["+86158452369825", "8618754265414"]


async def test_add_members_limits_per_request(api: Api) -> None:
    list_id = await api.create("big")
    path = f"{LISTS}/{list_id}/members"
    ok = await api.v1(
        "POST", path, json={"members": [{"phone": str(10**9 + i)} for i in range(1000)]}
    )
    assert ok.json()["result"] == {"count": 1000, "invalid": []}
    too_many = await api.v1(
        "POST", path, json={"members": [{"phone": str(2 * 10**9 + i)} for i in range(1001)]}
    )
    assert too_many.status_code == 400
    assert too_many.json()["code"] == 35000
    assert api.fake.get_list(list_id).member_count == 1000
    for body in [{}, {"members": "x"}, {"members": {"phone": "1"}}]:
        response = await api.v1("POST", path, json=body)
        assert response.status_code == 400


async def test_vars_come_back_as_a_single_quoted_string(api: Api) -> None:
    list_id = await api.create("v")
    path = f"{LISTS}/{list_id}/members"
    await api.v1(
        "POST",
        path,
        json={
            "members": [
                {"phone": "18000000000", "vars": {"beizhu": "hello"}},
                {
                    "phone": "13000000000",
                    "name": "Bob",
                    "vars": {"name": "ignored", "n": 1, "ok": True},
                },
                {"phone": "13100000000"},
            ]
        },
    )
    rows = (await api.v1("GET", path)).json()["result"]
    assert rows[0]["vars"] == "{'beizhu':'hello'}"
    assert rows[0]["name"] == ""
    assert rows[1]["vars"] == "{'name':'Bob','n':1,'ok':True}"  # name overrides vars' name
    assert rows[1]["name"] == "Bob"
    assert rows[2]["vars"] == ""
    assert set(rows[0]) == {"member_id", "phone", "name", "vars", "create_time", "update_time"}
    assert re.fullmatch(V1_TIME, rows[0]["create_time"])


async def test_list_members_filters(api: Api) -> None:
    list_id = await api.create("f")
    path = f"{LISTS}/{list_id}/members"
    phones = [f"+861580000{i:04d}" for i in range(150)]
    await api.v1("POST", path, json={"members": [{"phone": p} for p in phones]})
    everyone = (await api.v1("GET", path)).json()
    assert (everyone["count"], everyone["total"]) == (100, 150)
    ids = [row["member_id"] for row in everyone["result"]]
    assert ids == sorted(ids)
    fuzzy = (await api.v1("GET", path, params={"phone": "000149"})).json()
    assert [row["phone"] for row in fuzzy["result"]] == ["+8615800000149"]
    chosen = (await api.v1("GET", path, params={"member_ids": f"{ids[5]};{ids[2]};;999"})).json()
    assert [row["member_id"] for row in chosen["result"]] == [ids[2], ids[5]]
    assert chosen["total"] == 2
    too_many = await api.v1("GET", path, params={"member_ids": ";".join(map(str, range(101)))})
    assert too_many.status_code == 400
    bad = await api.v1("GET", path, params={"member_ids": "1;x"})
    assert bad.status_code == 400


async def test_update_member_with_put(api: Api) -> None:
    list_id = await api.create("u")
    path = f"{LISTS}/{list_id}/members"
    await api.v1(
        "POST",
        path,
        json={"members": [{"phone": "+1000", "name": "a", "vars": {"x": "1"}}, {"phone": "+2000"}]},
    )
    member_id = api.fake.members(list_id)[0].member_id
    api.fake.clock.advance(5)
    response = await api.v1(
        "PUT",
        f"{path}/{member_id}",
        json={"member": {"phone": "158452369825", "name": "aaa", "vars": {"sex": "male"}}},
    )
    assert response.json() == {"count": 1}
    row = (await api.v1("GET", path, params={"member_ids": str(member_id)})).json()["result"][0]
    assert (row["phone"], row["name"], row["vars"]) == ("158452369825", "aaa", "{'sex':'male'}")
    assert row["update_time"] == "2024-05-19T14:23:02+0800"
    assert row["create_time"] == "2024-05-19T14:22:57+0800"
    # the seed's curl example uses POST; the documented method is PUT
    post = await api.v1("POST", f"{path}/{member_id}", json={"member": {"name": "b"}})
    assert post.status_code == 405
    assert api.fake.members(list_id)[0].name == "aaa"


async def test_update_member_errors(api: Api) -> None:
    list_id = await api.create("e")
    path = f"{LISTS}/{list_id}/members"
    await api.v1("POST", path, json={"members": [{"phone": "+1000"}, {"phone": "+2000"}]})
    first, second = (member.member_id for member in api.fake.members(list_id))
    missing = await api.v1("PUT", f"{path}/999999", json={"member": {"name": "x"}})
    assert (missing.status_code, missing.json()["code"]) == (400, 35003)
    for fields in [{"phone": "abc"}, {"name": "n" * 49}, {"vars": {"%": "1"}}, {"phone": "+2000"}]:
        response = await api.v1("PUT", f"{path}/{first}", json={"member": fields})
        assert response.status_code == 400, fields
        assert response.json()["code"] == 35000
    not_object = await api.v1("PUT", f"{path}/{second}", json={"member": "x"})
    assert not_object.status_code == 400
    assert [member.phone for member in api.fake.members(list_id)] == ["+1000", "+2000"]


async def test_delete_member(api: Api) -> None:
    list_id = await api.create("d")
    path = f"{LISTS}/{list_id}/members"
    await api.v1("POST", path, json={"members": [{"phone": "+1000"}, {"phone": "+2000"}]})
    member_id = api.fake.members(list_id)[0].member_id
    response = await api.v1("DELETE", f"{path}/{member_id}")
    assert response.json() == {"count": 1}
    assert api.fake.get_list(list_id).phones == ["+2000"]
    again = await api.v1("DELETE", f"{path}/{member_id}")
    assert (again.status_code, again.json()["code"]) == (400, 35003)
    # the phone may be added again once its member is gone
    readd = await api.v1("POST", path, json={"members": [{"phone": "+1000"}]})
    assert readd.json()["result"]["count"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1",
        "/v1/contact_lists/",
        "/v1/contact_lists/1/",
        "/v1/contact_lists/1/other",
        "/v1/contact_lists/1/members/2/x",
        "/smsapi/other",
        "/v2/contact_lists",
    ],
)
async def test_unknown_routes_are_404_json(api: Api, path: str) -> None:
    response = await api.v1("GET", path)
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", LISTS, "GET, POST"),
        ("DELETE", LISTS, "GET, POST"),
        ("GET", f"{LISTS}/1", "PUT, DELETE"),
        ("PUT", f"{LISTS}/1/members", "GET, POST"),
        ("GET", f"{LISTS}/1/members/2", "PUT, DELETE"),
        ("PUT", "/smsapi/sendContactListTask", "GET, POST"),
        ("DELETE", "/smsapi/queryContactListTask", "GET, POST"),
    ],
)
async def test_wrong_methods_are_405_with_allow(
    api: Api, method: str, path: str, allow: str
) -> None:
    response = await api.v1(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {"code": 405, "message": "Method Not Allowed"}


async def test_responses_are_utf8_json(api: Api) -> None:
    list_id = await api.create("utf")
    path = f"{LISTS}/{list_id}/members"
    await api.v1(
        "POST", path, json={"members": [{"phone": "+1", "name": "张三", "vars": {"城市": "北京"}}]}
    )
    response = await api.v1("GET", path)
    assert "张三".encode() in response.content
    assert json.loads(response.content)["result"][0]["vars"] == "{'城市':'北京'}"
