import asyncio
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from sms_async import AsyncSmsClient, SmsTask, TaskStatus, ValidationError, sign_params

from .conftest import KEY, TASK_BASE, USER

SEND = f"{TASK_BASE}/smsapi/sendContactListTask"
QUERY = f"{TASK_BASE}/smsapi/queryContactListTask"


def envelope(status: str = "等待执行", **task: object) -> dict[str, object]:
    return {
        "result": True,
        "statusCode": 200,
        "message": "ok",
        "info": {
            "smsTask": {
                "contactListName": "test",
                "createTime": "2017-05-19 14:22:57",
                "endTime": "",
                "memberCount": 4,
                "senderName": "sendcloud",
                "status": status,
                "taskId": 472,
                "taskName": "test",
                "templateId": 999,
                **task,
            }
        },
    }


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


async def test_send_posts_signed_form(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    route = router.post(SEND).mock(return_value=httpx.Response(200, json=envelope()))
    task = await client.tasks.send(
        contact_list_name=["test", "vip"],
        task_name="双十一 & sale",
        template_id=999,
        sender_name="sendcloud",
    )
    assert isinstance(task, SmsTask)
    assert (task.task_id, task.status, task.member_count) == (472, TaskStatus.WAITING, 4)
    sent = form(route.calls.last.request)
    assert sent["smsUser"] == USER
    assert sent["contactListName"] == "test;vip"
    assert sent["taskName"] == "双十一 & sale"
    assert sent["templateId"] == "999"
    assert "executeTime" not in sent
    assert "smsKey" not in sent
    unsigned = {k: v for k, v in sent.items() if k != "signature"}
    assert sent["signature"] == sign_params(unsigned, KEY, "md5")
    assert route.calls.last.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert KEY not in route.calls.last.request.content.decode()


async def test_send_leaves_out_sender_name_when_not_given(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.post(SEND).mock(return_value=httpx.Response(200, json=envelope()))
    await client.tasks.send(contact_list_name="test", task_name="t", template_id=1)
    sent = form(route.calls.last.request)
    assert set(sent) == {"smsUser", "contactListName", "taskName", "templateId", "signature"}


async def test_send_execute_time_aware_converted_to_utc8(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.post(SEND).mock(return_value=httpx.Response(200, json=envelope()))
    when = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    await client.tasks.send(contact_list_name="t", task_name="t", template_id=1, execute_time=when)
    assert form(route.calls.last.request)["executeTime"] == "2026-12-01 09:30:00"


async def test_send_execute_time_naive_sent_as_is(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.post(SEND).mock(return_value=httpx.Response(200, json=envelope()))
    when = datetime(2026, 12, 1, 1, 30)
    await client.tasks.send(contact_list_name="t", task_name="t", template_id=1, execute_time=when)
    assert form(route.calls.last.request)["executeTime"] == "2026-12-01 01:30:00"


async def test_sha256_signature_method(router: respx.MockRouter) -> None:
    route = router.post(QUERY).mock(return_value=httpx.Response(200, json=envelope()))
    async with AsyncSmsClient(USER, KEY, task_base_url=TASK_BASE, signature_method="sha256") as c:
        await c.tasks.get(472)
    sent = form(route.calls.last.request)
    unsigned = {k: v for k, v in sent.items() if k != "signature"}
    assert sent["signature"] == sign_params(unsigned, KEY, "sha256")
    assert len(sent["signature"]) == 64


async def test_get_task(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    route = router.post(QUERY).mock(
        return_value=httpx.Response(200, json=envelope("执行成功", endTime="2017-05-19 15:00:00"))
    )
    task = await client.tasks.get(472)
    assert task.status is TaskStatus.SUCCEEDED
    assert task.end_time == datetime(2017, 5, 19, 15, 0, tzinfo=timezone(timedelta(hours=8)))
    assert form(route.calls.last.request)["taskId"] == "472"


async def test_unknown_status_is_kept(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    router.post(QUERY).mock(return_value=httpx.Response(200, json=envelope("已暂停")))
    task = await client.tasks.get(472)
    assert task.status is TaskStatus.UNKNOWN
    assert task.raw_status == "已暂停"


async def test_wait_polls_until_final(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    route = router.post(QUERY).mock(
        side_effect=[
            httpx.Response(200, json=envelope("等待执行")),
            httpx.Response(200, json=envelope("执行中")),
            httpx.Response(200, json=envelope("执行成功", endTime="2017-05-19 15:00:00")),
        ]
    )
    task = await client.tasks.wait(472, poll_interval=0)
    assert task.status is TaskStatus.SUCCEEDED
    assert route.call_count == 3


async def test_wait_stops_at_failed(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    router.post(QUERY).mock(return_value=httpx.Response(200, json=envelope("执行失败")))
    assert (await client.tasks.wait(472, poll_interval=0)).status is TaskStatus.FAILED


async def test_wait_raises_builtin_timeout_error(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.post(QUERY).mock(return_value=httpx.Response(200, json=envelope("执行中")))
    with pytest.raises(TimeoutError):
        await client.tasks.wait(472, poll_interval=0, timeout=0)


async def test_wait_timeout_is_not_an_sms_error(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.post(QUERY).mock(return_value=httpx.Response(200, json=envelope("执行中")))
    with pytest.raises(TimeoutError) as info:
        await asyncio.wait_for(client.tasks.wait(472, poll_interval=0, timeout=0), 5)
    assert type(info.value) is TimeoutError


@pytest.mark.parametrize(
    "kwargs",
    [
        {"contact_list_name": [], "task_name": "t", "template_id": 1},
        {"contact_list_name": "bad name", "task_name": "t", "template_id": 1},
        {"contact_list_name": "ok", "task_name": "", "template_id": 1},
        {"contact_list_name": "ok", "task_name": "t", "template_id": "1"},
        {"contact_list_name": "ok", "task_name": "t", "template_id": 1, "execute_time": "now"},
    ],
)
async def test_send_validation(
    client: AsyncSmsClient, router: respx.MockRouter, kwargs: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        await client.tasks.send(**kwargs)
    assert not router.calls


@pytest.mark.parametrize(
    "kwargs", [{"poll_interval": "1"}, {"poll_interval": -1}, {"timeout": "5"}]
)
async def test_wait_validates_its_numbers(
    client: AsyncSmsClient, kwargs: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        await client.tasks.wait(1, **kwargs)


async def test_send_refuses_a_list_name_that_is_not_text(client: AsyncSmsClient) -> None:
    with pytest.raises(ValidationError, match="contact_list_name"):
        await client.tasks.send(contact_list_name=5, task_name="t", template_id=1)
