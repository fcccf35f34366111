"""The ``tasks`` endpoints of the smsapi, checked against API.md with raw HTTP (both front-ends)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest

from sms_async import APIConnectionError, TaskStatus, sign_params
from sms_async.testing import FakeSmsServer

from .conftest import CST, KEY, QUERY, SEND, TASK_TIME, USER, Api, lists, task_params


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


async def test_a_task_is_created_once_despite_a_lost_response(fake: FakeSmsServer) -> None:
    fake.create_list("l")
    fake.fail_next("tasks.send", "drop_after")
    async with fake.client(max_retries=5) as client:
        with pytest.raises(APIConnectionError, match="RemoteProtocolError"):
            await client.tasks.send(
                contact_list_name="l", task_name="t", template_id=1, sender_name="s"
            )
    assert len(fake.tasks) == 1


async def test_execute_time_round_trips_on_the_api_clock(fake: FakeSmsServer) -> None:
    fake.create_list("later")
    when = datetime(2024, 5, 20, 8, 0, tzinfo=CST)
    async with fake.client() as client:
        task = await client.tasks.send(
            contact_list_name="later",
            task_name="t",
            template_id=1,
            sender_name="s",
            execute_time=when,
        )
        assert fake.get_task(task.task_id).start_time == when
        fake.clock.set(when - timedelta(seconds=1))
        assert (await client.tasks.get(task.task_id)).status is TaskStatus.WAITING
        fake.clock.set(when)
        assert (await client.tasks.get(task.task_id)).status is TaskStatus.RUNNING
