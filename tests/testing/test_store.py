"""The store: stored objects and their id counters."""

from __future__ import annotations

from datetime import timedelta

from sms_async.testing import FakeClock, FakeSmsServer, StoredTask
from sms_async.testing._store import FakeStore

from .conftest import T0


def test_ids_count_up_from_their_start_and_never_go_back() -> None:
    store = FakeStore()
    first = store.add_list("a", "", T0)
    second = store.add_list("b", "", T0)
    member = store.add_member(first, "+1", "", {}, T0)
    assert (first.contact_list_id, second.contact_list_id) == (1001, 1002)
    assert member.member_id == 500001
    assert store.new_task_id() == 9001
    store.clear()
    assert (store.lists, store.tasks) == ({}, {})
    assert store.add_list("a", "", T0).contact_list_id == 1003
    assert store.add_member(second, "+1", "", {}, T0).member_id == 500002
    assert store.new_task_id() == 9002


def test_lists_are_found_by_name() -> None:
    store = FakeStore()
    item = store.add_list("promo", "", T0)
    assert store.list_named("promo") is item
    assert store.list_named("other") is None
    assert store.name_taken("promo")
    assert not store.name_taken("promo", but=item.contact_list_id)


def test_the_phone_index_follows_adds_changes_and_removals() -> None:
    store = FakeStore()
    item = store.add_list("l", "", T0)
    first = store.add_member(item, "+1", "", {}, T0)
    store.add_member(item, "+1", "", {}, T0)
    store.change_phone(item, first, "+2")
    assert (item.has_phone("+1"), item.has_phone("+2")) == (True, True)
    store.remove_member(item, first)
    assert (item.has_phone("+1"), item.has_phone("+2")) == (True, False)
    assert item.phones == ["+1"]
    assert item.ordered() == list(item.members.values())


def test_a_member_row_is_rendered_again_once_a_field_changes() -> None:
    fake = FakeSmsServer(clock=FakeClock(T0))
    fake.create_list("l", members=[{"phone": "+1", "vars": {"a": "b"}}])
    handle = fake.service.handle
    path = "/v1/contact_lists/1001/members"
    auth = {"authorization": "Basic dGVzdC11c2VyOnRlc3Qta2V5"}
    assert handle("GET", path, headers=auth).json()["result"][0]["vars"] == "{'a':'b'}"
    [member] = fake.members("l")
    member.vars = {"c": "d"}
    assert handle("GET", path, headers=auth).json()["result"][0]["vars"] == "{'c':'d'}"


def test_a_task_follows_the_clock_unless_its_status_is_forced() -> None:
    end = T0 + timedelta(seconds=3)
    task = StoredTask(1, "l", "t", "s", 7, 0, T0, T0 + timedelta(seconds=1), end)
    assert task.status_at(T0) == ("等待执行", None)
    assert task.status_at(T0 + timedelta(seconds=2)) == ("执行中", None)
    assert task.status_at(end) == ("执行成功", end)
    task.outcome = "执行失败"
    assert task.status_at(end + timedelta(hours=1)) == ("执行失败", end)
    task.forced_status = "执行成功"
    assert task.status_at(T0) == ("执行成功", T0)
    task.forced_status = "已暂停"
    assert task.status_at(end) == ("已暂停", None)
