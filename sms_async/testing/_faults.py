"""Fault injection (seeded, per route) and the counters tests assert on."""

from __future__ import annotations

import math
import random
from collections import Counter, deque
from typing import Any, Final, Literal, get_args

import attrs

__all__ = ["ROUTES", "FakeStats", "FaultConfig", "FaultKind", "FaultPlanner", "Plan"]

#: The ten endpoints, by the name of the client method that calls them.
ROUTES: Final = (
    "contact_lists.list",
    "contact_lists.create",
    "contact_lists.update",
    "contact_lists.delete",
    "members.list",
    "members.add",
    "members.update",
    "members.delete",
    "tasks.send",
    "tasks.get",
)

#: An injected fault: ``"429"`` (Too Many Requests with ``Retry-After``), ``"503"``
#: (an HTML error page), ``"drop"`` (the connection closes before the request is
#: processed: nothing changed), ``"drop_after"`` (the request is processed, then
#: the connection closes before the response: the change happened, the client
#: cannot know) or ``"401"`` (the credentials are refused, as after a key was
#: revoked; scripted with ``fail_next`` only, it has no rate).
FaultKind = Literal["429", "503", "drop", "drop_after", "401"]
FAULT_KINDS: Final[tuple[str, ...]] = get_args(FaultKind)


def _rate(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise ValueError(f"{attribute.name} must be a probability from 0 to 1, got {value!r}")


def _seconds(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{attribute.name} must be a number of seconds >= 0, got {value!r}")


def _optional_seconds(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None:
        _seconds(_, attribute, value)


@attrs.frozen
class FaultConfig:
    """How one route (or every route) misbehaves.

    Each request draws its fate from a random generator seeded with the
    server's seed and the route's name, so a given seed replays the same faults
    request by request. At most one fault hits a request; the rates add up.

    Attributes:
        latency: Seconds every request waits before it is handled.
        latency_jitter: Up to this many seconds more, drawn uniformly per request.
        rate_429: Share of requests answered 429 with ``Retry-After``.
        retry_after: The ``Retry-After`` seconds sent with a 429 (``None``: no header).
        rate_503: Share of requests answered 503 with an HTML page.
        rate_drop: Share of requests whose connection closes before they are processed.
        rate_drop_after: Share of requests that are processed, then lose the connection
            before the response is sent.
    """

    latency: float = attrs.field(default=0.0, validator=_seconds)
    latency_jitter: float = attrs.field(default=0.0, validator=_seconds)
    rate_429: float = attrs.field(default=0.0, validator=_rate)
    retry_after: float | None = attrs.field(default=1.0, validator=_optional_seconds)
    rate_503: float = attrs.field(default=0.0, validator=_rate)
    rate_drop: float = attrs.field(default=0.0, validator=_rate)
    rate_drop_after: float = attrs.field(default=0.0, validator=_rate)

    def __attrs_post_init__(self) -> None:
        if self.rate_429 + self.rate_503 + self.rate_drop + self.rate_drop_after > 1.0 + 1e-9:
            raise ValueError("the fault rates must add up to at most 1")


@attrs.frozen
class Plan:
    """What happens to one request: its delay and its fault, if any."""

    delay: float
    fault: str | None
    retry_after: float | None


class FaultPlanner:
    """Decides each request's delay and fault: seeded per route, scripted faults first."""

    def __init__(self, seed: int | str) -> None:
        self.seed = seed
        self.default = FaultConfig()
        self.per_route: dict[str, FaultConfig] = {}
        self._rngs: dict[str, random.Random] = {}
        self._scripted: dict[str, deque[str]] = {}

    def config(self, route: str) -> FaultConfig:
        """Return the configuration in force for *route*."""
        return self.per_route.get(route, self.default)

    def script(self, route: str, kinds: tuple[str, ...]) -> None:
        """Queue *kinds* for the next requests to *route*, in order."""
        self._scripted.setdefault(route, deque()).extend(kinds)

    def clear(self) -> None:
        """Remove every fault configuration and scripted fault."""
        self.default = FaultConfig()
        self.per_route.clear()
        self._scripted.clear()

    def plan(self, route: str) -> Plan:
        """Decide the next request to *route*.

        Two numbers are drawn for every request, whatever the configuration, so
        changing one route's faults never shifts another's sequence.
        """
        rng = self._rngs.get(route)
        if rng is None:
            rng = self._rngs[route] = random.Random(f"{self.seed}/{route}")
        fate = rng.random()
        jitter = rng.random()
        config = self.config(route)
        delay = config.latency + jitter * config.latency_jitter
        fault: str | None = None
        queue = self._scripted.get(route)
        if queue:
            fault = queue.popleft()
        else:
            edge = 0.0
            for kind, rate in (
                ("429", config.rate_429),
                ("503", config.rate_503),
                ("drop", config.rate_drop),
                ("drop_after", config.rate_drop_after),
            ):
                edge += rate
                if fate < edge:
                    fault = kind
                    break
        return Plan(delay, fault, config.retry_after)


class FakeStats:
    """Counters of what reached the fake, for assertions.

    Attributes:
        requests: Requests per route name (see ``ROUTES``); unmatched paths count
            under ``"unmatched"``. Every request counts, faulted or not.
        statuses: Responses sent, by HTTP status (dropped connections are not responses).
        faults: Faults injected, by route name, then kind (``faults["members.add"]["429"]``).
        member_batches: The number of members in each add-members request the fake
            processed, in arrival order (requests failed by an injected 429, 503 or
            drop before processing are not in it; ``drop_after`` ones are).
        in_flight: Requests being handled right now.
        max_in_flight: The most requests handled at once since the last reset.
        total_delay: Seconds of injected latency, summed over requests.
        per_second: Requests to the ten endpoints by wall-clock second
            (``int(time.time())`` when each arrived), for rate assertions.
    """

    __slots__ = (
        "faults",
        "in_flight",
        "max_in_flight",
        "member_batches",
        "per_second",
        "requests",
        "statuses",
        "total_delay",
    )

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.faults: dict[str, Counter[str]] = {}
        self.member_batches: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.total_delay = 0.0
        self.per_second: Counter[int] = Counter()

    def __repr__(self) -> str:
        return (
            f"<FakeStats requests={self.total_requests} max_in_flight={self.max_in_flight} "
            f"batches={len(self.member_batches)}>"
        )

    @property
    def total_requests(self) -> int:
        """Every request counted, over all routes."""
        return sum(self.requests.values())

    @property
    def members_received(self) -> int:
        """The members of every processed add-members request, summed."""
        return sum(self.member_batches)

    def reset(self) -> None:
        """Zero every counter (``in_flight`` is left as it is: those requests are real)."""
        self.requests.clear()
        self.statuses.clear()
        self.faults.clear()
        self.member_batches.clear()
        self.max_in_flight = self.in_flight
        self.total_delay = 0.0
        self.per_second.clear()

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as plain JSON-ready data (what ``GET /_fake/stats`` serves)."""
        return {
            "requests": dict(self.requests),
            "statuses": {str(status): n for status, n in self.statuses.items()},
            "faults": {route: dict(kinds) for route, kinds in self.faults.items()},
            "member_batches": list(self.member_batches),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "total_delay": self.total_delay,
            "per_second": {str(second): n for second, n in sorted(self.per_second.items())},
        }

    def _fault(self, route: str, kind: str) -> None:
        self.faults.setdefault(route, Counter())[kind] += 1
