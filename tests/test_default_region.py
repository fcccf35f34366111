"""``AsyncSmsClient(default_region=...)`` and ``members.add(dedupe=True)``, against the fake."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sms_async import (
    AddProgress,
    AsyncSmsClient,
    BulkAddAbortedError,
    ConfigurationError,
    ImportJournal,
    NewMember,
    ValidationError,
)
from sms_async.testing import FakeSmsServer

pytest.importorskip("phonenumbers")


def full_width(text: str) -> str:
    """*text* with its digits written full-width (as East Asian input methods type them)."""
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in text)


# (as written, as sent with "CN"; None: refused)
CN_ROWS = [
    ("138 0013 8000", "+8613800138000"),
    ("+86 (138) 0013-8001", "+8613800138001"),
    ("0086 13800138002", "+8613800138002"),
    ("+8613800138003", "+8613800138003"),
    ("010 1234 5678", "+861012345678"),
    ("138", None),
    ("call me", None),
    ("", None),
    (full_width("+86 138 0013 8004"), "+8613800138004"),
    ("+14155552671", "+14155552671"),  # already international: kept
]


async def upload(
    rows: list[Any], *, region: str | None = "CN", **options: Any
) -> tuple[Any, list[str]]:
    """Upload *rows* to a new list of a fake; the result and the phones the fake stored."""
    async with FakeSmsServer() as fake:
        target = fake.create_list("phones")
        async with fake.client(default_region=region) as client:
            result = await client.members.add(target.contact_list_id, rows, **options)
        return result, [member.phone for member in fake.members("phones")]


async def test_an_upload_sends_every_phone_in_e164_and_refuses_the_rest_as_written() -> None:
    rows = [{"phone": written, "name": f"n{i}"} for i, (written, _) in enumerate(CN_ROWS)]
    result, stored = await upload(rows)
    assert stored == [sent for _, sent in CN_ROWS if sent is not None]
    assert sorted(result.invalid) == sorted(written for written, sent in CN_ROWS if sent is None)
    assert result.count == len(stored)
    assert result.failed == []


async def test_new_members_and_dicts_are_normalized_alike_and_never_changed() -> None:
    dicts = [{"phone": "138 0013 8000", "vars": {"a": "1"}}]
    news = [NewMember("+86 138-0013-8001", name="x")]
    result, stored = await upload([*dicts, *news])
    assert stored == ["+8613800138000", "+8613800138001"]
    assert dicts == [{"phone": "138 0013 8000", "vars": {"a": "1"}}]
    assert news == [NewMember("+86 138-0013-8001", name="x")]
    assert result.count == 2


async def test_a_member_refused_for_its_vars_is_recorded_with_its_phone_as_written() -> None:
    rows = [{"phone": "138 0013 8000", "vars": {"%bad": "x"}}, {"phone": "13800138001"}]
    result, stored = await upload(rows)
    assert stored == ["+8613800138001"]
    assert result.invalid == ["138 0013 8000"]


async def test_without_a_region_phones_are_sent_exactly_as_today() -> None:
    rows = [{"phone": written} for written, _ in CN_ROWS]
    result, stored = await upload(rows, region=None)
    assert stored == ["+8613800138003", "138", "+14155552671"]
    assert len(result.invalid) == len(rows) - 3


async def test_batches_stay_full_when_members_are_refused() -> None:
    rows = [
        {"phone": "not a phone" if i % 3 == 0 else f"138 {i // 10000:04d} {i % 10000:04d}"}
        for i in range(2500)
    ]
    sizes: list[int] = []

    def record(progress: AddProgress) -> None:
        if progress.batch is not None:
            sizes.append(len(progress.batch.members))

    result, stored = await upload(rows, batch_size=500, on_progress=record)
    refused = sum(1 for row in rows if row["phone"] == "not a phone")
    assert result.count == len(stored) == len(rows) - refused
    assert len(result.invalid) == refused
    assert sizes[:-1] == [500] * (len(sizes) - 1)  # refused members are replaced by reading on
    assert all(phone.startswith("+86138") for phone in stored)


async def test_an_input_that_raises_still_normalizes_what_it_gave() -> None:
    def rows() -> Iterator[dict[str, str]]:
        yield {"phone": "138 0013 8000"}
        yield {"phone": "nope"}
        raise RuntimeError("the file broke")

    with pytest.raises(BulkAddAbortedError) as caught:
        await upload(rows())
    assert caught.value.result.count == 1
    assert caught.value.result.invalid == ["nope"]


async def test_an_async_input_is_normalized_too() -> None:
    async def rows() -> AsyncIterator[dict[str, str]]:
        for written, _ in CN_ROWS:
            yield {"phone": written}

    _, stored = await upload(rows())
    assert stored == [sent for _, sent in CN_ROWS if sent is not None]


# --- dedupe --------------------------------------------------------------------------------


async def test_dedupe_refuses_a_phone_an_earlier_row_had_once_normalized() -> None:
    rows = [
        {"phone": "138 0013 8000", "name": "first"},
        {"phone": "+86 138-0013-8000", "name": "again"},
        {"phone": "0086 13800138000", "name": "and again"},
        {"phone": "13800138001"},
    ]
    result, stored = await upload(rows, dedupe=True)
    assert stored == ["+8613800138000", "+8613800138001"]
    assert result.invalid == ["+86 138-0013-8000", "0086 13800138000"]


async def test_dedupe_without_a_region_compares_phones_as_written() -> None:
    rows = [{"phone": p} for p in ("+123", "123", "0123", "123", "+123", "123")]
    result, stored = await upload(rows, region=None, dedupe=True)
    assert stored == ["+123", "123", "0123"]
    assert result.invalid == ["123", "+123", "123"]


async def test_dedupe_spans_batches_and_a_refused_row_does_not_count_as_seen() -> None:
    rows = [{"phone": f"138{i % 700:08d}"} for i in range(2100)]
    rows.insert(0, {"phone": "13800000001", "vars": {"%": "refused, so not seen"}})
    result, stored = await upload(rows, batch_size=100, dedupe=True)
    assert sorted(stored) == sorted(f"+86138{i:08d}" for i in range(700))
    assert len(result.invalid) == 1 + 1400


async def test_phones_too_long_for_an_integer_are_deduped_as_text() -> None:
    long = "1" * 5000
    rows = [{"phone": long}, {"phone": long}, {"phone": long + "2"}]
    async with FakeSmsServer() as fake:
        target = fake.create_list("long")
        async with fake.client() as client:
            result = await client.members.add(target.contact_list_id, rows, dedupe=True)
    assert result.invalid == [long]
    assert result.count == 2


# --- the accounting invariant ----------------------------------------------------------------

written_phone = st.one_of(
    st.sampled_from([written for written, _ in CN_ROWS]),
    st.builds(lambda n: f"138 {n // 10000:04d} {n % 10000:04d}", st.integers(0, 40)),
    st.builds(lambda n: f"+86138{n:08d}", st.integers(0, 40)),
    st.text(alphabet="0123456789 +-()x", max_size=16),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    phones=st.lists(written_phone, max_size=60),
    dedupe=st.booleans(),
    batch_size=st.integers(1, 25),
)
def test_every_member_is_added_or_invalid_exactly_once(
    phones: list[str], dedupe: bool, batch_size: int
) -> None:
    from sms_async._phones import PhoneNormalizer

    normalizer = PhoneNormalizer("CN")
    rows = [{"phone": phone} for phone in phones]
    result, stored = asyncio.run(
        upload(rows, dedupe=dedupe, batch_size=batch_size, raise_on_error=False)
    )
    assert result.failed == []
    assert result.count + len(result.invalid) == len(rows)
    expected_stored: list[str] = []
    expected_invalid: list[str] = []
    for phone in phones:
        sent, _ = normalizer.normalize(phone)
        if sent is None or (dedupe and sent in expected_stored):
            expected_invalid.append(phone)
        else:
            expected_stored.append(sent)
    # the fake refuses a phone already in the list (as the API does): count it invalid too
    first_time = list(dict.fromkeys(expected_stored))
    assert stored == first_time
    assert Counter(result.invalid) == Counter(expected_invalid) + (
        Counter(expected_stored) - Counter(first_time)
    )


# --- single calls -----------------------------------------------------------------------------


async def test_update_lookup_and_the_list_filter_send_e164() -> None:
    async with FakeSmsServer() as fake:
        target = fake.create_list("one", members=[{"phone": "+8613800138000"}])
        list_id = target.contact_list_id
        member_id = fake.members("one")[0].member_id
        async with fake.client(default_region="cn") as client:
            assert client.default_region == "CN"
            found = await client.members.lookup(list_id, ["138 0013 8000", "13800138000"])
            assert {k: v.member_id for k, v in found.items()} == {
                "138 0013 8000": member_id,
                "13800138000": member_id,
            }
            listed = [m async for m in client.members.list(list_id, phone="(138) 0013-8000")]
            assert [m.member_id for m in listed] == [member_id]
            assert await client.members.update(list_id, member_id, phone="0086 139 0013 9000")
        assert fake.members("one")[0].phone == "+8613900139000"


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ("update", "too short"),
        ("lookup", "too short"),
        ("list", "too short"),
        ("update-letters", "holds characters that are not part of a phone number"),
    ],
)
async def test_a_refused_phone_in_a_single_call_is_a_validation_error_with_the_reason(
    call: str, reason: str
) -> None:
    async with FakeSmsServer() as fake:
        target = fake.create_list("one")
        list_id = target.contact_list_id
        async with fake.client(default_region="CN") as client:
            calls = {
                "update": lambda: client.members.update(list_id, 1, phone="138"),
                "update-letters": lambda: client.members.update(list_id, 1, phone="call me"),
                "lookup": lambda: client.members.lookup(list_id, ["13800138000", "138"]),
                "list": lambda: anext(aiter(client.members.list(list_id, phone="138"))),
            }
            with pytest.raises(ValidationError, match=f"default_region CN.*{reason}"):
                await calls[call]()
        assert sum(fake.stats.requests.values()) == 0  # refused before any request


async def test_with_options_keeps_the_region() -> None:
    async with FakeSmsServer() as fake:
        target = fake.create_list("one")
        async with fake.client(default_region="GB") as client:
            derived = client.with_options(max_retries=0)
            assert derived.default_region == "GB"
            result = await derived.members.add(target.contact_list_id, [{"phone": "020 7946 0958"}])
        assert result.count == 1
        assert [m.phone for m in fake.members("one")] == ["+442079460958"]


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["XX", "China", "", 86])
def test_a_region_libphonenumber_does_not_know_is_a_configuration_error(region: object) -> None:
    with pytest.raises(ConfigurationError, match="ISO 3166"):
        AsyncSmsClient("u", "k", default_region=region)  # type: ignore[arg-type]  # on purpose


def test_without_the_extra_default_region_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "phonenumbers", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'sms-async\[phones\]'"):
        AsyncSmsClient("u", "k", default_region="CN")


def test_phonenumbers_is_imported_only_for_a_client_with_a_region(tmp_path: Path) -> None:
    code = (
        "import sys, asyncio\n"
        "from sms_async import AsyncSmsClient\n"
        "async def main():\n"
        "    async with AsyncSmsClient('u', 'k') as client:\n"
        "        client.members\n"
        "    assert 'phonenumbers' not in sys.modules, 'imported without a region'\n"
        "    AsyncSmsClient('u', 'k', default_region='CN')\n"
        "    assert 'phonenumbers' in sys.modules\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr


async def test_a_journal_resumes_with_the_same_region_and_refuses_another(tmp_path: Path) -> None:
    rows = [{"phone": f"138 {i // 10000:04d} {i % 10000:04d}"} for i in range(300)]
    journal_path = tmp_path / "j.sqlite"
    async with FakeSmsServer() as fake:
        target = fake.create_list("resume")
        list_id = target.contact_list_id
        async with fake.client(default_region="CN") as client:
            async with ImportJournal(journal_path) as journal:
                first = await client.members.add(list_id, rows, batch_size=100, journal=journal)
            sent = fake.stats.requests["members.add"]
            async with ImportJournal(journal_path) as journal:
                again = await client.members.add(list_id, rows, batch_size=100, journal=journal)
            assert fake.stats.requests["members.add"] == sent  # replayed, not sent
            assert again.count == first.count == 300
        async with (
            fake.client(default_region="US") as client,
            ImportJournal(journal_path) as journal,
        ):
            with pytest.raises(ConfigurationError, match="does not match this input"):
                await client.members.add(list_id, rows, batch_size=100, journal=journal)


@pytest.mark.parametrize("dedupe", ["no", 1, None])
async def test_dedupe_must_be_a_bool(dedupe: object) -> None:
    async with FakeSmsServer() as fake:
        target = fake.create_list("x")
        async with fake.client() as client:
            with pytest.raises(ValidationError, match="dedupe must be True or False"):
                await client.members.add(target.contact_list_id, [], dedupe=dedupe)  # type: ignore[arg-type]  # on purpose


async def test_a_list_already_in_e164_is_sent_as_read_without_a_member_dict() -> None:
    rows = [{"phone": f"+86138{i:08d}", "name": f"n{i}"} for i in range(1200)]
    # the chunk's JSON is sent as it is: turning it into dicts would be wasted work
    with mock.patch("sms_async._bulk.loads", side_effect=AssertionError("read into dicts")):
        result, stored = await upload(rows, batch_size=500)
    assert result.count == 1200
    assert stored == [row["phone"] for row in rows]


async def test_a_list_written_nationally_is_normalized_chunk_by_chunk() -> None:
    rows = [{"phone": f"138 0000 {i:04d}", "vars": {"i": i}} for i in range(600)]
    rows[10] = {"phone": "138"}  # too short: refused, and the batch refilled
    result, stored = await upload(rows, batch_size=250, dedupe=True)
    assert result.invalid == ["138"]
    assert stored == [f"+861380000{i:04d}" for i in range(600) if i != 10]
    assert rows[0] == {"phone": "138 0000 0000", "vars": {"i": 0}}  # the caller's, unchanged
