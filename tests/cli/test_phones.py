"""``members import --region --dedupe``: phones normalized by the reader, refusals with reasons."""

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from sms_async.testing import FakeSmsServer

from ._helpers import import_bytes, invoke, stored

pytest.importorskip("phonenumbers")

CSV = (
    "phone,name,city\n"
    "138 0013 8000,Li,Beijing\n"
    "+86 (138) 0013-8001,Wang,Shanghai\n"
    "0086 13800138002,Zhang,Shenzhen\n"
    "138,Short,Nowhere\n"
    "+86 138 0013 8000,Again,Beijing\n"
    "call me,Letters,Nowhere\n"
    "010 1234 5678,Office,Beijing\n"
)


def rejects(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "rejects.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_region_normalizes_and_dedupe_refuses_repeats_with_their_reasons(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    result = import_bytes(fake, env, tmp_path, CSV.encode(), "--region", "CN", "--dedupe")
    assert result.exit_code == 0, result.output
    assert "7 rows: 4 added, 3 rejected, 0 in 0 failed batches" in result.stdout
    assert stored(fake) == [
        ("+8613800138000", "Li", {"city": "Beijing"}),
        ("+8613800138001", "Wang", {"city": "Shanghai"}),
        ("+8613800138002", "Zhang", {"city": "Shenzhen"}),
        ("+861012345678", "Office", {"city": "Beijing"}),
    ]
    assert [(row["phone"], row["name"], row["reason"]) for row in rejects(tmp_path)] == [
        ("138", "Short", "invalid: phone refused (region CN): too short"),
        ("+86 138 0013 8000", "Again", "invalid: duplicate of an earlier row"),
        (
            "call me",
            "Letters",
            "invalid: phone refused (region CN): holds characters that are not part of a phone "
            "number",
        ),
    ]


def test_without_dedupe_the_api_rejects_the_repeat_and_the_row_as_written_is_blamed(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    result = import_bytes(fake, env, tmp_path, CSV.encode(), "--region", "cn")
    assert result.exit_code == 0, result.output
    assert len(stored(fake)) == 4
    reasons = {row["phone"]: row["reason"] for row in rejects(tmp_path)}
    assert reasons["+86 138 0013 8000"] == "invalid: rejected by the API"


def test_a_failed_batch_writes_its_rows_with_their_phones_as_written(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    fake.set_faults("members.add", rate_503=1.0)
    data = b"phone,name\n138 0013 8000,a\n+8613800138001,b\n"
    result = import_bytes(fake, env, tmp_path, data, "--region", "CN", "--batch-size", "1")
    assert result.exit_code == 1
    assert [row["phone"] for row in rejects(tmp_path)] == ["138 0013 8000", "+8613800138001"]
    assert all(row["reason"].startswith("batch failed: ") for row in rejects(tmp_path))


def test_jsonl_lines_are_normalized_and_rejected_with_their_phones_as_written(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    lines = [
        {"phone": "(415) 555-2671", "name": "a"},
        {"phone": "415.555.2671", "name": "b"},
        {"phone": "555-2671", "name": "c"},
        {"phone": "1 415 555 2672", "name": "d", "vars": {"k": "v"}},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    result = import_bytes(fake, env, tmp_path, data, "--region", "US", "--dedupe", name="m.jsonl")
    assert result.exit_code == 0, result.output
    assert stored(fake) == [("+14155552671", "a", None), ("+14155552672", "d", {"k": "v"})]
    assert [(row["line"], row["phone"], row["reason"]) for row in rejects(tmp_path)] == [
        ("2", "415.555.2671", "invalid: duplicate of an earlier row"),
        (
            "3",
            "555-2671",
            "invalid: phone refused (region US): a local number without its area code",
        ),
    ]


def test_dedupe_without_a_region_compares_phones_as_written(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    data = b"phone\n+15550000001\n15550000001\n+15550000001\n"
    result = import_bytes(fake, env, tmp_path, data, "--dedupe")
    assert result.exit_code == 0, result.output
    assert [phone for phone, _, _ in stored(fake)] == ["+15550000001", "15550000001"]
    assert [row["reason"] for row in rejects(tmp_path)] == ["invalid: duplicate of an earlier row"]


def test_a_journaled_import_with_a_region_resumes_to_the_same_account(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path
) -> None:
    target = fake.create_list("resumed")
    source = tmp_path / "m.csv"
    source.write_text(
        "phone\n" + "".join(f"138 {i // 10000:04d} {i % 10000:04d}\n" for i in range(50)) + "138\n",
        encoding="utf-8",
    )
    args = [
        "members", "import", str(target.contact_list_id), str(source), "--region", "CN",
        "--dedupe", "--journal", str(tmp_path / "j.sqlite"), "--batch-size", "10", "--json",
    ]  # fmt: skip
    first = invoke(env, *args)
    sent = fake.stats.requests["members.add"]
    again = invoke(env, *args)
    assert first.exit_code == again.exit_code == 0, again.output
    assert fake.stats.requests["members.add"] == sent  # replayed from the journal
    summaries = [json.loads(r.stdout.strip().splitlines()[-1]) for r in (first, again)]
    for summary in summaries:
        assert (summary["rows"], summary["added"], summary["rejected"]) == (51, 50, 1)


@pytest.mark.parametrize(
    ("region", "message"),
    [("XX", "--region must be an ISO 3166"), ("China", "--region must be an ISO 3166")],
)
def test_a_bad_region_is_a_usage_error_before_anything_is_sent(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path, region: str, message: str
) -> None:
    result = import_bytes(fake, env, tmp_path, CSV.encode(), "--region", region)
    assert result.exit_code == 2
    assert message in result.stderr
    assert sum(fake.stats.requests.values()) == 0


def test_without_the_extra_region_says_how_to_install_it(
    fake: FakeSmsServer, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "phonenumbers", None)
    result = import_bytes(fake, env, tmp_path, CSV.encode(), "--region", "CN")
    assert result.exit_code == 2
    assert "--region needs phonenumbers: pip install 'sms-async[phones]'" in result.stderr


def test_help_describes_both_options(env: dict[str, str]) -> None:
    result = invoke(env, "members", "import", "--help")
    assert "--region REGION" in result.stdout
    assert "--dedupe" in result.stdout


def test_batches_that_share_their_phones_are_told_apart_by_their_index() -> None:
    from sms_async import BatchOutcome, NewMember
    from sms_async._phones import PhoneNormalizer, PhoneRules
    from sms_async.cli._files import RejectsWriter, read_rows
    from sms_async.cli._import import _Batches

    data = (
        "phone,name\n138 0013 8000,Li\n139 0013 9000,Li2\n"
        "+86 138-0013-8000,Wang\n+86 139-0013-9000,Wang2\n"
    )
    rows = read_rows(io.StringIO(data), "csv", delimiter=",")
    out = io.StringIO()
    batches = _Batches(rows, RejectsWriter(out, rows.fields))
    rules = PhoneRules(PhoneNormalizer("CN"))
    handed = list(rows.members(2, batches.take, lambda original, reason: None, rules))
    assert [m["phone"] for m in handed] == ["+8613800138000", "+8613900139000"] * 2
    sent = [NewMember("+8613800138000"), NewMember("+8613900139000")]
    # the second batch (Wang, Wang2) settles first, stored; then the first one, whose
    # phones the API refuses as repeats: the rows to blame are Li and Li2
    batches.settle(BatchOutcome(sent, 2, index=1))
    batches.settle(BatchOutcome(sent, 0, ["+8613800138000", "+8613900139000"], index=0))
    written = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(row["name"], row["phone"]) for row in written] == [
        ("Li", "138 0013 8000"),
        ("Li2", "139 0013 9000"),
    ]
