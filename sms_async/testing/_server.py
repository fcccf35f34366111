"""``FakeSmsServer``: the fake behind one object, in-process or on a loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs
import httpx

from .._client import AsyncSmsClient
from .._constants import DEFAULT_TIMEOUT
from ._asgi import FakeAsgiApp
from ._clock import FakeClock
from ._faults import FAULT_KINDS, FaultConfig
from ._loopback import serve_app, serve_app_in_thread
from ._options import FakeOptions
from ._routes import check_route
from ._rules import FAILED
from ._service import FakeService
from ._stats import FakeStats
from ._store import StoredContactList, StoredMember, StoredTask
from ._transport import FakeTransport

__all__ = ["FAKE_BASE_URL", "FAKE_TASK_BASE_URL", "FakeSmsServer"]

#: The v1 base URL of ``FakeSmsServer.client()`` (in-process: the host is never resolved).
FAKE_BASE_URL: Final = "https://sms-v1.fake.test"
#: The smsapi base URL of ``FakeSmsServer.client()``.
FAKE_TASK_BASE_URL: Final = "https://smsapi.fake.test"


class FakeSmsServer:
    """A faithful in-memory fake of the contact-list API and the task API.

    One implementation, two ways to reach it: in-process through
    ``fake.transport`` (an httpx transport, no sockets) or ``fake.client()``,
    and on a real 127.0.0.1 port with ``fake.serve()`` or
    ``python -m sms_async.testing``. See the "Testing your code with the fake"
    page for a complete example.

    ::

        async with FakeSmsServer() as fake:
            async with fake.client() as client:
                created = await client.contact_lists.create(contact_list_name="promo")
            assert fake.get_list("promo").member_count == 0

    Its settings are a ``FakeOptions``: pass one as ``options=``, or pass its
    fields here, ``FakeSmsServer("user", "key", seed=3, quirks=False)``; fields
    given with ``options=`` replace that object's.

    Args:
        *args: ``sms_user`` and ``sms_key``, as ``FakeOptions`` takes them.
        options: The fake's settings (``FakeOptions``); default: ``FakeOptions()``.
        **fields: More fields of ``FakeOptions``: ``sms_user``, ``sms_key``, ``seed``,
            ``clock``, ``quirks``, ``allow_duplicate_phones``, ``task_start_delay``,
            ``task_duration``, ``templates``, ``sleep``.

    Raises:
        TypeError: For an unknown field, or *args* together with *options*.
        ValueError: For a bad value (an empty user or key, a negative duration).
    """

    def __init__(self, *args: Any, options: FakeOptions | None = None, **fields: Any) -> None:
        if options is None:
            options = FakeOptions(*args, **fields)
        elif args:
            raise TypeError("give sms_user and sms_key by name with options=")
        elif fields:
            options = attrs.evolve(options, **fields)
        self._service = FakeService(options)
        self._store = self._service.store
        self._transport = FakeTransport(self._service)
        self._asgi: FakeAsgiApp | None = None
        self._http_clients: list[httpx.AsyncClient] = []

    def __repr__(self) -> str:
        lists, tasks = len(self._store.lists), len(self._store.tasks)
        return f"<FakeSmsServer user={self.sms_user!r} lists={lists} tasks={tasks}>"

    # --- identity and front-ends ----------------------------------------------------------

    @property
    def options(self) -> FakeOptions:
        """The settings this fake was made with."""
        return self._service.options

    @property
    def sms_user(self) -> str:
        """The account's user."""
        return self._service.options.sms_user

    @property
    def sms_key(self) -> str:
        """The account's key."""
        return self._service.options.sms_key

    @property
    def base_url(self) -> str:
        """The v1 base URL ``client()`` uses in-process."""
        return FAKE_BASE_URL

    @property
    def task_base_url(self) -> str:
        """The smsapi base URL ``client()`` uses in-process."""
        return FAKE_TASK_BASE_URL

    @property
    def transport(self) -> FakeTransport:
        """The in-process httpx transport: ``httpx.AsyncClient(transport=fake.transport)``."""
        return self._transport

    @property
    def asgi_app(self) -> FakeAsgiApp:
        """The ASGI application over the same state, for any ASGI server."""
        if self._asgi is None:
            self._asgi = FakeAsgiApp(self._service)
        return self._asgi

    @property
    def service(self) -> FakeService:
        """The core both front-ends share (``handle`` takes a request as plain values)."""
        return self._service

    @property
    def clock(self) -> FakeClock:
        """The fake's clock: ``fake.clock.advance(60)`` moves tasks along."""
        return self._service.clock

    @property
    def stats(self) -> FakeStats:
        """What reached the fake: requests per route, most in flight, member batches."""
        return self._service.stats

    def client(self, **options: Any) -> AsyncSmsClient:
        """Return an ``AsyncSmsClient`` wired to this fake in-process.

        Args:
            **options: Passed to ``AsyncSmsClient`` (``max_retries``,
                ``max_concurrency``, ``signature_method``, ``timeout``, ...);
                ``sms_user``, ``sms_key``, ``base_url`` and ``task_base_url``
                default to this fake's. ``http_client`` is not accepted.
        """
        if "http_client" in options:
            raise TypeError("client() makes its own http_client; use fake.transport for yours")
        if options.get("http_backend", "httpx") != "httpx":
            raise TypeError(
                "client() talks to the fake in-process, through httpx; for "
                "http_backend='aiohttp', serve the fake on a port: "
                "async with fake.serve() as url: AsyncSmsClient(..., base_url=url, "
                "task_base_url=url, http_backend='aiohttp')"
            )
        options.setdefault("sms_user", self.sms_user)
        options.setdefault("sms_key", self.sms_key)
        options.setdefault("base_url", FAKE_BASE_URL)
        options.setdefault("task_base_url", FAKE_TASK_BASE_URL)
        http = self._new_http_client(timeout=options.get("timeout", DEFAULT_TIMEOUT))
        return AsyncSmsClient(http_client=http, **options)

    def http_client(self, **options: Any) -> httpx.AsyncClient:
        """Return a raw ``httpx.AsyncClient`` on the in-process transport.

        Its ``base_url`` defaults to ``FAKE_BASE_URL``; paths of both APIs work on it.
        It is closed with the fake.
        """
        options.setdefault("base_url", FAKE_BASE_URL)
        return self._new_http_client(**options)

    def _new_http_client(self, **options: Any) -> httpx.AsyncClient:
        http = httpx.AsyncClient(transport=self._transport, **options)
        self._http_clients.append(http)
        return http

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> FakeSmsServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the httpx clients made by ``client()``; later requests fail to connect."""
        self.close()
        clients, self._http_clients = self._http_clients, []
        for http in clients:
            await http.aclose()

    def close(self) -> None:
        """Refuse further in-process requests (``httpx.ConnectError``), like a stopped server."""
        self._transport.closed = True

    # --- faults ---------------------------------------------------------------------------

    def set_faults(self, route: str | None = None, **changes: Any) -> FaultConfig:
        """Change how *route* (or every route without its own setting) misbehaves.

        Fields not named keep their value. See ``FaultConfig`` for the fields.
        Setting faults for one route gives it its own configuration, starting
        from the current default.

        Args:
            route: A name from ``ROUTES`` (``"members.add"``, ...), or ``None``
                for the default of every route.
            **changes: ``latency``, ``latency_jitter``, ``rate_429``,
                ``retry_after``, ``rate_503``, ``rate_drop``, ``rate_drop_after``.

        Returns:
            The configuration now in force for *route*.
        """
        planner = self._service.faults
        if route is None:
            planner.default = attrs.evolve(planner.default, **changes)
            return planner.default
        check_route(route)
        planner.per_route[route] = attrs.evolve(planner.config(route), **changes)
        return planner.per_route[route]

    def fault_config(self, route: str | None = None) -> FaultConfig:
        """Return the configuration in force for *route* (or the default)."""
        if route is None:
            return self._service.faults.default
        check_route(route)
        return self._service.faults.config(route)

    def fail_next(self, route: str, *kinds: str) -> None:
        """Make the next requests to *route* fail with these faults, in order.

        Scripted faults come before the random ones and need no seed:
        ``fake.fail_next("members.add", "503", "drop_after")`` fails the next two
        add-members requests.

        Args:
            route: A name from ``ROUTES``.
            *kinds: ``"429"``, ``"503"``, ``"drop"``, ``"drop_after"`` or ``"401"``
                (see ``FaultKind``).
        """
        check_route(route)
        for kind in kinds:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        self._service.faults.script(route, kinds)

    def clear_faults(self) -> None:
        """Remove every fault: configured rates, latency and scripted faults."""
        self._service.faults.clear()

    # --- state ----------------------------------------------------------------------------

    @property
    def contact_lists(self) -> list[StoredContactList]:
        """Every stored contact list, in id order."""
        return list(self._store.lists.values())

    @property
    def tasks(self) -> list[StoredTask]:
        """Every stored task, in id order."""
        return list(self._store.tasks.values())

    def get_list(self, list_id_or_name: int | str) -> StoredContactList:
        """Return a stored list by id or name.

        Raises:
            KeyError: When there is no such list.
        """
        if isinstance(list_id_or_name, int):
            return self._store.lists[list_id_or_name]
        item = self._store.list_named(list_id_or_name)
        if item is None:
            raise KeyError(list_id_or_name)
        return item

    def members(self, list_id_or_name: int | str) -> list[StoredMember]:
        """Return the members stored in a list, in id order."""
        return list(self.get_list(list_id_or_name).members.values())

    def get_task(self, task_id: int) -> StoredTask:
        """Return a stored task.

        Raises:
            KeyError: When there is no such task.
        """
        return self._store.tasks[task_id]

    def create_list(
        self,
        contact_list_name: str,
        description: str = "",
        members: Iterable[Mapping[str, Any]] = (),
    ) -> StoredContactList:
        """Store a list directly (no request, no stats), with optional members.

        Members are dicts with ``phone`` and optionally ``name`` and ``vars``;
        they obey the same rules as the add endpoint (invalid ones are skipped).
        """
        if self._store.list_named(contact_list_name) is not None:
            raise ValueError(f"a list named {contact_list_name!r} exists")
        item = self._service.create_list(contact_list_name, description)
        self._service.store_members(item, members)
        return item

    def add_members(
        self, list_id_or_name: int | str, members: Iterable[Mapping[str, Any]]
    ) -> tuple[int, list[str]]:
        """Store members directly (no request, no stats); return ``(added, invalid)``."""
        return self._service.store_members(self.get_list(list_id_or_name), members)

    def set_task_status(self, task_id: int, status: str | None) -> None:
        """Report *status* (any text, e.g. one the SDK does not know) for a task.

        ``None`` goes back to the status computed from the clock.
        """
        self.get_task(task_id).forced_status = status

    def fail_task(self, task_id: int) -> None:
        """Make a task end with ``执行失败`` (failed) instead of succeeding."""
        self.get_task(task_id).outcome = FAILED

    def reset(self) -> None:
        """Forget every list, member, task, fault and counter (ids keep counting up)."""
        self._service.reset()

    # --- on a loopback port -----------------------------------------------------------------

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any
    ) -> contextlib.AbstractAsyncContextManager[str]:
        """Serve this fake over HTTP on *host*:*port* in the running event loop.

        Use it as ``async with fake.serve() as url``: the block gets the base
        URL (``http://127.0.0.1:PORT``) once the server accepts connections;
        both APIs live under it. Port 0 picks a free port. The server stops
        when the block exits. Needs the ``server`` extra (uvicorn).

        Args:
            host: The address to bind; keep it on loopback.
            port: The port; 0 for a free one.
            **uvicorn_options: More ``uvicorn.Config`` options (``access_log``, ...).
        """
        return serve_app(self.asgi_app, host, port, uvicorn_options)

    def serve_in_thread(
        self, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any
    ) -> contextlib.AbstractContextManager[str]:
        """Serve this fake over HTTP from a background thread with its own event loop.

        For synchronous code (or a client that must not share the server's loop):
        ``with fake.serve_in_thread() as url``. The block gets the base URL once
        the server accepts connections, and the server stops when it exits. The
        fake's state is then changed from that thread: read it, but do not
        change it, while requests are in flight.
        """
        return serve_app_in_thread(self.asgi_app, host, port, uvicorn_options)
