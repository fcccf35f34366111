"""The commands of ``_app.py``: lists, members export and rm, tasks, errors and usage."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sms_async.testing import FakeSmsServer

from ._helpers import invoke


def test_export_csv_and_jsonl(fake: FakeSmsServer, env: dict[str, str], tmp_path: Path) -> None:
    target = fake.create_list(
        "export",
        members=[
            {"phone": f"+1555000{i:04d}", "name": f"n{i}", "vars": {"i": i}} for i in range(250)
        ],
    )
    result = invoke(env, "members", "export", str(target.contact_list_id))
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 250
    assert rows[7]["phone"] == "+15550000007"
    assert json.loads(rows[7]["vars"]) == {"i": 7}
    out = tmp_path / "members.jsonl"
    result = invoke(
        env, "members", "export", str(target.contact_list_id), "--format", "jsonl", "-o", str(out)
    )
    assert result.exit_code == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["member_id"] for r in records] == sorted(r["member_id"] for r in records)
    assert records[0]["name"] == "n0"
    assert "exported 250 members" in result.stderr


def test_lists_commands_with_json(fake: FakeSmsServer, env: dict[str, str]) -> None:
    created = json.loads(
        invoke(env, "lists", "create", "promo", "--description", "d", "--json").stdout
    )
    assert created["contact_list_name"] == "promo"
    list_id = created["contact_list_id"]
    assert invoke(env, "lists", "update", str(list_id), "--name", "promo2").exit_code == 0
    listed = json.loads(invoke(env, "lists", "ls", "--json").stdout)
    assert [(x["contact_list_id"], x["contact_list_name"]) for x in listed] == [(list_id, "promo2")]
    table = invoke(env, "lists", "ls").stdout
    assert "promo2" in table
    assert invoke(env, "lists", "rm", str(list_id)).exit_code == 0
    assert fake.contact_lists == [] or all(x.contact_list_id != list_id for x in fake.contact_lists)


def test_members_rm(fake: FakeSmsServer, env: dict[str, str]) -> None:
    target = fake.create_list("rm", members=[{"phone": "+15550000001"}, {"phone": "+15550000002"}])
    ids = list(target.members)
    result = invoke(env, "members", "rm", str(target.contact_list_id), *map(str, ids))
    assert result.exit_code == 0
    assert "deleted 2 member(s)" in result.stdout
    assert fake.get_list("rm").member_count == 0


def test_tasks_send_status_wait(fake: FakeSmsServer, env: dict[str, str]) -> None:
    fake.create_list("campaign", members=[{"phone": "+15550000001"}])
    result = invoke(
        env,
        "tasks",
        "send",
        "campaign",
        "--task-name",
        "t",
        "--template-id",
        "7",
        "--sender-name",
        "me",
        "--json",
    )
    assert result.exit_code == 0, result.output
    sent = json.loads(result.stdout)
    assert (sent["status"], sent["member_count"]) == ("WAITING", 1)
    status = json.loads(invoke(env, "tasks", "status", str(sent["task_id"]), "--json").stdout)
    assert status["task_id"] == sent["task_id"]
    fake.clock.advance(3600)
    waited = json.loads(
        invoke(env, "tasks", "wait", str(sent["task_id"]), "--poll-interval", "0", "--json").stdout
    )
    assert waited["status"] == "SUCCEEDED"


def test_a_bad_key_is_one_clear_line_and_never_shown(env: dict[str, str]) -> None:
    bad = "wrong-key-that-must-not-be-printed"
    result = invoke({**env, "SMS_ASYNC_KEY": bad}, "lists", "ls")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: AuthenticationError:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert bad not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("members", "import", "1"),
        ("members", "import", "1", "file.txt"),
        ("members", "import", "x", "m.csv"),
        ("members", "import", "1", "m.csv", "--batch-size", "1001"),
        ("lists", "update", "1"),
        ("tasks", "send", "list"),
        ("nope",),
    ],
)
def test_usage_errors_exit_2(env: dict[str, str], args: tuple[str, ...]) -> None:
    assert invoke(env, *args).exit_code == 2


def test_missing_credentials_is_a_usage_error(base_url: str) -> None:
    result = invoke(
        {"SMS_ASYNC_BASE_URL": base_url, "SMS_ASYNC_USER": "", "SMS_ASYNC_KEY": ""}, "lists", "ls"
    )
    assert result.exit_code == 2
    assert "--user" in result.stderr


def test_client_side_validation_is_a_usage_error(env: dict[str, str]) -> None:
    result = invoke(env, "lists", "create", "bad name!")
    assert result.exit_code == 2
    assert "list name" in result.stderr


def test_each_retry_is_one_warning_line(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("retrying")
    fake.fail_next("members.add", "503")
    source = tmp_path / "m.csv"
    source.write_text("phone\n+15550000001\n", encoding="utf-8")
    result = invoke(env, "members", "import", str(target.contact_list_id), str(source))
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if "retry" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("WARNING: retrying POST /v1/contact_lists/")
    assert fake.get_list("retrying").member_count == 1


def test_without_the_cli_extra_the_command_says_what_to_install() -> None:
    code = "import sys; sys.modules['click'] = None; from sms_async.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "pip install 'sms-async[cli]'" in done.stderr


def test_flag_names_in_messages(env: dict[str, str]) -> None:
    result = invoke({**env, "SMS_ASYNC_TASK_BASE_URL": "ftp://x"}, "lists", "ls")
    assert result.exit_code == 2
    assert "--task-base-url must be an http(s) URL" in result.stderr
    assert "task_--" not in result.stderr


def test_export_to_a_file_leaves_it_alone_when_the_list_is_missing(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "keep.csv"
    out.write_text("precious\n", encoding="utf-8")
    result = invoke(env, "members", "export", "424242", "-o", str(out))
    assert result.exit_code == 1
    assert out.read_text(encoding="utf-8") == "precious\n"


def test_settings_repr_hides_the_key() -> None:
    from sms_async.cli._app import Settings

    assert "SECRETKEY" not in repr(Settings("u", "SECRETKEY", None, None, False))
