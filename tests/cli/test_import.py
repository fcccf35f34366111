"""``members import`` (``_import.py``): the account of every row, rejects, failures, stops."""

import csv
import json
from pathlib import Path

import pytest

from sms_async.testing import FakeSmsServer

from ._helpers import invoke


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


def rejects_of(path: Path) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return sorted((r["phone"], r["name"], r["reason"]) for r in csv.DictReader(handle))


def test_a_resumed_import_writes_every_rejected_row_once(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("resumed", members=[{"phone": "+15550000009"}])
    source = tmp_path / "m.csv"
    # batches of 2 valid rows: [a, c], [d, e], [f]; e repeats d's phone: the API rejects it
    source.write_text(
        "phone,name\n+15550000001,a\nbad,b\n+15550000009,c\n"
        "+15550000003,d\n+15550000003,e\n+15550000004,f\n",
        encoding="utf-8",
    )
    rejects = tmp_path / "r.csv"
    args = (
        "members", "import", str(target.contact_list_id), str(source), "--rejects", str(rejects),
        "--journal", str(tmp_path / "j.sqlite"), "--batch-size", "2", "--concurrency", "1",
    )  # fmt: skip
    invalid = ("bad", "b", "invalid: phone must be digits with an optional leading '+'")
    by_api = ("+15550000003", "e", "invalid: rejected by the API")
    in_doubt = "batch failed: may be stored: check before sending again; "

    fake.fail_next("members.add", "drop")  # the first batch is lost: it may be stored
    first = invoke(env, *args)
    assert first.exit_code == 1
    assert "6 rows: 2 added, 2 rejected, 2 in 1 failed batch in " in first.stdout
    found = rejects_of(rejects)
    assert [row[:2] for row in found if row[2].startswith(in_doubt)] == [
        ("+15550000001", "a"),
        ("+15550000009", "c"),
    ]
    assert [row for row in found if not row[2].startswith(in_doubt)] == [by_api, invalid]

    # Resumed: [d, e] and [f] are replayed from the journal; [a, c] is checked against
    # the list, which holds c's phone, so only a is sent again, and is lost again.
    fake.fail_next("members.add", "drop")
    second = invoke(env, *args)
    assert second.exit_code == 1
    assert "6 rows: 3 added, 2 rejected, 1 in 1 failed batch in " in second.stdout
    found = rejects_of(rejects)
    assert [row[:2] for row in found if row[2].startswith(in_doubt)] == [("+15550000001", "a")]
    assert [row for row in found if not row[2].startswith(in_doubt)] == [by_api, invalid]

    third = invoke(env, *args)
    assert third.exit_code == 0, third.output
    assert "6 rows: 4 added, 2 rejected, 0 in 0 failed batches in " in third.stdout
    assert rejects_of(rejects) == [by_api, invalid]
    assert sorted(fake.get_list("resumed").phones) == [
        "+15550000001", "+15550000003", "+15550000004", "+15550000009",
    ]  # fmt: skip


def test_rows_read_but_not_sent_when_the_input_breaks_are_in_the_rejects_file(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("broken")
    source = tmp_path / "m.csv"
    rows = [f"+1555{i:07d},n{i}\n" for i in range(150)]
    rows.insert(140, '+15559999999,"' + "x" * 200_000 + '"\n')  # past csv's field size limit
    source.write_text("phone,name\n" + "".join(rows), encoding="utf-8")
    rejects = tmp_path / "r.csv"
    result = invoke(
        env, "members", "import", str(target.contact_list_id), str(source),
        "--rejects", str(rejects), "--journal", str(tmp_path / "j.sqlite"),
        "--batch-size", "100", "--concurrency", "1",
    )  # fmt: skip
    assert result.exit_code == 1
    # the second batch was being read: with a journal, only whole batches are sent
    assert "140 rows: 100 added, 0 rejected, 40 in 1 failed batch in " in result.stdout
    assert "error: stopped after 140 rows: Error: field larger than field limit" in result.stderr
    found = rejects_of(rejects)
    assert [phone for phone, _, _ in found] == [f"+1555{i:07d}" for i in range(100, 140)]
    assert all(reason.startswith("batch failed: not sent: send again; ") for *_, reason in found)


def test_a_member_the_sdk_refuses_after_the_reader_accepted_it_stops_the_import(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader checks rows with the SDK's own rule, so that batch i is exactly the
    # members it handed on i-th; should the SDK ever disagree, no row is misattributed.
    from sms_async.resources import members

    accept = members._accept

    def stricter(raw: object, invalid: list[str]) -> dict[str, object] | None:
        if isinstance(raw, dict) and raw["phone"] == "+15550000002":
            invalid.append(raw["phone"])
            return None
        return accept(raw, invalid)

    monkeypatch.setattr(members, "_accept", stricter)
    target = fake.create_list("stricter")
    source = tmp_path / "m.csv"
    source.write_text("".join(["phone\n", *(f"+1555{i:07d}\n" for i in range(1, 5))]), "utf-8")
    result = invoke(
        env, "members", "import", str(target.contact_list_id), str(source), "--batch-size", "2"
    )
    assert result.exit_code == 1
    assert "RuntimeError: members.add reported a batch the import did not hand on" in result.stderr
