from datetime import UTC, datetime, timedelta, timezone

import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_async import ContactList, Member, SmsTask, TaskStatus
from sms_async._convert import (
    AddResponse,
    ListResponse,
    ResultResponse,
    TaskResponse,
    format_execute_time,
    parse_vars,
    structurer,
)

UTC8 = timezone(timedelta(hours=8))

SEED_LIST_ROW = {
    "contact_List_id": 998,
    "contact_list_name": "test",
    "description": "",
    "member_count": 4,
    "create_time": "2016-05-10T15:18:38+0800",
    "update_time": "2016-05-11T10:04:20+0800",
}


def test_list_row_with_capital_l_id() -> None:
    page = structurer(ListResponse[ContactList])(
        {"result": [SEED_LIST_ROW], "count": 1, "total": 10}
    )
    assert page.total == 10
    row = page.result[0]
    assert row.contact_list_id == 998
    assert row.member_count == 4
    assert row.create_time == datetime(2016, 5, 10, 15, 18, 38, tzinfo=UTC8)
    assert row.create_time.utcoffset() == timedelta(hours=8)


def test_create_row_with_regular_id_and_extra_fields_ignored() -> None:
    body = {"result": {"contact_list_id": 35, "contact_list_name": "beijing", "new_field": [1]}}
    created = structurer(ResultResponse[ContactList])(body).result
    assert created == ContactList(contact_list_id=35, contact_list_name="beijing")


def test_missing_optional_fields_take_defaults() -> None:
    row = structurer(ListResponse[Member])({"result": [{"member_id": 1}], "total": 1}).result[0]
    assert row == Member(member_id=1, phone="", name="", vars={}, create_time=None)


def test_member_vars_single_quoted_string() -> None:
    body = {
        "result": [
            {
                "member_id": 440164,
                "phone": "18********",
                "name": "",
                "vars": "{'beizhu':'hello'}",
                "create_time": "2016-10-18T15:13:27+0800",
                "update_time": "2016-10-18T15:13:27+0800",
            }
        ],
        "total": 2,
        "count": 2,
    }
    member = structurer(ListResponse[Member])(body).result[0]
    assert member.vars == {"beizhu": "hello"}
    assert member.update_time == datetime(2016, 10, 18, 15, 13, 27, tzinfo=UTC8)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ({"a": "1"}, {"a": "1"}),
        ('{"a": "1", "b": 2}', {"a": "1", "b": 2}),
        ("{'a':'x', 'n': 3}", {"a": "x", "n": 3}),
        ("", {}),
        (None, {}),
    ],
)
def test_parse_vars_forms(raw: object, parsed: dict[str, object]) -> None:
    assert parse_vars(raw) == parsed


@pytest.mark.parametrize(
    "raw", ["__import__('os').system('true')", "[1, 2]", "{'a': ", "'text'", 42, ["a"]]
)
def test_parse_vars_refuses_non_mappings_and_code(raw: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        parse_vars(raw)


@given(st.dictionaries(st.text(max_size=32), st.text() | st.integers(), max_size=8))
def test_parse_vars_reads_back_python_repr_and_json(value: dict[str, object]) -> None:
    import json

    assert parse_vars(repr(value)) == value
    assert parse_vars(json.dumps(value)) == value


SEED_TASK = {
    "result": True,
    "statusCode": 200,
    "message": "联系人列表任务保存成功",
    "info": {
        "smsTask": {
            "contactListName": "test",
            "createTime": "2017-05-19 14:22:57",
            "endTime": "",
            "memberCount": 4,
            "senderName": "sendcloud",
            "status": "等待执行",
            "taskId": 472,
            "taskName": "test",
            "templateId": 999,
        }
    },
}


def test_task_from_seed() -> None:
    task = structurer(TaskResponse)(SEED_TASK).task
    assert task == SmsTask(
        task_id=472,
        contact_list_name="test",
        task_name="test",
        sender_name="sendcloud",
        template_id=999,
        member_count=4,
        status=TaskStatus.WAITING,
        raw_status="等待执行",
        create_time=datetime(2017, 5, 19, 14, 22, 57, tzinfo=UTC8),
        end_time=None,
    )


@pytest.mark.parametrize(
    ("raw", "status", "final"),
    [
        ("等待执行", TaskStatus.WAITING, False),
        ("执行中", TaskStatus.RUNNING, False),
        ("执行成功", TaskStatus.SUCCEEDED, True),
        ("执行失败", TaskStatus.FAILED, True),
        ("已取消", TaskStatus.UNKNOWN, False),
        ("unknown", TaskStatus.UNKNOWN, False),
    ],
)
def test_task_statuses(raw: str, status: TaskStatus, final: bool) -> None:
    body = {"info": {"smsTask": {"taskId": 1, "status": raw, "endTime": "2017-05-19 15:00:00"}}}
    task = structurer(TaskResponse)(body).task
    assert task.status is status
    assert task.raw_status == raw
    assert task.status.is_final is final
    assert task.end_time == datetime(2017, 5, 19, 15, 0, tzinfo=UTC8)


def test_add_response() -> None:
    result = structurer(AddResponse)({"result": {"count": 1, "invalid": ["130****"]}}).result
    assert (result.count, result.invalid) == (1, ["130****"])


@pytest.mark.parametrize(
    "body",
    [
        {"result": [{"member_id": "abc"}], "total": 1},
        {"result": [{"member_id": True}], "total": 1},
        {"result": "nope", "total": 1},
        {"result": [{"member_id": 1, "create_time": "yesterday"}], "total": 1},
        {"result": [{"member_id": 1, "vars": "[1]"}], "total": 1},
        {"result": []},
        [],
    ],
)
def test_wrong_shapes_raise(body: object) -> None:
    with pytest.raises((cattrs.BaseValidationError, ValueError, TypeError)):
        structurer(ListResponse[Member])(body)


def test_format_execute_time_aware_is_converted_to_utc8() -> None:
    aware = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert format_execute_time(aware) == "2026-01-02 11:04:05"


def test_format_execute_time_naive_is_kept() -> None:
    assert format_execute_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05"


@given(
    st.lists(
        st.tuples(
            st.text(
                alphabet=st.characters(
                    blacklist_categories=("Cs",), blacklist_characters="'\\\n\r"
                ),
                max_size=10,
            ),
            st.text(
                alphabet=st.characters(
                    blacklist_categories=("Cs",), blacklist_characters="'\\\n\r"
                ),
                max_size=20,
            ),
        ),
        max_size=6,
    ),
    st.sampled_from([",", ", ", " ,", " , "]),
    st.booleans(),
)
def test_the_fast_quirk_parser_agrees_with_the_literal_parser(
    pairs: list[tuple[str, str]], sep: str, trailing: bool
) -> None:
    import ast

    text = (
        "{" + sep.join(f"'{k}':'{v}'" for k, v in pairs) + ("," if trailing and pairs else "") + "}"
    )
    try:
        expected = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        with pytest.raises(ValueError, match="vars"):
            parse_vars(text)
    else:
        assert parse_vars(text) == expected
