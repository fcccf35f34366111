"""The fake's core: a request in, a reply out, and what a network adds around it.

``FakeService.handle`` takes a request as plain values (method, path, raw
query, lower-cased headers, body bytes) and returns a ``Reply`` (status,
headers, body bytes); it does no I/O. ``FakeService.serve`` takes a
``Request`` and adds what a network adds: the request counters, the injected
latency and faults. The httpx transport and the ASGI app are thin front-ends
over ``serve``. The endpoints themselves are in ``_routes`` (which request goes
where) and ``_handlers`` (what each one does).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ._auth import check_basic_auth
from ._clock import FakeClock
from ._faults import FaultPlanner
from ._handlers.members import store_members
from ._options import FakeOptions, Sleep
from ._routes import Route, match
from ._rules import MAX_BODY_BYTES
from ._stats import FakeStats
from ._store import FakeStore, StoredContactList
from ._wire import (
    Fail,
    Reply,
    Request,
    json_reply,
    service_unavailable,
    too_large,
    too_many_requests,
    unauthorized,
    unmatched,
    v1_error,
)

__all__ = ["STATS_PATH", "ConnectionDropped", "FakeService"]

logger = logging.getLogger("sms_async.testing")

#: ``GET`` here serves ``FakeStats.as_dict()``; it is neither counted nor faulted.
STATS_PATH: Final = "/_fake/stats"


class ConnectionDropped(Exception):
    """Raised by ``FakeService.serve``: close the connection without any response."""


class FakeService:
    """Both APIs in memory: state, validation, quirks, the clock, faults and stats.

    Use it through ``FakeSmsServer``; this class is the engine both front-ends
    (the httpx transport and the ASGI app) share.

    Args:
        options: The fake's settings; default: ``FakeOptions()``.
    """

    def __init__(self, options: FakeOptions | None = None) -> None:
        self.options = options = options if options is not None else FakeOptions()
        self.clock = options.clock if options.clock is not None else FakeClock()
        self.store = FakeStore()
        self.stats = FakeStats()
        self.faults = FaultPlanner(options.seed)
        self._sleep: Sleep = options.sleep if options.sleep is not None else asyncio.sleep

    def __repr__(self) -> str:
        lists, tasks = len(self.store.lists), len(self.store.tasks)
        return f"<FakeService user={self.options.sms_user!r} lists={lists} tasks={tasks}>"

    # --- entry points ---------------------------------------------------------------------

    async def serve(self, request: Request) -> Reply:
        """Handle one request as the network would deliver it: counted, delayed, faulted.

        Raises:
            ConnectionDropped: When an injected fault closes the connection; the
                front-end must then close it without any response.
        """
        stats = self.stats
        route, ids, allow = match(request.method, request.path)
        if route is None:
            if request.path == STATS_PATH and request.method == "GET":
                return json_reply(200, stats.as_dict())
            stats.requests["unmatched"] += 1
            reply = unmatched(allow)
            stats.statuses[reply.status] += 1
            return reply
        name = route.name
        stats.requests[name] += 1
        stats.per_second[int(time.time())] += 1
        stats.in_flight += 1
        if stats.in_flight > stats.max_in_flight:
            stats.max_in_flight = stats.in_flight
        try:
            plan = self.faults.plan(name)
            stats.total_delay += plan.delay
            await self._sleep(plan.delay)  # even 0: requests in flight overlap, as on a network
            fault = plan.fault
            if fault is not None:
                stats._fault(name, fault)
            if fault == "drop":
                raise ConnectionDropped(name)
            if fault == "429":
                reply = too_many_requests(plan.retry_after)
            elif fault == "503":
                reply = service_unavailable()
            elif fault == "401":
                reply = unauthorized(smsapi=route.smsapi)
            else:
                reply = self._dispatch(route, ids, request)
            if fault == "drop_after":
                raise ConnectionDropped(name)
            stats.statuses[reply.status] += 1
            return reply
        finally:
            stats.in_flight -= 1

    def handle(
        self,
        method: str,
        path: str,
        query: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        """Handle one request with no network in between: no faults, no delay, not counted.

        Args:
            method: The HTTP method, upper case.
            path: The URL path, percent-decoded.
            query: The raw query string.
            headers: The request headers, names in lower case.
            body: The request body.
        """
        route, ids, allow = match(method, path)
        if route is None:
            return unmatched(allow)
        return self._dispatch(route, ids, Request(method, path, query, headers or {}, body))

    def _dispatch(self, route: Route, ids: tuple[str, ...], request: Request) -> Reply:
        if len(request.body) > MAX_BODY_BYTES:
            return too_large()
        try:
            if not route.smsapi:
                check_basic_auth(request.headers, self.options.sms_user, self.options.sms_key)
            return route.handler(self, ids, request)
        except Fail as failure:
            return failure.reply
        except Exception:  # a bug of the fake: say so, never a bare traceback page
            logger.exception("the fake failed on %s", route.name)
            return v1_error(500, 500, "internal error in the fake SMS server")

    # --- direct state changes (for tests) -----------------------------------------------------

    def create_list(self, name: str, description: str = "") -> StoredContactList:
        """Store a new contact list now, without validation, and return it."""
        return self.store.add_list(name, description, self.clock.now())

    def store_members(
        self, item: StoredContactList, members: Iterable[Mapping[str, Any]]
    ) -> tuple[int, list[str]]:
        """Add members as the add endpoint would (same rules); return ``(added, invalid)``."""
        return store_members(self, item, [dict(member) for member in members])

    def reset(self) -> None:
        """Forget every list, member, task, fault and counter (ids keep counting up)."""
        self.store.clear()
        self.faults.clear()
        self.stats.reset()
