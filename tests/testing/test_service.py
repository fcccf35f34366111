"""The core: ``handle`` answers any request, and never with a 500."""

from __future__ import annotations

import json
from typing import NoReturn

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sms_async.testing import FakeSmsServer, _routes, _service

from .conftest import json_values

AUTH = {"authorization": "Basic dGVzdC11c2VyOnRlc3Qta2V5"}  # test-user:test-key


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


async def test_handle_is_serve_without_the_network() -> None:
    fake = FakeSmsServer()
    fake.fail_next("contact_lists.list", "503")
    handled = fake.service.handle("GET", "/v1/contact_lists", headers=AUTH)
    assert (handled.status, handled.json()) == (200, {"result": [], "count": 0, "total": 0})
    assert fake.stats.total_requests == 0
    async with fake.http_client(auth=("test-user", "test-key")) as http:
        assert (await http.get("/v1/contact_lists")).status_code == 503
    assert fake.stats.requests == {"contact_lists.list": 1}


def test_a_bug_in_a_handler_is_a_json_500(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> NoReturn:
        raise RuntimeError("a bug")

    route = attrs.evolve(_routes.TABLE[0], handler=broken)
    monkeypatch.setattr(_service, "match", lambda method, path: (route, (), None))
    reply = FakeSmsServer().service.handle("GET", "/v1/contact_lists", headers=AUTH)
    assert reply.status == 500
    assert reply.json() == {"code": 500, "message": "internal error in the fake SMS server"}
    assert "the fake failed on contact_lists.list" in caplog.text
