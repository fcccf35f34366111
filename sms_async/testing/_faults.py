"""Fault injection: seeded per route, or scripted with ``fail_next``."""

from __future__ import annotations

import math
import random
from collections import deque
from typing import Any, Final, Literal, get_args

import attrs

__all__ = ["FAULT_KINDS", "FaultConfig", "FaultKind", "FaultPlanner", "Plan"]

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
