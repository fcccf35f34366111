"""The sms-async command, end to end against the fake served on a loopback port."""

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sms_async.cli import cli
from sms_async.testing import FakeSmsServer

USER, KEY = "cli-user", "cli-key-0123456789-secret"


@pytest.fixture
def fake() -> FakeSmsServer:
    return FakeSmsServer(USER, KEY)


@pytest.fixture
def base_url(fake: FakeSmsServer) -> Iterator[str]:
    with fake.serve_in_thread() as url:
        yield url


@pytest.fixture
def env(base_url: str) -> dict[str, str]:
    return {
        "SMS_ASYNC_USER": USER,
        "SMS_ASYNC_KEY": KEY,
        "SMS_ASYNC_BASE_URL": base_url,
        "SMS_ASYNC_TASK_BASE_URL": base_url,
    }


def invoke(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)


def test_import_csv_with_invalid_rows_and_a_rejects_file(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("imports")
    source = tmp_path / "members.csv"
    rows = ["phone,name,city,code"]
    rows += [f"+86138{i:08d},Name {i},Paris,{i}" for i in range(2500)]
    rows += ["not-a-phone,Bad,Rome,1", "+8613900000000,Too many,Oslo,1,extra"]
    rows += [f"+86138{0:08d},Duplicate,Paris,0"]  # the fake rejects a phone already there
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    result = invoke(
        env,
        "members", "import", str(target.contact_list_id), str(source),
        "--rejects", str(rejects), "--batch-size", "500", "--concurrency", "4",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2,503 rows: 2,500 added, 3 rejected, 0 in 0 failed batches" in result.stdout
    stored = fake.get_list("imports")
    assert stored.member_count == 2500
    first = stored.ordered()[0]
    assert (first.name, first.vars["city"], first.vars["code"]) == ("Name 0", "Paris", "0")
    with rejects.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["phone", "name", "city", "code", "reason"]
        rejected = list(reader)
    reasons = {row["phone"]: row["reason"] for row in rejected}
    assert reasons["not-a-phone"].startswith("invalid: phone")
    assert reasons["+8613900000000"] == "invalid: row has 1 more field(s) than the header"
    assert reasons["+8613800000000"] == "invalid: rejected by the API"
    assert len(rejected) == 3


def test_import_jsonl_from_stdin(fake: FakeSmsServer, env: dict[str, str]) -> None:
    target = fake.create_list("jsonl")
    lines = [
        json.dumps({"phone": f"+1555{i:07d}", "name": f"n{i}", "vars": {"k": i}}) for i in range(30)
    ]
    lines.insert(5, "{not json")
    result = invoke(
        env, "members", "import", str(target.contact_list_id), "-", "--format", "jsonl", "--json",
        stdin="\n".join(lines) + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["rows"], summary["added"], summary["rejected"]) == (31, 30, 1)
    assert fake.get_list("jsonl").member_count == 30


def test_failed_batches_exit_1_and_land_in_rejects(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("failing")
    fake.set_faults("members.add", rate_503=1.0)
    source = tmp_path / "m.csv"
    source.write_text("phone\n+15550000001\n+15550000002\n", encoding="utf-8")
    rejects = tmp_path / "r.csv"
    result = invoke(
        env,
        "members",
        "import",
        str(target.contact_list_id),
        str(source),
        "--rejects",
        str(rejects),
    )
    assert result.exit_code == 1
    assert "2 in 1 failed batch in " in result.stdout
    with rejects.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["phone"] for row in rows] == ["+15550000001", "+15550000002"]
    assert all(row["reason"].startswith("batch failed: ") for row in rows)


def test_plain_progress_lines_when_not_a_terminal(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("progress")
    source = tmp_path / "m.csv"
    source.write_text("phone\n" + "".join(f"+1555{i:07d}\n" for i in range(50)), encoding="utf-8")
    result = invoke(env, "members", "import", str(target.contact_list_id), str(source))
    assert result.exit_code == 0
    assert "importing: 50/50 rows, 50 added, 0 rejected, 0 failed" in result.stderr


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


def test_demo_runs_end_to_end_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sms_async.cli", "demo", "--members", "3000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "3,000 rows: 2,997 added, 3 rejected (bad phones), 0 failed" in done.stdout
    assert "read back 2,997 members" in done.stdout
    assert "SUCCEEDED" in done.stdout


def test_unwritable_rejects_file_is_a_usage_error(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("unwritable")
    source = tmp_path / "m.csv"
    source.write_text("phone\n+15550000001\n", encoding="utf-8")
    result = invoke(
        env, "members", "import", str(target.contact_list_id), str(source),
        "--rejects", str(tmp_path / "missing-dir" / "r.csv"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "cannot write" in result.stderr
    assert fake.stats.requests.get("members.add", 0) == 0


def test_bytes_that_are_not_utf8_reject_their_row_only(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("bytes")
    source = tmp_path / "m.csv"
    good = "".join(f"+1555{i:07d},n{i}\n" for i in range(20_000)).encode()
    source.write_bytes(b"phone,name\n" + good + b"+15559999999,\xff\xfe broken\n+15558888888,ok\n")
    rejects = tmp_path / "r.csv"
    result = invoke(
        env,
        "members",
        "import",
        str(target.contact_list_id),
        str(source),
        "--rejects",
        str(rejects),
    )
    assert result.exit_code == 0, result.output
    assert fake.get_list("bytes").member_count == 20_001
    data = rejects.read_bytes()
    assert b"\xff\xfe broken" in data  # the original bytes, so the row can be fixed
    assert b"row is not valid UTF-8" in data


def test_a_phone_twice_in_a_batch_blames_the_later_row(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("dupes")
    source = tmp_path / "m.csv"
    source.write_text("phone,name\n+15550000001,first\n+15550000001,second\n", encoding="utf-8")
    rejects = tmp_path / "r.csv"
    result = invoke(
        env,
        "members",
        "import",
        str(target.contact_list_id),
        str(source),
        "--rejects",
        str(rejects),
    )
    assert result.exit_code == 0
    assert [m.name for m in fake.get_list("dupes").ordered()] == ["first"]
    with rejects.open(encoding="utf-8") as handle:
        assert [(r["name"], r["reason"]) for r in csv.DictReader(handle)] == [
            ("second", "invalid: rejected by the API")
        ]


def test_a_missing_list_fails_fast(
    env: dict[str, str], fake: FakeSmsServer, tmp_path: Path
) -> None:
    source = tmp_path / "m.csv"
    source.write_text("phone\n+15550000001\n", encoding="utf-8")
    result = invoke(env, "members", "import", "424242", str(source))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: NotFoundError:")
    assert fake.stats.requests.get("members.add", 0) == 0
    export = invoke(env, "members", "export", "424242")
    assert export.exit_code == 1
    assert export.stdout == ""  # no header written before the failure


def test_client_side_validation_is_a_usage_error(env: dict[str, str]) -> None:
    result = invoke(env, "lists", "create", "bad name!")
    assert result.exit_code == 2
    assert "list name" in result.stderr


def test_stdin_needs_a_format(env: dict[str, str]) -> None:
    result = invoke(env, "members", "import", "1", "-", stdin="phone\n")
    assert result.exit_code == 2
    assert "--format" in result.stderr


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


def test_a_header_that_is_not_utf8_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "m.csv"
    source.write_bytes(b"phone,caf\xe9\n+15550000001,x\n")
    result = invoke(env, "members", "import", "1", str(source))
    assert result.exit_code == 2
    assert "header row is not valid UTF-8" in result.stderr


def test_a_jsonl_lone_surrogate_rejects_the_line(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("surrogates")
    source = tmp_path / "m.jsonl"
    source.write_text(
        '{"phone": "+15550000001", "name": "\\ud800"}\n{"phone": "+15550000002"}\n',
        encoding="utf-8",
    )
    rejects = tmp_path / "r.csv"
    result = invoke(
        env,
        "members",
        "import",
        str(target.contact_list_id),
        str(source),
        "--rejects",
        str(rejects),
    )
    assert result.exit_code == 0, result.output
    assert fake.get_list("surrogates").phones == ["+15550000002"]
    assert "not valid Unicode" in rejects.read_text(encoding="utf-8")


def test_settings_repr_hides_the_key() -> None:
    from sms_async.cli._app import Settings

    assert "SECRETKEY" not in repr(Settings("u", "SECRETKEY", None, None, False))


def test_a_fatal_error_stops_the_import_with_partial_counts(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("revoked")
    fake.fail_next("members.add", "401")  # the key is refused at the first batch
    source = tmp_path / "m.csv"
    source.write_text("phone\n" + "".join(f"+1555{i:07d}\n" for i in range(1000)), "utf-8")
    rejects = tmp_path / "r.csv"
    result = invoke(
        env,
        "members", "import", str(target.contact_list_id), str(source),
        "--rejects", str(rejects), "--batch-size", "100", "--concurrency", "1",
    )  # fmt: skip
    assert result.exit_code == 1
    # Only the first batch was read: the rest of the file is left for a later run.
    assert "100 rows: 0 added, 0 rejected, 100 in 1 failed batch in " in result.stdout
    assert "error: stopped after 100 rows: AuthenticationError: Unauthorized" in result.stderr
    assert fake.stats.requests["members.add"] == 1
    with rejects.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 100
    assert all(row["reason"].startswith("batch failed: not sent: send again; ") for row in rows)


def test_a_batch_that_may_be_stored_says_so_in_the_rejects_file(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("lost")
    fake.fail_next("members.add", "drop_after")  # stored, then the connection is lost
    source = tmp_path / "m.csv"
    source.write_text("phone\n+15550000001\n+15550000002\n", encoding="utf-8")
    rejects = tmp_path / "r.csv"
    result = invoke(
        env,
        "members",
        "import",
        str(target.contact_list_id),
        str(source),
        "--rejects",
        str(rejects),
    )
    assert result.exit_code == 1
    with rejects.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["phone"] for row in rows] == ["+15550000001", "+15550000002"]
    reason = "batch failed: may be stored: check before sending again; "
    assert all(row["reason"].startswith(reason) for row in rows)
    assert fake.get_list("lost").member_count == 2  # indeed stored
