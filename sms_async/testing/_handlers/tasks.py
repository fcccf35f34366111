"""The ``tasks`` endpoints of the smsapi: send a task to contact lists, query a task."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..._convert import API_TZ
from .._auth import check_signature
from .._rules import (
    EXECUTE_TIME,
    INTEGER,
    SC_BAD_PARAM,
    SC_EXECUTE_TIME_FORMAT,
    SC_EXECUTE_TIME_PAST,
    SC_NOT_FOUND,
    SC_OK,
    SC_TEMPLATE_EMPTY,
    SC_TEMPLATE_MISSING,
    WAITING,
)
from .._store import StoredTask
from .._wire import TASK_TIME, Reply, Request, json_reply, smsapi_fail, task_time

if TYPE_CHECKING:
    from .._service import FakeService

__all__ = ["get_task", "send_task"]


def send_task(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``/smsapi/sendContactListTask``: store a task for one or more lists (``a;b``)."""
    params = _signed_params(fake, request)
    raw_names = params.get("contactListName", "")
    names = list(dict.fromkeys(name for name in raw_names.split(";") if name))
    if not names:
        smsapi_fail(SC_BAD_PARAM, "contactListName is required")
    by_name = {item.contact_list_name: item for item in fake.store.lists.values()}
    missing = [name for name in names if name not in by_name]
    if missing:
        smsapi_fail(SC_NOT_FOUND, f"contact list does not exist: {missing[0]}")
    task_name = params.get("taskName", "")
    if not task_name:
        smsapi_fail(SC_BAD_PARAM, "taskName is required")
    sender_name = params.get("senderName", "")
    if not sender_name:
        smsapi_fail(SC_BAD_PARAM, "senderName is required")
    raw_template = params.get("templateId", "").strip()
    if not raw_template:
        smsapi_fail(SC_TEMPLATE_EMPTY, "templateId is empty")
    templates = fake.options.templates
    if not (raw_template.isascii() and raw_template.isdigit()) or (
        templates is not None and int(raw_template) not in templates
    ):
        smsapi_fail(SC_TEMPLATE_MISSING, "template does not exist")
    now = fake.clock.now()
    start = _start_time(params.get("executeTime", ""), now, fake.options.task_start_delay)
    task = StoredTask(
        task_id=fake.store.new_task_id(),
        contact_list_name=raw_names,
        task_name=task_name,
        sender_name=sender_name,
        template_id=int(raw_template),
        member_count=sum(by_name[name].member_count for name in names),
        create_time=now,
        start_time=start,
        end_time=start + timedelta(seconds=fake.options.task_duration),
    )
    fake.store.tasks[task.task_id] = task
    # the answer to a send reports the task as saved: waiting
    return _envelope("联系人列表任务保存成功", _task_json(task, WAITING, None))


def get_task(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``/smsapi/queryContactListTask``: a task and its status on the fake's clock."""
    params = _signed_params(fake, request)
    raw_id = params.get("taskId", "").strip()
    if not raw_id:
        smsapi_fail(SC_BAD_PARAM, "taskId is required")
    if not INTEGER.fullmatch(raw_id):
        smsapi_fail(SC_BAD_PARAM, "taskId must be an integer")
    task = fake.store.tasks.get(int(raw_id))
    if task is None:
        smsapi_fail(SC_NOT_FOUND, "task does not exist")
    status, end = task.status_at(fake.clock.now())
    return _envelope("查询成功", _task_json(task, status, end))


def _signed_params(fake: FakeService, request: Request) -> dict[str, str]:
    params = request.smsapi_params()
    options = fake.options
    check_signature(params, options.sms_user, options.sms_key, fake.clock.now())
    return params


def _start_time(raw: str, now: datetime, delay: float) -> datetime:
    """When a task sent at *now* starts: at ``executeTime`` (checked), else after *delay*."""
    if not raw:
        return now + timedelta(seconds=delay)
    try:
        if not EXECUTE_TIME.fullmatch(raw):
            raise ValueError(raw)
        start = datetime.strptime(raw, TASK_TIME).replace(tzinfo=API_TZ)
    except ValueError:
        smsapi_fail(SC_EXECUTE_TIME_FORMAT, "executeTime must be yyyy-MM-dd HH:mm:ss")
    if start < now.replace(microsecond=0):
        smsapi_fail(SC_EXECUTE_TIME_PAST, "executeTime is earlier than server time")
    return start


def _task_json(task: StoredTask, status: str, end: datetime | None) -> dict[str, Any]:
    return {
        "contactListName": task.contact_list_name,
        "createTime": task_time(task.create_time),
        "endTime": "" if end is None else task_time(end),
        "memberCount": task.member_count,
        "senderName": task.sender_name,
        "status": status,
        "taskId": task.task_id,
        "taskName": task.task_name,
        "templateId": task.template_id,
    }


def _envelope(message: str, task: dict[str, Any]) -> Reply:
    return json_reply(
        200, {"result": True, "statusCode": SC_OK, "message": message, "info": {"smsTask": task}}
    )
