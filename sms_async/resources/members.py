"""``client.members``: list, add, update and delete the members of a contact list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._bulk import Batch, MemberInput, ProgressCallback, Resume, add_members
from .._constants import DEFAULT_BATCH_SIZE, DEFAULT_PAGE_SIZE, MAX_MEMBER_IDS
from .._convert import (
    AddResponse,
    CountResponse,
    ListResponse,
    member_fields,
    structurer,
    unstructure_member,
)
from .._errors import (
    APIConnectionError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    SmsError,
    ValidationError,
)
from .._journal import ImportJournal
from .._models import AddMembersResult, Member, NewMember, Page
from .._pagination import AsyncPaginator, PageFetcher
from .._phones import PhoneNormalizer, PhoneRules
from .._validation import (
    CheckedMember,
    check_batch_size,
    check_id,
    check_member_fields,
    check_range,
    member_problem,
    payload_problem,
    phone_problem,
    quick_payload,
    snapshot_payload,
    to_new_member,
)
from ._base import Resource

if TYPE_CHECKING:
    from .._transport import Transport

__all__ = ["Members"]

_parse_page = structurer(ListResponse[Member])
_parse_add = structurer(AddResponse)
_parse_count = structurer(CountResponse)


def _accept(raw: object, invalid: list[str], any_phone: bool = False) -> dict[str, Any] | None:
    """A snapshot of the member *raw* to send, or ``None`` (its phone recorded as invalid).

    The snapshot is a new dict (vars copied too): what is sent is what the input
    held when it was read, whatever the caller does to its objects afterwards.
    The usual well-formed member takes one quick pass (``quick_payload``);
    anything else is checked in full by ``_accept_checked``, which answers the
    same for what the quick pass takes. With *any_phone* (a client with a
    ``default_region``), a phone written any way passes: ``PhoneRules`` then
    normalizes it.
    """
    if type(raw) is CheckedMember:  # checked by its maker, never changed (the CLI)
        return raw
    if type(raw) is dict:  # the hot path of a large upload
        name = raw.get("name")
        variables = raw.get("vars")
        # no other keys: the ones present are phone, and name and vars when not None
        if len(raw) == 1 + (name is not None) + (variables is not None):
            payload = quick_payload(raw.get("phone"), name, variables, any_phone)
            if payload is not None:
                return payload
    elif type(raw) is NewMember:
        payload = quick_payload(raw.phone, raw.name, raw.vars, any_phone)
        if payload is not None:
            return payload
    return _accept_checked(raw, invalid, any_phone)


def _accept_written(raw: object, invalid: list[str]) -> dict[str, Any] | None:
    """``_accept`` for a client with a ``default_region``: phones written any way."""
    return _accept(raw, invalid, True)


def _accept_checked(
    raw: object, invalid: list[str], any_phone: bool = False
) -> dict[str, Any] | None:
    """``_accept`` by the full checks, for any input: the reference of the quick pass."""
    if type(raw) is dict and payload_problem(raw, any_phone=any_phone) is None:
        return snapshot_payload(raw)
    try:
        member = to_new_member(raw)
    except ValidationError:
        invalid.append(_phone_text(raw.get("phone") if isinstance(raw, Mapping) else raw))
        return None
    if member_problem(member, any_phone=any_phone) is not None:
        invalid.append(_phone_text(member.phone))
        return None
    return snapshot_payload(unstructure_member(member))


def _phone_text(value: object) -> str:
    """The text recorded in ``invalid`` for a rejected member's phone."""
    return "" if value is None else str(value)


def _path(contact_list_id: int) -> str:
    return f"/v1/contact_lists/{check_id('contact_list_id', contact_list_id)}/members"


class Members(Resource):
    """The member endpoints of the v1 API."""

    __slots__ = ("_normalizer",)

    def __init__(
        self,
        transport: Transport,
        *,
        max_concurrency: int,
        normalizer: PhoneNormalizer | None = None,
    ) -> None:
        super().__init__(transport, max_concurrency=max_concurrency)
        #: The client's ``default_region`` rules, or None: phones are sent as written.
        self._normalizer = normalizer

    def _phone(self, phone: str) -> str:
        """*phone* as a single call sends it (normalized with a ``default_region``)."""
        return phone if self._normalizer is None else self._normalizer.e164(phone)

    def list(
        self,
        contact_list_id: int,
        *,
        phone: str | None = None,
        member_ids: Sequence[int] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
    ) -> AsyncPaginator[Member]:
        """Iterate over the members of a contact list.

        Args:
            contact_list_id: The list.
            phone: Only members whose phone contains this (the API's fuzzy match).
                With the client's ``default_region``, it is normalized to E.164
                first (so a part of a number is refused: ``ValidationError``).
            member_ids: Only these members. More than 100 ids are split into
                requests of at most 100 (the API's limit), yielded in order.
            page_size: Members per request, 1 to 100.
            max_items: Stop after this many members.

        Returns:
            An async iterator of ``Member``; ``.pages()`` gives whole pages.
        """
        path = _path(contact_list_id)
        base: dict[str, str | int] = {}
        if phone is not None:
            base["phone"] = self._phone(phone)
        queries = [base]
        if member_ids is not None:
            ids = [check_id("member_ids", member_id) for member_id in member_ids]
            if not ids:
                raise ValidationError("member_ids must not be empty (use None for all members)")
            queries = [
                {**base, "member_ids": ";".join(map(str, ids[start : start + MAX_MEMBER_IDS]))}
                for start in range(0, len(ids), MAX_MEMBER_IDS)
            ]
        return AsyncPaginator(
            [self._fetcher(path, query) for query in queries],
            page_size=page_size,
            max_items=max_items,
            concurrency=self._max_concurrency,
        )

    def _fetcher(self, path: str, query: dict[str, str | int]) -> PageFetcher[Member]:
        async def fetch(offset: int, limit: int) -> Page[Member]:
            body = await self._transport.v1(
                "GET", path, params={**query, "offset": offset, "limit": limit}, parse=_parse_page
            )
            return Page(body.result, offset, body.total)

        return fetch

    async def add(
        self,
        contact_list_id: int,
        members: Iterable[MemberInput] | AsyncIterable[MemberInput],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int | None = None,
        raise_on_error: bool = True,
        on_progress: ProgressCallback | None = None,
        journal: ImportJournal | None = None,
        dedupe: bool = False,
    ) -> AddMembersResult:
        """Add members to a contact list, in batches, accounting for every one.

        Args:
            contact_list_id: The list.
            members: ``NewMember`` objects or dicts with ``phone``, ``name``, ``vars``;
                an iterable or an async iterable, consumed lazily.
            batch_size: Members per request, 1 to 1000.
            concurrency: Batches in flight at once; defaults to the client's
                ``max_concurrency``.
            raise_on_error: Raise ``BulkAddError`` (after every batch has finished)
                when any batch failed; otherwise return the result.
            on_progress: Called (or awaited, if it returns an awaitable) with an
                ``AddProgress`` after each batch, and once more at the end if members
                were rejected after the last batch was sent. The batch's slot is held
                while it runs, so a slow callback slows the upload down.
            journal: An ``ImportJournal``: each batch is recorded before and after its
                request, so that the same call, run again with the same journal and
                the same input after a crash, resumes exactly once (see "Crash-safe
                imports" in the docs).
            dedupe: Refuse a member whose phone (as sent: after normalization,
                with the client's ``default_region``) an earlier member of this
                upload already had: it goes to ``invalid`` with its phone as
                written. Costs about 70 MB per million distinct phones.

        With the client's ``default_region``, each phone is normalized to E.164
        before it is sent; one that cannot be goes to ``invalid`` as written.

        Returns:
            The account: ``count`` added, ``invalid`` phones, ``failed`` batches
            (each with ``maybe_stored``: whether it may be stored already).

        Raises:
            ValidationError: *members* is a string, bytes or a single mapping.
            BulkAddError: Some batches failed (and ``raise_on_error`` is true);
                ``.result`` has the account.
            BulkAddAbortedError: The upload stopped early, whatever
                ``raise_on_error`` says: a batch failed with an error every later
                batch would meet (``AuthenticationError``,
                ``PermissionDeniedError``, ``NotFoundError``, a closed client), or
                the input or ``on_progress`` raised. No more input was read and
                the batches in flight finished; ``.result`` accounts for every
                member read and ``__cause__`` is the error.
        """
        path = _path(contact_list_id)
        check_batch_size(batch_size)
        if concurrency is None:
            concurrency = self._max_concurrency
        check_range("concurrency", concurrency, 1, 10_000)
        if isinstance(members, str | bytes | bytearray | memoryview | Mapping):
            raise ValidationError(
                "members must be an iterable of members (NewMember objects or dicts), "
                f"not a single {type(members).__name__}: wrap one member in a list"
            )
        if not isinstance(members, Iterable | AsyncIterable):
            raise ValidationError(
                f"members must be an iterable or async iterable, got {type(members).__name__}"
            )

        if not isinstance(dedupe, bool):
            raise ValidationError(f"dedupe must be True or False, got {dedupe!r}")
        rules = PhoneRules(self._normalizer, dedupe=dedupe)

        async def send(batch: Batch) -> tuple[object, object]:
            body = await self._transport.v1(
                "POST", path, json_body={"members": batch.wire()}, parse=_parse_add
            )
            return body.result.count, body.result.invalid

        resume = None
        if journal is not None:
            entries = await journal.start(contact_list_id, batch_size)

            async def reconcile(batches: list[Batch]) -> list[tuple[int, Batch]]:
                phones = [phone for batch in batches for phone in batch.phones]
                present = await self._present(contact_list_id, phones)
                checked = []
                for batch in batches:
                    if present.isdisjoint(batch.phones):
                        checked.append((0, batch))
                        continue
                    to_send = [m for m in batch.members() if m["phone"] not in present]
                    checked.append((len(batch) - len(to_send), Batch(to_send)))
                return checked

            resume = Resume(journal, entries, reconcile)

        return await add_members(
            members,
            send,
            batch_size=batch_size,
            concurrency=concurrency,
            raise_on_error=raise_on_error,
            on_progress=on_progress,
            accept=_accept if self._normalizer is None else _accept_written,
            quick=rules.quick,
            refine=rules.refine if rules.active else None,
            is_fatal=self._stops_every_batch,
            resume=resume,
        )

    async def lookup(self, contact_list_id: int, phones: Iterable[str]) -> dict[str, Member]:
        """The members of a list whose phone equals one of *phones* exactly.

        The API's ``phone`` filter matches any phone containing the text; the
        answers are filtered to exact matches. One listing per phone, run
        concurrently under the client's limits. Useful on its own, e.g. to get
        the member ids of what an upload added.

        Args:
            contact_list_id: The list.
            phones: The phones to look for (each as sent: digits, optional ``+``;
                with the client's ``default_region``, written any way: each is
                normalized to E.164 first).

        Returns:
            ``{phone: Member}`` for each phone found, keyed by the phone as you
            passed it (the first member, if the list holds a phone more than
            once); phones not in the list are absent.
        """
        given = list(dict.fromkeys(phones))
        if self._normalizer is None:
            for phone in given:
                problem = phone_problem(phone)
                if problem is not None:
                    raise ValidationError(f"phones: {problem}, got {phone!r}")
        sent = [self._phone(phone) for phone in given]
        wanted = list(dict.fromkeys(sent))

        async def find(phone: str) -> Member | None:
            async for member in self.list(contact_list_id, phone=phone):
                if member.phone == phone:
                    return member
            return None

        try:
            async with asyncio.TaskGroup() as group:  # one fails: the others are cancelled
                tasks = [group.create_task(find(phone)) for phone in wanted]
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
        found = {phone: task.result() for phone, task in zip(wanted, tasks, strict=True)}
        return {
            phone: member
            for phone, member in zip(given, map(found.__getitem__, sent), strict=True)
            if member is not None
        }

    async def _present(self, contact_list_id: int, phones: Sequence[str]) -> set[str]:
        """Which of *phones* the list holds, by the cheaper of a lookup and a full export.

        A lookup costs a request per phone; an export, a request per 100 members
        of the list: the list's size (one small request) decides.
        """
        wanted = set(phones)
        total = 0
        async for page in self.list(contact_list_id, page_size=1).pages():
            total = page.total
            break
        if total == 0:
            return set()  # an empty list holds none of them
        if -(-total // DEFAULT_PAGE_SIZE) < len(wanted):
            return {m.phone async for m in self.list(contact_list_id) if m.phone in wanted}
        return set(await self.lookup(contact_list_id, wanted))

    def _stops_every_batch(self, error: SmsError) -> bool:
        """Whether every later batch of an upload would fail with *error* too."""
        if isinstance(error, AuthenticationError | PermissionDeniedError | NotFoundError):
            return True  # a wrong key, no permission, or the list does not exist
        return isinstance(error, APIConnectionError) and self._transport.is_closed

    async def update(
        self,
        contact_list_id: int,
        member_id: int,
        *,
        phone: str | None = None,
        name: str | None = None,
        vars: dict[str, Any] | None = None,
    ) -> int:
        """Change a member's phone, name or vars (``None`` leaves a field as it is).

        With the client's ``default_region``, *phone* is normalized to E.164
        (``ValidationError`` naming the reason when it cannot be).

        Returns:
            The API's ``count`` of updated members (1).
        """
        path = f"{_path(contact_list_id)}/{check_id('member_id', member_id)}"
        if phone is not None:
            phone = self._phone(phone)
        check_member_fields(phone=phone, name=name, vars=vars)
        member = member_fields(phone, name, vars)
        body = await self._transport.v1(
            "PUT", path, json_body={"member": member}, parse=_parse_count
        )
        return body.count

    async def delete(self, contact_list_id: int, member_id: int) -> int:
        """Remove a member from a contact list.

        Returns:
            The API's ``count`` of deleted members (1).
        """
        path = f"{_path(contact_list_id)}/{check_id('member_id', member_id)}"
        body = await self._transport.v1("DELETE", path, parse=_parse_count)
        return body.count
