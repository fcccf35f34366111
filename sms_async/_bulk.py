"""The bulk engine behind ``members.add``: validate, batch, send, account."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import Any

from ._convert import AddResult
from ._errors import BulkAddError, SmsError, ValidationError
from ._models import AddMembersResult, FailedBatch, NewMember
from ._validation import member_problem, to_new_member

__all__ = ["MemberInput", "add_members"]

MemberInput = NewMember | Mapping[str, Any]
SendBatch = Callable[[list[NewMember]], Awaitable[AddResult]]


async def add_members(
    members: Iterable[MemberInput] | AsyncIterable[MemberInput],
    send: SendBatch,
    *,
    batch_size: int,
    raise_on_error: bool,
) -> AddMembersResult:
    """Send *members* in batches through *send* and account for every one of them."""
    result = AddMembersResult()
    batch: list[NewMember] = []

    async def flush() -> None:
        try:
            added = await send(batch)
        except SmsError as exc:
            result.failed.append(FailedBatch(list(batch), exc))
        else:
            object.__setattr__(result, "count", result.count + added.count)
            result.invalid.extend(added.invalid)
        batch.clear()

    async for raw in _aiter(members):
        try:
            member = to_new_member(raw)
        except ValidationError:
            result.invalid.append(str(raw.get("phone", "")) if isinstance(raw, Mapping) else "")
            continue
        if member_problem(member) is not None:
            result.invalid.append(member.phone if isinstance(member.phone, str) else "")
            continue
        batch.append(member)
        if len(batch) >= batch_size:
            await flush()
    if batch:
        await flush()
    if raise_on_error and result.failed:
        raise BulkAddError(result)
    return result


async def _aiter(items: Iterable[MemberInput] | AsyncIterable[MemberInput]) -> Any:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
