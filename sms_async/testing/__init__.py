"""A faithful fake of the contact-list API and the task API, for tests and demos.

One in-memory implementation of all ten endpoints, with the documented
validation, error codes and response quirks, the smsapi signature check, tasks
that move on a clock you control, seeded fault injection per route and
counters to assert on. Reach it in-process (an httpx transport, no sockets)::

    from sms_async.testing import FakeSmsServer

    async with FakeSmsServer() as fake:
        async with fake.client() as client:
            await client.contact_lists.create(contact_list_name="promo")

or over HTTP on a loopback port, from Python (``fake.serve()``) or the command
line (``python -m sms_async.testing``; needs the ``server`` extra). With
pytest, the ``sms_fake`` fixture gives each test a fresh ``FakeSmsServer``.
"""

from ._asgi import FakeAsgiApp
from ._clock import FakeClock
from ._faults import ROUTES, FakeStats, FaultConfig, FaultKind
from ._retries import instant_retries
from ._server import (
    FAKE_BASE_URL,
    FAKE_TASK_BASE_URL,
    FakeSmsServer,
    SpawnedServer,
    spawn_server,
)
from ._service import StoredContactList, StoredMember, StoredTask
from ._transport import FakeTransport

__all__ = [
    "FAKE_BASE_URL",
    "FAKE_TASK_BASE_URL",
    "ROUTES",
    "FakeAsgiApp",
    "FakeClock",
    "FakeSmsServer",
    "FakeStats",
    "FakeTransport",
    "FaultConfig",
    "FaultKind",
    "SpawnedServer",
    "StoredContactList",
    "StoredMember",
    "StoredTask",
    "instant_retries",
    "spawn_server",
]
