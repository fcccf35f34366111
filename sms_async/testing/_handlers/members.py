"""The ``members`` endpoints: list, add, update and delete the members of a list."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._rules import (
    CODE_MEMBER_MISSING,
    MAX_BATCH,
    MAX_MEMBER_IDS,
    is_id,
    name_problem,
    phone_problem,
    vars_problem,
)
from .._store import StoredContactList, StoredMember
from .._wire import Reply, Request, fail, invalid, json_reply, py_literal, v1_time
from ._base import get_list, paging

if TYPE_CHECKING:
    from .._service import FakeService

__all__ = [
    "add_members",
    "delete_member",
    "list_members",
    "member_row",
    "store_members",
    "update_member",
]


def member_row(fake: FakeService, member: StoredMember) -> dict[str, Any]:
    """A member as the API shows it (``vars`` single-quoted with the quirks)."""
    quirks = fake.options.quirks
    cached = member._row
    if cached is not None and cached[0] is quirks:
        return cached[1]
    vars_: Any = member.vars
    if quirks:
        vars_ = py_literal(vars_) if vars_ else ""
    row = {
        "member_id": member.member_id,
        "phone": member.phone,
        "name": member.name,
        "vars": vars_,
        "create_time": v1_time(member.create_time),
        "update_time": v1_time(member.update_time),
    }
    member._row = (quirks, row)
    return row


def list_members(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``GET /v1/contact_lists/{id}/members``: a page, filtered by ids or a part of the phone."""
    query = request.query_params()
    offset, limit = paging(query)
    wanted = _member_ids(query.get("member_ids", ""))
    item = get_list(fake, ids[0])
    if wanted is not None:
        members = [item.members[i] for i in wanted if i in item.members]
    else:
        members = item.ordered()
    phone = query.get("phone", "")
    if phone:
        members = [member for member in members if phone in member.phone]
    page = [member_row(fake, member) for member in members[offset : offset + limit]]
    return json_reply(200, {"result": page, "total": len(members), "count": len(page)})


def add_members(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``POST /v1/contact_lists/{id}/members``: store the valid ones, report the others."""
    item = get_list(fake, ids[0])
    data = request.json_object()
    members = data.get("members")
    if not isinstance(members, list):
        invalid("members must be an array of members")
    if len(members) > MAX_BATCH:
        invalid(f"members must hold at most {MAX_BATCH} members per request")
    fake.stats.member_batches.append(len(members))
    added, rejected = store_members(fake, item, members)
    return json_reply(200, {"result": {"count": added, "invalid": rejected}})


def update_member(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``PUT /v1/contact_lists/{id}/members/{member_id}``: change the fields given."""
    item = get_list(fake, ids[0])
    member = _get_member(item, ids[1])
    data = request.json_object()
    fields = data.get("member")
    if not isinstance(fields, dict):
        invalid("member must be an object")
    phone = fields.get("phone")
    name = fields.get("name")
    vars_ = fields.get("vars")
    problem = (
        (phone_problem(phone) if phone is not None else None)
        or name_problem(name)
        or vars_problem(vars_)
    )
    if problem:
        invalid(problem)
    if (
        phone is not None
        and phone != member.phone
        and not fake.options.allow_duplicate_phones
        and item.has_phone(phone)
    ):
        invalid("phone is already in the contact list")
    if phone is not None and phone != member.phone:
        fake.store.change_phone(item, member, phone)
    if name is not None:
        member.name = name
    if vars_ is not None:
        member.vars = dict(vars_)
    member.vars = _with_name(member.vars, member.name)
    member.update_time = fake.clock.now()
    return json_reply(200, {"count": 1})


def delete_member(fake: FakeService, ids: tuple[str, ...], request: Request) -> Reply:
    """``DELETE /v1/contact_lists/{id}/members/{member_id}``: remove the member."""
    item = get_list(fake, ids[0])
    fake.store.remove_member(item, _get_member(item, ids[1]))
    return json_reply(200, {"count": 1})


def store_members(
    fake: FakeService, item: StoredContactList, members: list[Any]
) -> tuple[int, list[str]]:
    """Add the valid members to *item*; return how many, and the others' phones as sent."""
    now = fake.clock.now()
    rejected: list[str] = []
    added = 0
    for raw in members:
        if not isinstance(raw, dict):
            rejected.append(_invalid_label(raw))
            continue
        phone: Any = raw.get("phone")  # checked just below
        name = raw.get("name")
        vars_ = raw.get("vars")
        if (
            phone_problem(phone)
            or name_problem(name)
            or vars_problem(vars_)
            or (not fake.options.allow_duplicate_phones and item.has_phone(phone))
        ):
            rejected.append(_invalid_label(raw))
            continue
        name = name or ""
        fake.store.add_member(item, phone, name, _with_name(vars_, name), now)
        added += 1
    return added, rejected


def _get_member(item: StoredContactList, raw_id: str) -> StoredMember:
    found = item.members.get(int(raw_id)) if is_id(raw_id) else None
    if found is None:
        fail(400, CODE_MEMBER_MISSING, "The member_id does not exist")
    return found


def _member_ids(raw: str) -> list[int] | None:
    """The ids of a ``member_ids`` filter (``1;2;3``), sorted; ``None`` without one."""
    if not raw:
        return None
    parts = [part.strip() for part in raw.split(";") if part.strip()]
    if len(parts) > MAX_MEMBER_IDS:
        invalid(f"member_ids must name at most {MAX_MEMBER_IDS} members")
    if not all(is_id(part) for part in parts):
        invalid("member_ids must be integers joined by ';'")
    return sorted({int(part) for part in parts})


def _invalid_label(item: Any) -> str:
    """How a rejected member appears in ``invalid``: its phone as sent."""
    phone = item.get("phone") if isinstance(item, dict) else None
    if isinstance(phone, str):
        return phone
    return "" if phone is None else json.dumps(phone, ensure_ascii=False)


def _with_name(vars_: dict[str, Any] | None, name: str) -> dict[str, Any]:
    result = dict(vars_ or {})
    if name and "name" in result:
        result["name"] = name  # the API: a name key in vars is overridden by name
    return result
