"""The web-app example of docs/web-apps.md, run with httpx's ASGI transport against the fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from fastapi import FastAPI

from sms_async.testing import FakeSmsServer

from .app import create_app


@pytest.fixture
async def served(sms_fake: FakeSmsServer) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(make_client=sms_fake.client)
    async with (
        app.router.lifespan_context(app),  # httpx's ASGI transport runs no lifespan
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://service.test"
        ) as http,
    ):
        yield app, http


async def test_a_csv_is_imported_in_the_background_and_a_campaign_sent(
    sms_fake: FakeSmsServer, served: tuple[FastAPI, httpx.AsyncClient]
) -> None:
    _, http = served
    target = sms_fake.create_list("spring")
    csv_body = "phone,name\n" + "".join(f"+86138{i:08d},N{i}\n" for i in range(2500))
    csv_body += "not-a-phone,Bad\n"
    answer = await http.post(f"/lists/{target.contact_list_id}/import", content=csv_body)
    assert answer.status_code == 202
    assert answer.json() == {"rows": 2501}
    report = (await http.get(f"/lists/{target.contact_list_id}/import")).json()
    assert report == {"added": 2500, "invalid": 1, "resend": 0, "check": 0}
    assert sms_fake.get_list("spring").member_count == 2500

    sent = await http.post(
        "/campaigns", json={"list_name": "spring", "template_id": 7, "sender_name": "ACME"}
    )
    assert sent.status_code == 200
    assert sms_fake.get_task(sent.json()["task_id"]).task_name == "campaign-spring"


async def test_one_client_serves_concurrent_requests(
    sms_fake: FakeSmsServer, served: tuple[FastAPI, httpx.AsyncClient]
) -> None:
    app, http = served
    lists = [sms_fake.create_list(f"l{i}") for i in range(6)]
    bodies = ["phone\n" + "".join(f"+1555{i:03d}{n:04d}\n" for n in range(300)) for i in range(6)]
    answers = await asyncio.gather(
        *(http.post(f"/lists/{lst.contact_list_id}/import", content=body)
          for lst, body in zip(lists, bodies, strict=True))
    )  # fmt: skip
    assert [a.status_code for a in answers] == [202] * 6
    assert [sms_fake.get_list(f"l{i}").member_count for i in range(6)] == [300] * 6
    assert sms_fake.stats.max_in_flight <= app.state.sms.max_concurrency


async def test_a_missing_list_is_a_404_of_the_service(
    served: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, http = served
    sent = await http.post(
        "/campaigns", json={"list_name": "nope", "template_id": 7, "sender_name": "ACME"}
    )
    assert sent.status_code == 404


async def test_the_app_with_respx_mocking_the_sms_api() -> None:
    from sms_async import AsyncSmsClient

    app = create_app(
        make_client=lambda: AsyncSmsClient(
            "u", "k", base_url="https://sms.test", task_base_url="https://task.test"
        )
    )
    with respx.mock(assert_all_mocked=True) as mock:  # only the SMS API's hosts are mocked
        mock.post("https://task.test/smsapi/sendContactListTask").mock(
            return_value=httpx.Response(
                200,
                json={
                    "result": True,
                    "statusCode": 200,
                    "message": "ok",
                    "info": {
                        "smsTask": {
                            "taskId": 41,
                            "contactListName": "spring",
                            "taskName": "campaign-spring",
                            "senderName": "ACME",
                            "templateId": 7,
                            "memberCount": 3,
                            "status": "等待执行",
                            "createTime": "2026-11-25 10:00:00",
                            "endTime": "",
                        }
                    },
                },
            )
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://service.test"
            ) as http,
        ):
            sent = await http.post(
                "/campaigns", json={"list_name": "spring", "template_id": 7, "sender_name": "ACME"}
            )
    assert sent.json() == {"task_id": 41}
