"""The fake on a loopback port: uvicorn in this process or a thread, or a child process.

``serve_app`` and ``serve_app_in_thread`` run the ASGI app under uvicorn on a
socket bound before the server starts (so port 0 gives a known free port);
``spawn_server`` runs ``python -m sms_async.testing`` in a child process.
uvicorn comes with the ``server`` extra.
"""

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
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import IO, Any, Final

import attrs
import httpx

from ._asgi import FakeAsgiApp
from ._faults import FaultConfig

__all__ = [
    "READY_PREFIX",
    "SpawnedServer",
    "base_url_of",
    "bind_socket",
    "fault_arguments",
    "load_uvicorn",
    "serve_app",
    "serve_app_in_thread",
    "spawn_server",
    "uvicorn_config",
]

#: The first line ``python -m sms_async.testing`` prints on stdout, then the URL.
READY_PREFIX: Final = "sms_async.testing: serving on "

#: Seconds a server may take to start, and to stop.
STARTUP_TIMEOUT: Final = 30.0


def load_uvicorn() -> Any:
    """Import uvicorn, or raise ``ImportError`` saying which extra to install."""
    try:
        return importlib.import_module("uvicorn")
    except ImportError as exc:
        raise ImportError(
            "the loopback fake server needs uvicorn: pip install 'sms-async[server]'"
        ) from exc


@contextlib.contextmanager
def _bound_server(
    app: FakeAsgiApp, host: str, port: int, options: Mapping[str, Any]
) -> Iterator[tuple[Any, socket.socket]]:
    uvicorn = load_uvicorn()
    sock = bind_socket(host, port)
    try:
        yield uvicorn.Server(uvicorn_config(uvicorn, app, options)), sock
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def serve_app(
    app: FakeAsgiApp, host: str, port: int, options: Mapping[str, Any]
) -> AsyncIterator[str]:
    """Serve *app* on *host*:*port* in the running event loop; yield its base URL."""
    with _bound_server(app, host, port, options) as (server, sock):
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


@contextlib.contextmanager
def serve_app_in_thread(
    app: FakeAsgiApp, host: str, port: int, options: Mapping[str, Any]
) -> Iterator[str]:
    """Serve *app* on *host*:*port* from a thread with its own loop; yield its base URL."""
    with _bound_server(app, host, port, options) as (server, sock):
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="sms-fake", daemon=True
        )
        thread.start()
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the fake server did not start")
                time.sleep(0.001)
            yield base_url_of(sock)
        finally:
            server.should_exit = True
            thread.join(STARTUP_TIMEOUT)


def uvicorn_config(uvicorn: Any, app: FakeAsgiApp, options: Mapping[str, Any]) -> Any:
    """A ``uvicorn.Config`` for *app*: quiet, no lifespan, no websockets, *options* on top."""
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
    startup_timeout: float = STARTUP_TIMEOUT,
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
