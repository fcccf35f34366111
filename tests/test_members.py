import json

import httpx
import pytest
import respx

from sms_async import AsyncSmsClient, Member, NewMember, ValidationError
from sms_async._auth import basic_auth_header

from .conftest import BASE, KEY, USER

AUTH = basic_auth_header(USER, KEY)
MEMBERS = f"{BASE}/v1/contact_lists/1024/members"


def member_row(member_id: int) -> dict[str, object]:
    return {
        "member_id": member_id,
        "phone": f"+86{member_id}",
        "name": "",
        "vars": "{'beizhu':'hello'}",
        "create_time": "2016-10-18T15:13:27+0800",
        "update_time": "2016-10-18T15:13:27+0800",
    }


async def test_list_members_with_phone_filter(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.get(MEMBERS).mock(
        return_value=httpx.Response(
            200, json={"result": [member_row(1), member_row(2)], "total": 2, "count": 2}
        )
    )
    members = [m async for m in client.members.list(1024, phone="1565")]
    assert all(isinstance(m, Member) for m in members)
    assert [m.member_id for m in members] == [1, 2]
    assert members[0].vars == {"beizhu": "hello"}
    request = route.calls.last.request
    assert request.headers["Authorization"] == AUTH
    assert dict(request.url.params) == {"phone": "1565", "offset": "0", "limit": "100"}


async def test_member_ids_joined_with_semicolons(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.get(MEMBERS).mock(
        return_value=httpx.Response(200, json={"result": [member_row(5)], "total": 1, "count": 1})
    )
    members = [m async for m in client.members.list(1024, member_ids=[5, 6])]
    assert [m.member_id for m in members] == [5]
    assert route.calls.last.request.url.params["member_ids"] == "5;6"


async def test_add_posts_members_json(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    route = router.post(MEMBERS).mock(
        return_value=httpx.Response(
            200, json={"result": {"count": 1, "invalid": ["+8618754265414"]}}
        )
    )
    result = await client.members.add(
        1024,
        [
            NewMember("+86158452369825", name="aaa", vars={"sex": "male", "code": "1"}),
            {"phone": "+8618754265414", "name": "aaa", "vars": {"sex": "female"}},
        ],
    )
    assert result.count == 1
    assert result.invalid == ["+8618754265414"]
    assert result.failed == []
    request = route.calls.last.request
    assert request.headers["Authorization"] == AUTH
    assert json.loads(request.content) == {
        "members": [
            {"phone": "+86158452369825", "name": "aaa", "vars": {"sex": "male", "code": "1"}},
            {"phone": "+8618754265414", "name": "aaa", "vars": {"sex": "female"}},
        ]
    }


async def test_add_leaves_out_unset_fields(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.post(MEMBERS).mock(
        return_value=httpx.Response(200, json={"result": {"count": 1, "invalid": []}})
    )
    await client.members.add(1024, [NewMember("+15550001")])
    assert json.loads(route.calls.last.request.content) == {"members": [{"phone": "+15550001"}]}


async def test_update_puts_member_object(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    route = router.put(f"{MEMBERS}/251224").mock(
        return_value=httpx.Response(200, json={"count": 1})
    )
    count = await client.members.update(
        1024, 251224, phone="158452369825", name="aaa", vars={"sex": "male"}
    )
    assert count == 1
    request = route.calls.last.request
    assert request.method == "PUT"
    assert json.loads(request.content) == {
        "member": {"phone": "158452369825", "name": "aaa", "vars": {"sex": "male"}}
    }


async def test_delete_member(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    route = router.delete(f"{MEMBERS}/1234").mock(
        return_value=httpx.Response(200, json={"count": 1})
    )
    assert await client.members.delete(1024, 1234) == 1
    assert route.calls.last.request.headers["Authorization"] == AUTH


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"phone": ""}, "phone"),
        ({"phone": "12a45"}, "phone"),
        ({"name": "n" * 49}, "name"),
        ({"vars": {"k" * 33: "v"}}, "vars"),
        ({"vars": {"50%": "v"}}, "vars"),
        ({"vars": {"big": "x" * 1100}}, "1024 bytes"),
        ({"vars": {"bad": object()}}, "JSON"),
    ],
)
async def test_update_validates_fields(
    client: AsyncSmsClient, router: respx.MockRouter, fields: dict[str, object], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        await client.members.update(1, 2, **fields)
    assert not router.calls


async def test_batch_size_out_of_range(client: AsyncSmsClient) -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        await client.members.add(1, [], batch_size=1001)
    with pytest.raises(ValidationError, match="batch_size"):
        await client.members.add(1, [], batch_size=0)


def test_empty_member_ids_refused(client: AsyncSmsClient) -> None:
    with pytest.raises(ValidationError, match="member_ids"):
        client.members.list(1, member_ids=[])
