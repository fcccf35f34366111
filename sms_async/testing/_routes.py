"""The fake's one route table: each endpoint's name, methods, path, credentials and handler.

The table feeds everything that knows the endpoints: ``match`` (the route of a
request, or 404, or 405 with ``Allow``), ``ROUTES`` (the names that faults and
stats use) and the dispatch to the handlers in ``sms_async.testing._handlers``.
Adding an endpoint is one row here and one handler there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import attrs

from ._handlers import contact_lists, members, tasks

if TYPE_CHECKING:
    from ._service import FakeService
    from ._wire import Reply, Request

    Handler = Callable[[FakeService, tuple[str, ...], Request], Reply]

__all__ = ["ROUTES", "TABLE", "Route", "check_route", "match"]


@attrs.frozen
class Route:
    """One endpoint.

    Attributes:
        name: The name of the client method that calls it (``"members.add"``).
        methods: The HTTP methods it answers.
        path: Its path; a ``{...}`` segment is an id, handed to the handler.
        smsapi: True for the task API (signed parameters, checked by the handler),
            False for v1 (Basic auth, checked before the handler runs).
        handler: What answers it.
    """

    name: str
    methods: tuple[str, ...]
    path: str
    smsapi: bool
    handler: Handler


def _v1(name: str, method: str, path: str, handler: Handler) -> Route:
    return Route(name, (method,), "/v1/contact_lists" + path, False, handler)


def _smsapi(name: str, path: str, handler: Handler) -> Route:
    return Route(name, ("GET", "POST"), "/smsapi/" + path, True, handler)


TABLE: Final = (
    _v1("contact_lists.list", "GET", "", contact_lists.list_lists),
    _v1("contact_lists.create", "POST", "", contact_lists.create_list),
    _v1("contact_lists.update", "PUT", "/{list_id}", contact_lists.update_list),
    _v1("contact_lists.delete", "DELETE", "/{list_id}", contact_lists.delete_list),
    _v1("members.list", "GET", "/{list_id}/members", members.list_members),
    _v1("members.add", "POST", "/{list_id}/members", members.add_members),
    _v1("members.update", "PUT", "/{list_id}/members/{member_id}", members.update_member),
    _v1("members.delete", "DELETE", "/{list_id}/members/{member_id}", members.delete_member),
    _smsapi("tasks.send", "sendContactListTask", tasks.send_task),
    _smsapi("tasks.get", "queryContactListTask", tasks.get_task),
)

#: The ten endpoints, by the name of the client method that calls them.
ROUTES: Final[tuple[str, ...]] = tuple(route.name for route in TABLE)


@attrs.frozen
class _Path:
    segments: tuple[str | None, ...]  # None for an id
    routes: tuple[Route, ...]  # in table order
    allow: str


def _paths() -> dict[int, list[_Path]]:
    grouped: dict[str, list[Route]] = {}
    for route in TABLE:
        grouped.setdefault(route.path, []).append(route)
    by_length: dict[int, list[_Path]] = {}
    for path, routes in grouped.items():
        segments = tuple(None if part.startswith("{") else part for part in path.split("/"))
        allow = ", ".join(dict.fromkeys(method for route in routes for method in route.methods))
        by_length.setdefault(len(segments), []).append(_Path(segments, tuple(routes), allow))
    return by_length


_BY_LENGTH: Final = _paths()


def match(method: str, path: str) -> tuple[Route | None, tuple[str, ...], str | None]:
    """Route a request by method and path.

    Returns ``(route, path ids, None)``; ``(None, (), allow)`` for a wrong
    method (405); or ``(None, (), None)`` for an unknown path (404).
    """
    parts = path.split("/")
    for candidate in _BY_LENGTH.get(len(parts), ()):
        ids: list[str] = []
        for want, part in zip(candidate.segments, parts, strict=True):
            if want is None and part:
                ids.append(part)
            elif want != part:
                break
        else:
            for route in candidate.routes:
                if method in route.methods:
                    return route, tuple(ids), None
            return None, (), candidate.allow
    return None, (), None


def check_route(name: str) -> None:
    """Raise ``ValueError`` unless *name* is in ``ROUTES``."""
    if name not in ROUTES:
        raise ValueError(f"unknown route {name!r}; use one of {', '.join(ROUTES)}")
