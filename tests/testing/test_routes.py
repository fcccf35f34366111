"""The route table: matching (404, 405 with Allow), the route names, the handlers."""

from __future__ import annotations

import pytest

from sms_async.testing import ROUTES, FakeSmsServer
from sms_async.testing._routes import TABLE, check_route, match

from .conftest import LISTS, Api


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


def test_the_table_feeds_the_route_names_and_matching() -> None:
    assert tuple(route.name for route in TABLE) == ROUTES
    assert len(set(ROUTES)) == len(ROUTES) == 10
    for route in TABLE:
        path = route.path.replace("{list_id}", "1001").replace("{member_id}", "500001")
        for method in route.methods:
            found, ids, allow = match(method, path)
            assert (found, allow) == (route, None)
            assert ids == tuple(part for part in ("1001", "500001") if part in path)


def test_each_route_is_handled_in_the_module_of_its_namespace() -> None:
    for route in TABLE:
        namespace = route.name.split(".")[0]
        assert route.handler.__module__ == f"sms_async.testing._handlers.{namespace}"
        assert route.smsapi is (namespace == "tasks")


def test_fault_routes_come_from_the_table() -> None:
    fake = FakeSmsServer()
    for route in TABLE:
        fake.fail_next(route.name, "503")
    with pytest.raises(ValueError, match="unknown route"):
        check_route("members.upload")
