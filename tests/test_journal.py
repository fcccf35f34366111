"""Crash-safe imports (``_journal.py`` and ``members.add(journal=...)``), and ``members.lookup``."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sms_async import AsyncSmsClient, BulkAddAbortedError, ConfigurationError, ImportJournal
from sms_async.testing import FakeSmsServer

from .conftest import HTTP_BACKENDS
from .journal_worker import KEY, USER, members, phones, written

WORKER = Path(__file__).with_name("journal_worker.py")


# --- members.lookup -------------------------------------------------------------------


async def test_lookup_finds_exact_phones_among_fuzzy_neighbours() -> None:
    async with FakeSmsServer() as fake:
        target = fake.create_list(
            "lookup",
            members=[{"phone": p} for p in ("138001", "1380012", "13800123", "+86138001")],
        )
        async with fake.client() as client:
            found = await client.members.lookup(target.contact_list_id, ["138001", "99999"])
    assert list(found) == ["138001"]
    assert found["138001"].phone == "138001"
    assert found["138001"].member_id > 0


async def test_lookup_more_phones_than_a_page_and_absent_ones() -> None:
    stored = [f"+1555{i:07d}" for i in range(250)]
    async with FakeSmsServer() as fake:
        target = fake.create_list("many", members=[{"phone": p} for p in stored])
        async with fake.client(max_concurrency=4) as client:
            asked = [*stored, "+19990000000", "+19990000001"]
            found = await client.members.lookup(target.contact_list_id, asked)
        assert fake.stats.max_in_flight <= 4
    assert sorted(found) == sorted(stored)


# --- resume, in process ------------------------------------------------------------------


async def interrupted_upload(
    fake: FakeSmsServer,
    client: AsyncSmsClient,
    list_id: int,
    rows: list[dict[str, str]],
    path: Path,
    batches: int,
) -> None:
    """A journaled upload cancelled, as a crash would stop it, after *batches* reached the fake."""
    async with ImportJournal(path) as journal:
        upload = asyncio.ensure_future(
            client.members.add(list_id, rows, batch_size=100, journal=journal)
        )
        while len(fake.stats.member_batches) < batches:  # noqa: ASYNC110 - a kill point
            await asyncio.sleep(0.001)
        upload.cancel()  # some batches done, some in flight
        with pytest.raises(asyncio.CancelledError):
            await upload


async def test_an_interrupted_upload_resumes_exactly_once(tmp_path: Path) -> None:
    rows = members(3000)
    async with FakeSmsServer(allow_duplicate_phones=True) as fake:
        target = fake.create_list("resume")
        fake.set_faults(latency=0.002)
        async with fake.client() as client:
            await interrupted_upload(
                fake, client, target.contact_list_id, rows, tmp_path / "j.sqlite", 5
            )
            sent_before = fake.stats.requests["members.add"]
            async with ImportJournal(tmp_path / "j.sqlite") as journal:
                result = await client.members.add(
                    target.contact_list_id, rows, batch_size=100, journal=journal
                )
        stored = Counter(m.phone for m in fake.members("resume"))
    good = [r["phone"] for r in rows if not r["phone"].startswith("bad")]
    assert stored == Counter(good)  # every phone exactly once
    assert result.count == len(good)
    assert len(result.invalid) == len(rows) - len(good)
    assert result.failed == []
    assert sent_before >= 5


async def test_a_finished_journal_replays_without_sending(tmp_path: Path) -> None:
    rows = members(1000)
    async with FakeSmsServer() as fake:
        target = fake.create_list("done")
        async with fake.client() as client, ImportJournal(tmp_path / "j") as journal:
            first = await client.members.add(target.contact_list_id, rows, journal=journal)
            sent = fake.stats.requests["members.add"]
            again = await client.members.add(target.contact_list_id, rows, journal=journal)
        assert fake.stats.requests["members.add"] == sent
    assert (again.count, again.invalid, again.failed) == (first.count, first.invalid, [])


async def test_a_journal_of_another_list_or_input_is_refused_before_sending(
    tmp_path: Path,
) -> None:
    rows = members(1000)
    async with FakeSmsServer() as fake:
        one = fake.create_list("one")
        two = fake.create_list("two")
        async with fake.client() as client, ImportJournal(tmp_path / "j") as journal:
            await client.members.add(one.contact_list_id, rows[:500], journal=journal)
            sent = fake.stats.requests["members.add"]
            with pytest.raises(ConfigurationError, match="contact_list_id"):
                await client.members.add(two.contact_list_id, rows[:500], journal=journal)
            changed = [{"phone": "+19998887777"}, *rows[1:1000]]
            with pytest.raises(ConfigurationError, match="does not match this input"):
                await client.members.add(one.contact_list_id, changed, journal=journal)
            with pytest.raises(ConfigurationError, match="batch_size"):
                await client.members.add(one.contact_list_id, rows, batch_size=50, journal=journal)
        assert fake.stats.requests["members.add"] == sent  # nothing sent


# --- kill -9 at random points -------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[FakeSmsServer, str]]:
    fake = FakeSmsServer(USER, KEY, allow_duplicate_phones=True)
    with fake.serve_in_thread() as url:
        yield fake, url


def run_worker(
    url: str,
    list_id: int,
    journal: Path,
    count: int,
    kill_after: float | None,
    http_backend: str = "httpx",
    region: str | None = None,
) -> str:
    args = [url, str(list_id), str(journal), str(count), http_backend]
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), *args, *([region] if region else [])],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        if kill_after is not None:
            try:
                proc.wait(kill_after)
            except subprocess.TimeoutExpired:
                proc.kill()  # SIGKILL: no cleanup of any kind
                proc.wait(10)
                return ""
        out, _ = proc.communicate(timeout=120)
        return out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", range(10))
def test_killed_uploads_resume_to_every_phone_stored_exactly_once(
    served: tuple[FakeSmsServer, str], tmp_path: Path, seed: int
) -> None:
    fake, url = served
    fake.reset()
    rng = random.Random(seed)
    count = 12_000
    target = fake.create_list(f"kill{seed}")
    fake.set_faults(
        latency=0.002, rate_429=0.01, retry_after=0.0, rate_503=0.02, rate_drop=0.01,
        rate_drop_after=0.01,
    )  # fmt: skip
    journal = tmp_path / "import.journal"
    backend = HTTP_BACKENDS[seed % len(HTTP_BACKENDS)]  # the seeds alternate the backends
    # seeds 2, 3, 6, 7: phones as people write them, default_region="CN" and dedupe=True
    region = "CN" if seed % 4 >= 2 else None
    killed = 0
    for _ in range(rng.randint(1, 3)):  # killed at random points, one to three times
        kill_after = rng.uniform(0.02, 0.4)
        out = run_worker(url, target.contact_list_id, journal, count, kill_after, backend, region)
        killed += out == ""
    assert killed  # at least one kill landed in the middle of the upload
    result: dict[str, list[object]] = {"failed": [None]}
    runs = 0
    while result["failed"]:  # resume until no batch is left failed (drops fail some)
        runs += 1
        assert runs <= 20
        result = json.loads(
            run_worker(url, target.contact_list_id, journal, count, None, backend, region)
        )
    fake.clear_faults()
    stored = Counter(m.phone for m in fake.members(f"kill{seed}"))
    rows = members(count) if region is None else written(count)
    good = [
        phone
        for phone, row in zip(phones(count), rows, strict=True)
        # not sent: a bad phone, or (with dedupe) a repeat of the row before
        if not row["phone"].startswith(("bad", "0086 "))
    ]
    assert region is None or len(good) < count - count // 97 - 1  # repeats were refused
    assert set(phones(count)) >= set(good)
    assert stored == Counter(good), "a phone stored twice, or not at all"
    assert result["count"] == len(good)
    assert len(result["invalid"]) == count - len(good)


def run_cli(
    env: dict[str, str], args: list[str], kill_after: float | None, log: Path
) -> int | None:
    """Run the command; None when it was killed with SIGKILL first."""
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sms_async.cli", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            proc.wait(kill_after if kill_after is not None else 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            if kill_after is None:
                raise
            return None
    return proc.returncode


@pytest.mark.timeout(600)
@pytest.mark.parametrize("seed", range(10))
def test_a_killed_cli_import_resumes_with_a_complete_rejects_file(
    served: tuple[FakeSmsServer, str], tmp_path: Path, seed: int
) -> None:
    fake, url = served
    fake.reset()
    rng = random.Random(1000 + seed)
    count = 8000
    target = fake.create_list(f"cli{seed}")
    fake.set_faults(latency=0.002, rate_503=0.02, rate_drop=0.01, rate_drop_after=0.02)
    rows = members(count)
    source = tmp_path / "contacts.csv"
    source.write_text(
        "phone,name\n" + "".join(f"{r['phone']},{r.get('name', '')}\n" for r in rows), "utf-8"
    )
    rejects = tmp_path / "rejects.csv"
    env = {
        **os.environ,
        "SMS_ASYNC_USER": USER,
        "SMS_ASYNC_KEY": KEY,
        "SMS_ASYNC_BASE_URL": url,
        "SMS_ASYNC_TASK_BASE_URL": url,
    }
    args = [
        "members", "import", str(target.contact_list_id), str(source),
        "--journal", str(tmp_path / "import.journal"), "--rejects", str(rejects),
        "--batch-size", "100", "--concurrency", "4",
    ]  # fmt: skip
    killed = 0
    for _ in range(rng.randint(1, 3)):
        killed += run_cli(env, args, rng.uniform(0.5, 1.5), tmp_path / "log") is None
    code: int | None = 1
    runs = 0
    while code != 0:  # resume until nothing is left failed (dropped batches fail)
        runs += 1
        assert runs <= 20, (tmp_path / "log").read_text("utf-8", "replace")[-2000:]
        code = run_cli(env, args, None, tmp_path / "log")
    fake.clear_faults()
    stored = Counter(m.phone for m in fake.members(f"cli{seed}"))
    good = [r["phone"] for r in rows if not str(r["phone"]).startswith("bad")]
    assert stored == Counter(good), "a phone stored twice, or not at all"
    with rejects.open(encoding="utf-8") as handle:
        rejected = [row["phone"] for row in csv.DictReader(handle)]
    bad = [r["phone"] for r in rows if str(r["phone"]).startswith("bad")]
    assert sorted(rejected) == sorted(bad)  # each rejected row once
    assert sum(stored.values()) + len(rejected) == count


async def test_in_doubt_batches_that_cannot_be_checked_stay_maybe_stored(tmp_path: Path) -> None:
    rows = members(2000)
    async with FakeSmsServer(allow_duplicate_phones=True) as fake:
        target = fake.create_list("unchecked")
        fake.set_faults(latency=0.002)
        async with fake.client() as client:
            await interrupted_upload(fake, client, target.contact_list_id, rows, tmp_path / "j", 3)
            # The list cannot be read (503, not retried): the batches in doubt stay in doubt.
            fake.set_faults("members.list", rate_503=1.0)
            async with ImportJournal(tmp_path / "j") as journal:
                result = await client.members.add(
                    target.contact_list_id,
                    rows,
                    batch_size=100,
                    journal=journal,
                    raise_on_error=False,
                )
                assert result.failed
                assert all(batch.maybe_stored for batch in result.failed)
                entries = [e for e in await journal.entries() if e.state == "failed"]
                assert entries
                assert all(entry.maybe_stored for entry in entries)


async def test_a_path_that_is_not_a_journal_is_a_configuration_error(tmp_path: Path) -> None:
    bad = tmp_path / "not-sqlite"
    bad.write_text("this is not a database\n" * 100)
    with pytest.raises(ConfigurationError, match=r"cannot use .* as an import journal"):
        async with ImportJournal(bad):
            pass


async def test_an_input_that_raises_leaves_a_journal_that_resumes(tmp_path: Path) -> None:
    rows = members(450)

    def broken() -> Iterator[dict[str, str]]:
        yield from rows[:250]  # two whole batches and half of the third
        raise OSError("the file went away")

    async with FakeSmsServer(allow_duplicate_phones=True) as fake:
        target = fake.create_list("broken")
        async with fake.client() as client, ImportJournal(tmp_path / "j") as journal:
            with pytest.raises(BulkAddAbortedError) as caught:
                await client.members.add(
                    target.contact_list_id, broken(), batch_size=100, journal=journal
                )
            first = caught.value.result
            read = first.count + len(first.invalid) + len(first.failed_members)
            assert read == 250  # every member read is accounted for
            assert [b.maybe_stored for b in first.failed] == [False]  # the half batch: unsent
            again = await client.members.add(
                target.contact_list_id, rows, batch_size=100, journal=journal
            )
        stored = Counter(m.phone for m in fake.members("broken"))
    good = [r["phone"] for r in rows if not r["phone"].startswith("bad")]
    assert stored == Counter(good)
    assert again.count == len(good)


async def test_a_failed_lookup_leaves_no_request_running() -> None:
    async with FakeSmsServer() as fake:
        target = fake.create_list("looked", members=[{"phone": f"+1555{i:07d}"} for i in range(40)])
        fake.set_faults("members.list", rate_503=1.0)
        before = len(asyncio.all_tasks())
        async with fake.client(max_retries=0) as client:
            from sms_async import ServerError

            with pytest.raises(ServerError):
                await client.members.lookup(
                    target.contact_list_id, [f"+1555{i:07d}" for i in range(40)]
                )
            assert len(asyncio.all_tasks()) <= before
