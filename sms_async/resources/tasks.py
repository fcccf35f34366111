"""``client.tasks``: send a template to contact lists, and follow the task (smsapi)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from .._checks import seconds
from .._constants import DEFAULT_POLL_INTERVAL
from .._convert import TaskResponse, format_execute_time, structurer
from .._errors import ValidationError
from .._models import SmsTask
from .._validation import check_contact_list_name, check_id, check_text
from ._base import Resource

__all__ = ["Tasks"]

_SEND = "/smsapi/sendContactListTask"
_QUERY = "/smsapi/queryContactListTask"
_parse_task = structurer(TaskResponse)


class Tasks(Resource):
    """The contact-list task endpoints of the smsapi (signed requests)."""

    __slots__ = ()

    async def send(
        self,
        *,
        contact_list_name: str | Sequence[str],
        task_name: str,
        template_id: int,
        sender_name: str | None = None,
        execute_time: datetime | None = None,
    ) -> SmsTask:
        """Create a task that sends a template to every member of the named lists.

        This request is never repeated after it may have reached the server, so a
        task is not created twice.

        Args:
            contact_list_name: A list name, or several (joined with ``;``).
            task_name: The task's name.
            template_id: The approved SMS template to send.
            sender_name: The sender's name.
            execute_time: When to run; ``None`` runs now. An aware datetime is
                converted to the API's clock (UTC+8); a naive one is sent as it is.

        Returns:
            The new task, usually ``WAITING``.
        """
        if isinstance(contact_list_name, str):
            names = [contact_list_name]
        elif isinstance(contact_list_name, Sequence):
            names = list(contact_list_name)
        else:
            raise ValidationError("contact_list_name must be a str or a sequence of str")
        if not names:
            raise ValidationError("contact_list_name must name at least one list")
        for name in names:
            check_contact_list_name(name)
        if not isinstance(task_name, str) or not task_name:
            raise ValidationError("task_name must be a non-empty string")
        check_text("task_name", task_name)
        if sender_name is not None:
            if not isinstance(sender_name, str):
                raise ValidationError("sender_name must be a string")
            check_text("sender_name", sender_name)
        check_id("template_id", template_id)
        params = {
            "contactListName": ";".join(names),
            "taskName": task_name,
            "templateId": str(template_id),
        }
        if sender_name is not None:
            params["senderName"] = sender_name
        if execute_time is not None:
            if not isinstance(execute_time, datetime):
                raise ValidationError("execute_time must be a datetime")
            params["executeTime"] = format_execute_time(execute_time)
        body = await self._transport.smsapi(_SEND, params, parse=_parse_task, idempotent=False)
        return body.task

    async def get(self, task_id: int) -> SmsTask:
        """Fetch a task's current state."""
        check_id("task_id", task_id)
        body = await self._transport.smsapi(
            _QUERY, {"taskId": str(task_id)}, parse=_parse_task, idempotent=True
        )
        return body.task

    async def wait(
        self,
        task_id: int,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,  # noqa: ASYNC109 - the public contract names it
    ) -> SmsTask:
        """Poll a task until its status is final (succeeded or failed).

        Args:
            task_id: The task.
            poll_interval: Seconds between polls.
            timeout: Give up after this many seconds.

        Returns:
            The task in its final state.

        Raises:
            TimeoutError: (the builtin) when *timeout* passes first.
        """
        seconds("poll_interval", poll_interval, zero=True)
        if timeout is not None:
            seconds("timeout", timeout, zero=True)
        async with asyncio.timeout(timeout):
            while True:
                task = await self.get(task_id)
                if task.status.is_final:
                    return task
                await asyncio.sleep(poll_interval)
