import json

import httpx
import pytest
import respx

from sms_async import AsyncSmsClient, ContactList, ValidationError
from sms_async._auth import basic_auth_header

from .conftest import BASE, KEY, USER

AUTH = basic_auth_header(USER, KEY)


def row(list_id: int, name: str = "n") -> dict[str, object]:
    return {
        "contact_List_id": list_id,
        "contact_list_name": name,
        "description": "",
        "member_count": 1,
        "create_time": "2016-05-10T15:18:38+0800",
        "update_time": "2016-05-11T10:04:20+0800",
    }


async def test_list_sends_auth_query_and_yields_rows(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.get(f"{BASE}/v1/contact_lists").mock(
        return_value=httpx.Response(
            200, json={"result": [row(1, "a"), row(2, "b")], "count": 2, "total": 2}
        )
    )
    lists = [item async for item in client.contact_lists.list(contact_list_name="te")]
    assert [(x.contact_list_id, x.contact_list_name) for x in lists] == [(1, "a"), (2, "b")]
    request = route.calls.last.request
    assert request.headers["Authorization"] == AUTH
    assert dict(request.url.params) == {"contact_list_name": "te", "offset": "0", "limit": "100"}


async def test_list_walks_pages_until_total(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    rows = [row(i) for i in range(5)]

    def page(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        chunk = rows[offset : offset + limit]
        return httpx.Response(200, json={"result": chunk, "count": len(chunk), "total": 5})

    route = router.get(f"{BASE}/v1/contact_lists").mock(side_effect=page)
    ids = [x.contact_list_id async for x in client.contact_lists.list(page_size=2)]
    assert ids == [0, 1, 2, 3, 4]
    offsets = sorted(int(c.request.url.params["offset"]) for c in route.calls)
    assert offsets == [0, 2, 4]


async def test_create_posts_json(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    route = router.post(f"{BASE}/v1/contact_lists").mock(
        return_value=httpx.Response(
            200,
            json={
                "result": {
                    "contact_list_id": 35,
                    "contact_list_name": "beijing",
                    "description": "test",
                    "member_count": 28,
                    "create_time": "2016-08-02T14:06:10+0800",
                    "update_time": "2017-05-19T10:55:24+0800",
                }
            },
        )
    )
    created = await client.contact_lists.create(contact_list_name="beijing", description="test")
    assert isinstance(created, ContactList)
    assert (created.contact_list_id, created.member_count) == (35, 28)
    request = route.calls.last.request
    assert request.headers["Authorization"] == AUTH
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"contact_list_name": "beijing", "description": "test"}


async def test_create_leaves_out_missing_description(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.post(f"{BASE}/v1/contact_lists").mock(
        return_value=httpx.Response(200, json={"result": {"contact_list_id": 1}})
    )
    await client.contact_lists.create(contact_list_name="x")
    assert json.loads(route.calls.last.request.content) == {"contact_list_name": "x"}


async def test_update_puts_json_and_returns_count(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    route = router.put(f"{BASE}/v1/contact_lists/1234").mock(
        return_value=httpx.Response(200, json={"count": 1})
    )
    count = await client.contact_lists.update(1234, contact_list_name="shanghai", description="222")
    assert count == 1
    assert json.loads(route.calls.last.request.content) == {
        "contact_list_name": "shanghai",
        "description": "222",
    }
    assert route.calls.last.request.headers["Authorization"] == AUTH


async def test_delete_returns_count(client: AsyncSmsClient, router: respx.MockRouter) -> None:
    route = router.delete(f"{BASE}/v1/contact_lists/1234").mock(
        return_value=httpx.Response(200, json={"count": 1})
    )
    assert await client.contact_lists.delete(1234) == 1
    assert route.calls.last.request.headers["Authorization"] == AUTH


@pytest.mark.parametrize("name", ["", "has space", "ümlaut", "x" * 49, "semi;colon", 12])
async def test_create_validates_name_before_any_request(
    client: AsyncSmsClient, router: respx.MockRouter, name: object
) -> None:
    with pytest.raises(ValidationError, match="contact_list_name"):
        await client.contact_lists.create(contact_list_name=name)
    assert not router.calls


async def test_name_of_48_allowed_chars_is_accepted(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    router.post(f"{BASE}/v1/contact_lists").mock(
        return_value=httpx.Response(200, json={"result": {"contact_list_id": 1}})
    )
    name = ("Ab9_-" * 10)[:48]
    assert (await client.contact_lists.create(contact_list_name=name)).contact_list_id == 1


async def test_description_over_255_is_refused(
    client: AsyncSmsClient, router: respx.MockRouter
) -> None:
    with pytest.raises(ValidationError, match="description"):
        await client.contact_lists.update(1, description="d" * 256)
    assert not router.calls


@pytest.mark.parametrize("page_size", [0, 101, -1, 2.5, True])
def test_page_size_out_of_range_is_refused(client: AsyncSmsClient, page_size: object) -> None:
    with pytest.raises(ValidationError, match="page_size"):
        client.contact_lists.list(page_size=page_size)


@pytest.mark.parametrize("list_id", [-1, "12", None, 1.0])
async def test_bad_ids_are_refused(client: AsyncSmsClient, list_id: object) -> None:
    with pytest.raises(ValidationError, match="contact_list_id"):
        await client.contact_lists.delete(list_id)
