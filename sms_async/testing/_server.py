"""``FakeSmsServer``: the fake behind one object, in-process or on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Mapping
from types import TracebackType
from typing import IO, Any, Final

import attrs
import httpx

from .._client import AsyncSmsClient
from .._constants import DEFAULT_TIMEOUT
from ._asgi import FakeAsgiApp
from ._clock import FakeClock
from ._faults import FAULT_KINDS, ROUTES, FakeStats, FaultConfig
from ._service import FAILED, FakeService, Sleep, StoredContactList, StoredMember, StoredTask
from ._transport import FakeTransport

__all__ = [
    "FAKE_BASE_URL",
    "FAKE_TASK_BASE_URL",
    "FakeSmsServer",
    "SpawnedServer",
    "load_uvicorn",
    "spawn_server",
]

#: The v1 base URL of ``FakeSmsServer.client()`` (in-process: the host is never resolved).
FAKE_BASE_URL: Final = "https://sms-v1.fake.test"
#: The smsapi base URL of ``FakeSmsServer.client()``.
FAKE_TASK_BASE_URL: Final = "https://smsapi.fake.test"

#: The first line ``python -m sms_async.testing`` prints on stdout, then the URL.
READY_PREFIX: Final = "sms_async.testing: serving on "

_STARTUP_TIMEOUT = 30.0


def load_uvicorn() -> Any:
    """Import uvicorn, or raise ``ImportError`` saying which extra to install."""
    try:
        return importlib.import_module("uvicorn")
    except ImportError as exc:
        raise ImportError(
            "the loopback fake server needs uvicorn: pip install 'sms-async[server]'"
        ) from exc


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

    Args:
        sms_user: The one account's user.
        sms_key: Its key (for Basic auth and the smsapi signature).
        seed: Seeds the fault generators: one seed, one sequence of faults per route.
        clock: The fake's clock; default: frozen at the current time, to the second.
        quirks: Answer like the seed documents (list rows with ``contact_List_id``,
            ``vars`` as a single-quoted string). ``False`` gives the clean forms
            (``contact_list_id``, ``vars`` as a JSON object), to test a client on both.
        allow_duplicate_phones: Store a phone already in the list again instead of
            reporting it in ``invalid``.
        task_start_delay: Seconds from creation to running for a task sent without
            ``executeTime``.
        task_duration: Seconds a task runs before it ends.
        templates: The template ids that exist; ``None`` (default) accepts any integer.
        sleep: The coroutine function used for injected latency (``asyncio.sleep``).
    """

    def __init__(
        self,
        sms_user: str = "test-user",
        sms_key: str = "test-key",
        *,
        seed: int | str = 0,
        clock: FakeClock | None = None,
        quirks: bool = True,
        allow_duplicate_phones: bool = False,
        task_start_delay: float = 1.0,
        task_duration: float = 2.0,
        templates: Collection[int] | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._service = FakeService(
            sms_user,
            sms_key,
            seed=seed,
            clock=clock,
            quirks=quirks,
            allow_duplicate_phones=allow_duplicate_phones,
            task_start_delay=task_start_delay,
            task_duration=task_duration,
            templates=templates,
            sleep=sleep,
        )
        self._transport = FakeTransport(self._service)
        self._asgi: FakeAsgiApp | None = None
        self._http_clients: list[httpx.AsyncClient] = []

    def __repr__(self) -> str:
        return (
            f"<FakeSmsServer user={self.sms_user!r} lists={len(self._service.lists)} "
            f"tasks={len(self._service.tasks)}>"
        )

    # --- identity and front-ends ----------------------------------------------------------

    @property
    def sms_user(self) -> str:
        """The account's user."""
        return self._service.sms_user

    @property
    def sms_key(self) -> str:
        """The account's key."""
        return self._service.sms_key

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
        """The core both front-ends share (``handle`` and ``serve`` take plain values)."""
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
        options.setdefault("sms_user", self.sms_user)
        options.setdefault("sms_key", self.sms_key)
        options.setdefault("base_url", FAKE_BASE_URL)
        options.setdefault("task_base_url", FAKE_TASK_BASE_URL)
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        http = httpx.AsyncClient(transport=self._transport, timeout=timeout)
        self._http_clients.append(http)
        return AsyncSmsClient(http_client=http, **options)

    def http_client(self, **options: Any) -> httpx.AsyncClient:
        """Return a raw ``httpx.AsyncClient`` on the in-process transport.

        Its ``base_url`` defaults to ``FAKE_BASE_URL``; paths of both APIs work on it.
        It is closed with the fake.
        """
        options.setdefault("base_url", FAKE_BASE_URL)
        http = httpx.AsyncClient(transport=self._transport, **options)
        self._http_clients.append(http)
        return http

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> FakeSmsServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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
        _check_route(route)
        planner.per_route[route] = attrs.evolve(planner.config(route), **changes)
        return planner.per_route[route]

    def fault_config(self, route: str | None = None) -> FaultConfig:
        """Return the configuration in force for *route* (or the default)."""
        if route is None:
            return self._service.faults.default
        _check_route(route)
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
        _check_route(route)
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
        return list(self._service.lists.values())

    @property
    def tasks(self) -> list[StoredTask]:
        """Every stored task, in id order."""
        return list(self._service.tasks.values())

    def get_list(self, list_id_or_name: int | str) -> StoredContactList:
        """Return a stored list by id or name.

        Raises:
            KeyError: When there is no such list.
        """
        if isinstance(list_id_or_name, int):
            return self._service.lists[list_id_or_name]
        for item in self._service.lists.values():
            if item.contact_list_name == list_id_or_name:
                return item
        raise KeyError(list_id_or_name)

    def members(self, list_id_or_name: int | str) -> list[StoredMember]:
        """Return the members stored in a list, in id order."""
        return list(self.get_list(list_id_or_name).members.values())

    def get_task(self, task_id: int) -> StoredTask:
        """Return a stored task.

        Raises:
            KeyError: When there is no such task.
        """
        return self._service.tasks[task_id]

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
        if any(item.contact_list_name == contact_list_name for item in self.contact_lists):
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
        self._service.lists.clear()
        self._service.tasks.clear()
        self._service.faults.clear()
        self._service.stats.reset()

    # --- on a loopback port -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serve(
        self, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any
    ) -> AsyncIterator[str]:
        """Serve this fake over HTTP on *host*:*port* in the running event loop.

        Yields the base URL (``http://127.0.0.1:PORT``) once the server accepts
        connections; both APIs live under it. Port 0 picks a free port. The
        server stops when the block exits. Needs the ``server`` extra (uvicorn).

        Args:
            host: The address to bind; keep it on loopback.
            port: The port; 0 for a free one.
            **uvicorn_options: More ``uvicorn.Config`` options (``access_log``, ...).
        """
        uvicorn = load_uvicorn()
        sock = bind_socket(host, port)
        try:
            server = uvicorn.Server(_config(uvicorn, self.asgi_app, uvicorn_options))
            # Embedded: leave the process's signal handlers alone.
            server.capture_signals = contextlib.nullcontext
            task = asyncio.create_task(server.serve(sockets=[sock]))
            try:
                while not server.started:
                    if task.done():
                        task.result()
                        raise RuntimeError("the fake server stopped while starting")
                    await asyncio.sleep(0.001)
                yield base_url_of(sock)
            finally:
                server.should_exit = True
                await task
        finally:
            sock.close()

    @contextlib.contextmanager
    def serve_in_thread(
        self, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any
    ) -> Iterator[str]:
        """Serve this fake over HTTP from a background thread with its own event loop.

        For synchronous code (or a client that must not share the server's loop).
        Yields the base URL once the server accepts connections, and stops the
        server when the block exits. The fake's state is then changed from that
        thread: read it, but do not change it, while requests are in flight.
        """
        uvicorn = load_uvicorn()
        sock = bind_socket(host, port)
        try:
            server = uvicorn.Server(_config(uvicorn, self.asgi_app, uvicorn_options))
            thread = threading.Thread(
                target=server.run, kwargs={"sockets": [sock]}, name="sms-fake", daemon=True
            )
            thread.start()
            try:
                deadline = time.monotonic() + _STARTUP_TIMEOUT
                while not server.started:
                    if not thread.is_alive() or time.monotonic() > deadline:
                        raise RuntimeError("the fake server did not start")
                    time.sleep(0.001)
                yield base_url_of(sock)
            finally:
                server.should_exit = True
                thread.join(_STARTUP_TIMEOUT)
        finally:
            sock.close()


def _check_route(route: str) -> None:
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; use one of {', '.join(ROUTES)}")


def _config(uvicorn: Any, app: FakeAsgiApp, options: Mapping[str, Any]) -> Any:
    settings: dict[str, Any] = {
        "log_config": None,
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        "ws": "none",
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": 5,
    }
    settings.update(options)
    return uvicorn.Config(app, **settings)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on *host*:*port* (0 for a free port), before the server starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio only turns Nagle off (TCP_NODELAY) on accepted
    # sockets whose proto says TCP; with 0 every keep-alive response waits ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    return sock


def base_url_of(sock: socket.socket) -> str:
    """The ``http://host:port`` URL of a bound socket."""
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


# --- a server in another process ----------------------------------------------------------------


@attrs.frozen
class SpawnedServer:
    """A fake server running in a child process (see ``spawn_server``).

    Attributes:
        base_url: ``http://127.0.0.1:PORT``; both APIs live under it.
        pid: The child's process id.
    """

    base_url: str
    pid: int

    def stats(self) -> dict[str, Any]:
        """Fetch the child's counters (``GET /_fake/stats``, see ``FakeStats.as_dict``)."""
        with httpx.Client(base_url=self.base_url) as http:
            data: dict[str, Any] = http.get("/_fake/stats").raise_for_status().json()
            return data


@contextlib.contextmanager
def spawn_server(
    sms_user: str = "test-user",
    sms_key: str = "test-key",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    faults: FaultConfig | None = None,
    extra_args: Iterable[str] = (),
    startup_timeout: float = _STARTUP_TIMEOUT,
) -> Iterator[SpawnedServer]:
    """Run ``python -m sms_async.testing`` in a child process for the block.

    The child has its own interpreter, so a benchmark's client and the fake do
    not share a CPU core or the GIL. Yields once the child accepts connections;
    the child is terminated when the block exits. What the child prints after
    its first line (an access log, with ``--access-log``) goes to ``sys.stdout``.
    POSIX only (it waits on the child's pipe with ``select``).

    Args:
        sms_user: The account's user.
        sms_key: Its key.
        host: The address to bind; keep it on loopback.
        port: The port; 0 for a free one.
        seed: The fault seed.
        faults: Faults for every route (``FaultConfig``).
        extra_args: More command-line arguments (see ``--help``).
        startup_timeout: Seconds to wait for the child to be ready.
    """
    args = [
        sys.executable,
        "-m",
        "sms_async.testing",
        "--host",
        host,
        "--port",
        str(port),
        "--user",
        sms_user,
        "--key",
        sms_key,
        "--seed",
        str(seed),
        *fault_arguments(faults or FaultConfig()),
        *extra_args,
    ]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as child:
        output = child.stdout
        assert output is not None
        relay: threading.Thread | None = None
        try:
            ready, _, _ = select.select([output], [], [], startup_timeout)
            line = output.readline() if ready else ""
            if not line.startswith(READY_PREFIX):
                raise RuntimeError(f"the fake server did not start (it said {line!r})")
            # keep reading what the child prints (an access log), or its pipe fills up
            relay = threading.Thread(target=_relay, args=(output,), daemon=True)
            relay.start()
            yield SpawnedServer(line[len(READY_PREFIX) :].strip(), child.pid)
        finally:
            child.terminate()
            try:
                child.wait(startup_timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if relay is not None:
                relay.join(startup_timeout)


def _relay(output: IO[str]) -> None:
    for line in output:
        sys.stdout.write(line)


def fault_arguments(config: FaultConfig) -> list[str]:
    """The command-line flags that give every route *config*."""
    args = [
        "--latency",
        repr(config.latency),
        "--latency-jitter",
        repr(config.latency_jitter),
        "--rate-429",
        repr(config.rate_429),
        "--rate-503",
        repr(config.rate_503),
        "--rate-drop",
        repr(config.rate_drop),
        "--rate-drop-after",
        repr(config.rate_drop_after),
    ]
    if config.retry_after is None:
        args.append("--no-retry-after")
    else:
        args += ["--retry-after", repr(config.retry_after)]
    return args
