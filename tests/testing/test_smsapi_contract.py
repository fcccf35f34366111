"""The smsapi of the fake, checked against API.md with raw HTTP (both front-ends)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest

from sms_async import sign_params
from sms_async.testing import FakeSmsServer

from .conftest import CST, KEY, QUERY, SEND, TASK_TIME, USER, Api


def task_params(**overrides: str) -> dict[str, str]:
    params = {
        "contactListName": "test",
        "taskName": "campaign",
        "senderName": "sendcloud",
        "templateId": "999",
    }
    params.update(overrides)
    return params


async def lists(api: Api) -> None:
    api.fake.create_list("test", members=[{"phone": f"+86{i}"} for i in range(4)])
    api.fake.create_list("other", members=[{"phone": "+1"}])


@pytest.mark.parametrize("http_method", ["POST", "GET"])
@pytest.mark.parametrize("sign", ["md5", "sha256"])
async def test_send_task_envelope(api: Api, http_method: str, sign: str) -> None:
    await lists(api)
    response = await api.smsapi(SEND, task_params(), http_method=http_method, sign=sign)
    assert response.status_code == 200
    body = response.json()
    assert body["result"] is True
    assert body["statusCode"] == 200
    assert body["message"] == "联系人列表任务保存成功"
    task = body["info"]["smsTask"]
    assert set(task) == {
        "contactListName",
        "createTime",
        "endTime",
        "memberCount",
        "senderName",
        "status",
        "taskId",
        "taskName",
        "templateId",
    }
    assert task["contactListName"] == "test"
    assert task["createTime"] == "2024-05-19 14:22:57"
    assert re.fullmatch(TASK_TIME, task["createTime"])
    assert task["endTime"] == ""
    assert task["memberCount"] == 4
    assert task["status"] == "等待执行"
    assert (task["taskName"], task["senderName"], task["templateId"]) == (
        "campaign",
        "sendcloud",
        999,
    )
    assert api.fake.get_task(task["taskId"]).member_count == 4


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


async def test_several_lists_sum_their_members(api: Api) -> None:
    await lists(api)
    body = (await api.smsapi(SEND, task_params(contactListName="test;other"))).json()
    task = body["info"]["smsTask"]
    assert task["memberCount"] == 5
    assert task["contactListName"] == "test;other"
    again = (await api.smsapi(SEND, task_params(contactListName="test;other;test"))).json()
    assert again["info"]["smsTask"]["memberCount"] == 5  # a list named twice counts once


@pytest.mark.parametrize(
    ("overrides", "status_code"),
    [
        ({"contactListName": "missing"}, 404),
        ({"contactListName": "test;missing"}, 404),
        ({"contactListName": ""}, 400),
        ({"taskName": ""}, 400),
        ({"senderName": ""}, 400),
        ({"templateId": ""}, 433),
        ({"templateId": "abc"}, 431),
        ({"templateId": "-5"}, 431),
        ({"executeTime": "2024/05/20 10:00:00"}, 451),
        ({"executeTime": "2024-05-20"}, 451),
        ({"executeTime": "2024-13-40 10:00:00"}, 451),
        ({"executeTime": "2024-05-19 14:22:56"}, 452),
    ],
)
async def test_send_rejects_bad_parameters(
    api: Api, overrides: dict[str, str], status_code: int
) -> None:
    await lists(api)
    response = await api.smsapi(SEND, task_params(**overrides))
    assert response.status_code == 200
    body = response.json()
    assert (body["result"], body["statusCode"]) == (False, status_code)
    assert api.fake.tasks == []


async def test_task_moves_on_the_clock(api: Api) -> None:
    await lists(api)
    sent = (await api.smsapi(SEND, task_params())).json()["info"]["smsTask"]

    async def query() -> dict[str, object]:
        body = (await api.smsapi(QUERY, {"taskId": str(sent["taskId"])})).json()
        assert body["result"] is True
        assert body["message"] == "查询成功"
        task: dict[str, object] = body["info"]["smsTask"]
        return task

    assert (await query())["status"] == "等待执行"
    api.fake.clock.advance(1)  # task_start_delay
    running = await query()
    assert (running["status"], running["endTime"]) == ("执行中", "")
    api.fake.clock.advance(timedelta(seconds=2))  # task_duration
    done = await query()
    assert done["status"] == "执行成功"
    assert done["endTime"] == "2024-05-19 14:23:00"
    assert done["createTime"] == sent["createTime"]


async def test_execute_time_keeps_a_task_waiting(api: Api) -> None:
    await lists(api)
    body = (await api.smsapi(SEND, task_params(executeTime="2024-05-20 09:00:00"))).json()
    task_id = str(body["info"]["smsTask"]["taskId"])
    api.fake.clock.advance(timedelta(hours=18))
    waiting = (await api.smsapi(QUERY, {"taskId": task_id}, http_method="GET")).json()
    assert waiting["info"]["smsTask"]["status"] == "等待执行"
    api.fake.clock.set(datetime(2024, 5, 20, 9, 0, 0, tzinfo=CST))
    running = (await api.smsapi(QUERY, {"taskId": task_id})).json()
    assert running["info"]["smsTask"]["status"] == "执行中"
    api.fake.clock.advance(timedelta(minutes=1))
    done = (await api.smsapi(QUERY, {"taskId": task_id})).json()["info"]["smsTask"]
    assert (done["status"], done["endTime"]) == ("执行成功", "2024-05-20 09:00:02")


async def test_execute_time_now_is_accepted(api: Api) -> None:
    await lists(api)
    body = (await api.smsapi(SEND, task_params(executeTime="2024-05-19 14:22:57"))).json()
    assert body["result"] is True


async def test_failed_and_unknown_statuses(api: Api) -> None:
    await lists(api)
    first = (await api.smsapi(SEND, task_params())).json()["info"]["smsTask"]["taskId"]
    second = (await api.smsapi(SEND, task_params())).json()["info"]["smsTask"]["taskId"]
    api.fake.fail_task(first)
    api.fake.set_task_status(second, "已暂停")
    api.fake.clock.advance(60)
    failed = (await api.smsapi(QUERY, {"taskId": str(first)})).json()["info"]["smsTask"]
    assert failed["status"] == "执行失败"
    assert failed["endTime"] != ""
    other = (await api.smsapi(QUERY, {"taskId": str(second)})).json()["info"]["smsTask"]
    assert (other["status"], other["endTime"]) == ("已暂停", "")


@pytest.mark.parametrize(("task_id", "status_code"), [("424242", 404), ("", 400), ("x1", 400)])
async def test_query_errors(api: Api, task_id: str, status_code: int) -> None:
    body = (await api.smsapi(QUERY, {"taskId": task_id})).json()
    assert (body["result"], body["statusCode"]) == (False, status_code)


async def test_timestamp_is_signed_and_must_be_near_server_time(api: Api) -> None:
    await lists(api)
    now_ms = int(api.fake.clock.now().timestamp() * 1000)
    near = (await api.smsapi(SEND, task_params(timestamp=str(now_ms - 59_000)))).json()
    assert near["result"] is True
    for stale in (str(now_ms - 61_000), str(now_ms + 61_000), "soon"):
        body = (await api.smsapi(SEND, task_params(timestamp=stale))).json()
        assert (body["result"], body["statusCode"]) == (False, 461)


async def test_post_reads_query_and_form_and_ignores_json(api: Api) -> None:
    await lists(api)
    data = {"smsUser": USER, **task_params()}
    data["signature"] = sign_params(data, KEY)
    as_json = (await api.http.post(SEND, json=data)).json()
    assert (as_json["result"], as_json["statusCode"]) == (False, 472)
    in_query = (await api.http.post(SEND, params=data)).json()
    assert in_query["result"] is True


async def test_only_known_templates_when_templates_are_given() -> None:
    fake = FakeSmsServer(templates={7})
    fake.create_list("test")
    for template, expected in (("7", True), ("8", False)):
        data = {"smsUser": USER, **task_params(templateId=template)}
        data["signature"] = sign_params(data, KEY)
        reply = fake.service.handle("POST", SEND, headers={}, body=urlencode(data).encode())
        body = reply.json()
        assert body["result"] is expected
        if not expected:
            assert body["statusCode"] == 431
    assert len(fake.tasks) == 1
