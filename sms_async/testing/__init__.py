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

# The layout mirrors the SDK's: changing an endpoint means editing
# sms_async/resources/<namespace>.py and its twin _handlers/<namespace>.py
# (contact_lists, members, tasks), plus its row in _routes.py if its method or
# path changes. Around them:
#   _rules.py    the fake's own copy of the API's limits, codes and member checks
#   _store.py    the stored objects and their id counters
#   _wire.py     requests and replies as values, bodies, the API's texts and times
#   _auth.py     Basic auth and smsapi signatures, checked
#   _routes.py   the one route table: matching, the route names (ROUTES), dispatch
#   _service.py  the core: a request in, a reply out, counted, delayed and faulted
#   _options.py  FakeOptions, taken by FakeService and FakeSmsServer alike
#   _faults.py, _stats.py, _clock.py    faults, counters, time
#   _transport.py, _asgi.py, _loopback.py, __main__.py    the ways in
#   _server.py   FakeSmsServer, the one object users hold

from ._asgi import FakeAsgiApp
from ._clock import FakeClock
from ._faults import FaultConfig, FaultKind
from ._loopback import SpawnedServer, spawn_server
from ._options import FakeOptions
from ._retries import instant_retries
from ._routes import ROUTES
from ._server import FAKE_BASE_URL, FAKE_TASK_BASE_URL, FakeSmsServer
from ._stats import FakeStats
from ._store import StoredContactList, StoredMember, StoredTask
from ._transport import FakeTransport

__all__ = [
    "FAKE_BASE_URL",
    "FAKE_TASK_BASE_URL",
    "ROUTES",
    "FakeAsgiApp",
    "FakeClock",
    "FakeOptions",
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
