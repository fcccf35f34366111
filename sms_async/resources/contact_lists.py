"""``client.contact_lists``: list, create, update and delete contact lists."""

from __future__ import annotations

from typing import Any

from .._constants import DEFAULT_PAGE_SIZE
from .._convert import CountResponse, ListResponse, ResultResponse, structurer
from .._models import ContactList, Page
from .._pagination import AsyncPaginator
from .._validation import (
    check_contact_list_name,
    check_description,
    check_id,
)
from ._base import Resource

__all__ = ["ContactLists"]

_PATH = "/v1/contact_lists"
_parse_page = structurer(ListResponse[ContactList])
_parse_one = structurer(ResultResponse[ContactList])
_parse_count = structurer(CountResponse)


class ContactLists(Resource):
    """The contact-list endpoints of the v1 API."""

    __slots__ = ()

    def list(
        self,
        *,
        contact_list_name: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
    ) -> AsyncPaginator[ContactList]:
        """Iterate over the account's contact lists.

        Args:
            contact_list_name: Only lists whose name contains this (the API's fuzzy match).
            page_size: Lists per request, 1 to 100.
            max_items: Stop after this many lists.

        Returns:
            An async iterator of ``ContactList``; ``.pages()`` gives whole pages.
        """
        query: dict[str, str | int] = {}
        if contact_list_name is not None:
            query["contact_list_name"] = contact_list_name

        async def fetch(offset: int, limit: int) -> Page[ContactList]:
            body = await self._transport.v1(
                "GET",
                _PATH,
                params={**query, "offset": offset, "limit": limit},
                parse=_parse_page,
            )
            return Page(body.result, offset, body.total)

        return AsyncPaginator(
            [fetch], page_size=page_size, max_items=max_items, concurrency=self._max_concurrency
        )

    async def create(
        self, *, contact_list_name: str, description: str | None = None
    ) -> ContactList:
        """Create a contact list.

        Args:
            contact_list_name: Letters, digits, ``_`` and ``-``; 1 to 48 characters.
            description: At most 255 characters.

        Returns:
            The new list.
        """
        payload: dict[str, Any] = {"contact_list_name": check_contact_list_name(contact_list_name)}
        if description is not None:
            payload["description"] = check_description(description)
        body = await self._transport.v1("POST", _PATH, json_body=payload, parse=_parse_one)
        return body.result

    async def update(
        self,
        contact_list_id: int,
        *,
        contact_list_name: str | None = None,
        description: str | None = None,
    ) -> int:
        """Rename a contact list or change its description.

        Returns:
            The API's ``count`` of updated lists (1).
        """
        check_id("contact_list_id", contact_list_id)
        payload: dict[str, Any] = {}
        if contact_list_name is not None:
            payload["contact_list_name"] = check_contact_list_name(contact_list_name)
        if description is not None:
            payload["description"] = check_description(description)
        body = await self._transport.v1(
            "PUT", f"{_PATH}/{contact_list_id}", json_body=payload, parse=_parse_count
        )
        return body.count

    async def delete(self, contact_list_id: int) -> int:
        """Delete a contact list and its members.

        Returns:
            The API's ``count`` of deleted lists (1).
        """
        check_id("contact_list_id", contact_list_id)
        body = await self._transport.v1("DELETE", f"{_PATH}/{contact_list_id}", parse=_parse_count)
        return body.count
