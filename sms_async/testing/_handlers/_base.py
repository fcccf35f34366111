"""What the v1 handlers share: the list a path names, the page a query asks for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._rules import CODE_LIST_MISSING, INTEGER, MAX_PAGE, is_id
from .._store import StoredContactList
from .._wire import fail, invalid

if TYPE_CHECKING:
    from .._service import FakeService

__all__ = ["get_list", "paging"]


def get_list(fake: FakeService, raw_id: str) -> StoredContactList:
    """The list with the id *raw_id* (from the path), or fail with code 35002."""
    found = fake.store.lists.get(int(raw_id)) if is_id(raw_id) else None
    if found is None:
        fail(400, CODE_LIST_MISSING, "The contact_list_id does not exist")
    return found


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """The ``offset`` and ``limit`` of a listing (0 and 100 by default), checked."""
    offset = _int_param(query, "offset", 0)
    limit = _int_param(query, "limit", MAX_PAGE)
    if offset < 0:
        invalid("offset must be >= 0")
    if not 0 <= limit <= MAX_PAGE:
        invalid(f"limit must be from 0 to {MAX_PAGE}")
    return offset, limit


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not INTEGER.fullmatch(raw.strip()):
        invalid(f"{name} must be an integer")
    return int(raw)
