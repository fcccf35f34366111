"""``FakeStats``: the counters of what reached the fake, for tests to assert on."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["FakeStats"]


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
