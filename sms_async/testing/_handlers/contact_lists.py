"""The ``contact_lists`` endpoints: list, create, update and delete contact lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._rules import CODE_NAME_EMPTY, CODE_NAME_TAKEN, LIST_NAME, MAX_DESCRIPTION
from .._store import StoredContactList
from .._wire import Reply, Request, fail, invalid, json_reply, v1_time
from ._base import get_list, paging

if TYPE_CHECKING:
    from .._service import FakeService

__all__ = ["create_list", "delete_list", "list_lists", "list_row", "update_list"]


def list_row(item: StoredContactList, id_key: str) -> dict[str, Any]:
    """A list as the API shows it, its id under *id_key*."""
    return {
        id_key: item.contact_list_id,
        "contact_list_name": item.contact_list_name,
        "description": item.description,
        "member_count": item.member_count,
        "create_time": v1_time(item.create_time),
        "update_time": v1_time(item.update_time),
    }


def list_lists(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``GET /v1/contact_lists``: a page of lists, filtered by a part of their name."""
    query = request.query_params()
    offset, limit = paging(query)
    needle = query.get("contact_list_name", "").lower()
    rows = [
        item
        for item in fake.store.lists.values()
        if not needle or needle in item.contact_list_name.lower()
    ]
    id_key = "contact_List_id" if fake.options.quirks else "contact_list_id"
    page = [list_row(item, id_key) for item in rows[offset : offset + limit]]
    return json_reply(200, {"result": page, "count": len(page), "total": len(rows)})


def create_list(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``POST /v1/contact_lists``: store a list under a name not taken yet."""
    data = request.json_object()
    name = _check_name(data.get("contact_list_name"))
    description = data.get("description")
    description = "" if description is None else _check_description(description)
    if fake.store.name_taken(name):
        fail(400, CODE_NAME_TAKEN, "contact_list_name already exists")
    item = fake.store.add_list(name, description, fake.clock.now())
    return json_reply(200, {"result": list_row(item, "contact_list_id")})


def update_list(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``PUT /v1/contact_lists/{id}``: change the name and/or the description."""
    item = get_list(fake, ids[0])
    data = request.json_object()
    name = data.get("contact_list_name")
    description = data.get("description")
    if name is not None:
        name = _check_name(name)
        if fake.store.name_taken(name, but=item.contact_list_id):
            fail(400, CODE_NAME_TAKEN, "contact_list_name already exists")
    if description is not None:
        description = _check_description(description)
    if name is not None or description is not None:
        if name is not None:
            item.contact_list_name = name
        if description is not None:
            item.description = description
        item.update_time = fake.clock.now()
    return json_reply(200, {"count": 1})


def delete_list(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``DELETE /v1/contact_lists/{id}``: forget the list and its members."""
    item = get_list(fake, ids[0])
    del fake.store.lists[item.contact_list_id]
    return json_reply(200, {"count": 1})


def _check_name(value: Any) -> str:
    if value is None or value == "":
        fail(400, CODE_NAME_EMPTY, "contact_list_name cannot be empty")
    if not isinstance(value, str) or not LIST_NAME.fullmatch(value):
        invalid("contact_list_name must be 1 to 48 letters, digits, '_' or '-'")
    return value


def _check_description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        invalid(f"description must be a string of at most {MAX_DESCRIPTION} characters")
    return value
