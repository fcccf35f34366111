"""Credentials: Basic auth on v1, signed parameters on the smsapi."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_async import sign_params
from sms_async.testing import FakeSmsServer

from .conftest import KEY, LISTS, QUERY, SEND, USER, Api, lists, task_params

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


async def test_signature_is_checked_over_the_documented_string(api: Api) -> None:
    await lists(api)
    params = {"smsUser": USER, **task_params()}
    # the rule, written out: KEY&sorted name=value pairs, unencoded&KEY
    text = KEY + "&" + "&".join(f"{k}={params[k]}" for k in sorted(params)) + "&" + KEY
    for digest in (
        hashlib.md5(text.encode()).hexdigest(),
        hashlib.sha256(text.encode()).hexdigest().upper(),
    ):
        response = await api.http.post(SEND, data={**params, "signature": digest})
        assert response.json()["result"] is True
    assert len(api.fake.tasks) == 2


@pytest.mark.parametrize(
    ("tamper", "status_code"),
    [
        ({"signature": "0" * 32}, 422),
        ({"taskName": "changed-after-signing"}, 422),
        ({"signature": ""}, 421),
        ({"smsUser": "nobody"}, 471),
        ({"smsUser": ""}, 472),
    ],
)
async def test_auth_failures_are_result_false_with_http_200(
    api: Api, tamper: dict[str, str], status_code: int
) -> None:
    await lists(api)
    data = {"smsUser": USER, **task_params()}
    data["signature"] = sign_params(data, KEY)
    data.update(tamper)
    for path in (SEND, QUERY):
        response = await api.http.post(path, data=data)
        assert response.status_code == 200
        body = response.json()
        assert body["result"] is False
        assert body["statusCode"] == status_code
        assert isinstance(body["message"], str)
    assert api.fake.tasks == []


async def test_a_signature_made_with_another_key_is_wrong(api: Api) -> None:
    await lists(api)
    data = {"smsUser": USER, **task_params()}
    data["signature"] = sign_params(data, "not-the-key", "sha256")
    body = (await api.http.post(SEND, data=data)).json()
    assert (body["result"], body["statusCode"]) == (False, 422)


async def test_timestamp_is_signed_and_must_be_near_server_time(api: Api) -> None:
    await lists(api)
    now_ms = int(api.fake.clock.now().timestamp() * 1000)
    near = (await api.smsapi(SEND, task_params(timestamp=str(now_ms - 59_000)))).json()
    assert near["result"] is True
    for stale in (str(now_ms - 61_000), str(now_ms + 61_000), "soon"):
        body = (await api.smsapi(SEND, task_params(timestamp=stale))).json()
        assert (body["result"], body["statusCode"]) == (False, 461)


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


async def test_sha256_signatures_are_accepted(fake: FakeSmsServer) -> None:
    fake.create_list("l")
    async with fake.client(signature_method="sha256") as client:
        task = await client.tasks.send(
            contact_list_name="l", task_name="t", template_id=1, sender_name="s"
        )
        assert (await client.tasks.get(task.task_id)).task_id == task.task_id
