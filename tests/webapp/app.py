"""A FastAPI service that imports contacts in the background and sends campaigns.

One AsyncSmsClient for the whole app, made in the lifespan (inside the event
loop that serves the requests), shared by every request and background task,
and closed when the app stops. Run it with ``uvicorn app:app``; credentials
and URLs come from SMS_ASYNC_USER, SMS_ASYNC_KEY (and SMS_ASYNC_BASE_URL,
SMS_ASYNC_TASK_BASE_URL).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

from sms_async import AsyncSmsClient, BulkAddAbortedError, NotFoundError, SmsError

logger = logging.getLogger("contacts_service")


class Campaign(BaseModel):
    """A campaign to send: a template to every member of a list."""

    list_name: str
    template_id: int
    sender_name: str


def create_app(make_client: Callable[[], AsyncSmsClient] = AsyncSmsClient) -> FastAPI:
    """The app; *make_client* builds its one AsyncSmsClient (tests pass the fake's)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with make_client() as client:  # made here: it belongs to the serving loop
            app.state.sms = client
            yield
        # leaving the block closed the client and its connections

    app = FastAPI(lifespan=lifespan)
    app.state.imports = {}

    def sms(request: Request) -> AsyncSmsClient:
        client: AsyncSmsClient = request.app.state.sms
        return client

    async def import_rows(client: AsyncSmsClient, list_id: int, rows: list[dict[str, str]]) -> None:
        report = app.state.imports.setdefault(list_id, {})
        try:
            result = await client.members.add(list_id, rows, raise_on_error=False)
        except BulkAddAbortedError as exc:  # a wrong key, the list deleted, ...
            result = exc.result
            report["stopped"] = f"{type(exc.__cause__).__name__}: {exc.__cause__}"
        report.update(
            added=result.count,
            invalid=len(result.invalid),
            resend=sum(len(b.members) for b in result.failed if not b.maybe_stored),
            check=sum(len(b.members) for b in result.failed if b.maybe_stored),
        )
        logger.info("import into list %d: %s", list_id, report)

    @app.post("/lists/{list_id}/import", status_code=202)
    async def import_csv(
        list_id: int,
        request: Request,
        background: BackgroundTasks,
        client: AsyncSmsClient = Depends(sms),  # noqa: B008 - FastAPI's idiom
    ) -> dict[str, int]:
        """Take a CSV body (a header row with phone, name) and import it in the background."""
        text = (await request.body()).decode("utf-8-sig")
        rows = [
            {key: value for key, value in row.items() if key in ("phone", "name") and value}
            for row in csv.DictReader(io.StringIO(text))
        ]
        background.add_task(import_rows, client, list_id, rows)
        return {"rows": len(rows)}

    @app.get("/lists/{list_id}/import")
    async def import_report(list_id: int, request: Request) -> dict[str, object]:
        """The outcome of the last import into a list."""
        report: dict[str, object] = request.app.state.imports.get(list_id, {})
        return report

    @app.post("/campaigns")
    async def send_campaign(
        campaign: Campaign,
        client: AsyncSmsClient = Depends(sms),  # noqa: B008 - FastAPI's idiom
    ) -> dict[str, int]:
        """Send a template to a list; this call gets 10 s and no retries of its own."""
        quick = client.with_options(timeout=10, max_retries=0)
        try:
            task = await quick.tasks.send(
                contact_list_name=campaign.list_name,
                task_name=f"campaign-{campaign.list_name}",
                template_id=campaign.template_id,
                sender_name=campaign.sender_name,
            )
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        except SmsError as exc:
            raise HTTPException(502, f"{type(exc).__name__}: {exc}") from exc
        return {"task_id": task.task_id}

    return app


app = create_app()
