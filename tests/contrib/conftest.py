"""A real redis-server on a loopback port for the limiter tests (no mock)."""

from __future__ import annotations

import selectors
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Any

import pytest
from redis.asyncio import Redis

from ..conftest import require_redis_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """A redis-server child on 127.0.0.1, no persistence."""

    def __init__(self) -> None:
        binary = require_redis_server()
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    server = RedisProcess()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def clients(redis_server: RedisProcess) -> AsyncIterator[Callable[..., Redis]]:
    """Redis clients on the test's redis-server, all closed at the end."""
    made: list[Redis] = []

    def make(**options: Any) -> Redis:
        made.append(Redis(host="127.0.0.1", port=redis_server.port, **options))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


def readline_within(stream: IO[str], seconds: float) -> str:
    """Read one line of a child's output, failing the test if none comes within *seconds*."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(seconds):
            pytest.fail(f"no line from the child process within {seconds} s")
    return stream.readline()
