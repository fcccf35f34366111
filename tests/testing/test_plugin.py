"""The pytest plugin: the ``sms_fake`` fixture arrives through the pytest11 entry point."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from sms_async import NewMember
from sms_async.testing import FakeSmsServer


def test_the_plugin_is_registered_as_an_entry_point() -> None:
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "sms_async"]
    assert [ep.value for ep in found] == ["sms_async.testing.pytest_plugin"]


def test_pytest_loaded_the_plugin(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("sms_async")
    assert plugin is not None
    assert plugin.__name__ == "sms_async.testing.pytest_plugin"


async def test_sms_fake_gives_a_ready_fake(sms_fake: FakeSmsServer) -> None:
    assert isinstance(sms_fake, FakeSmsServer)
    assert (sms_fake.sms_user, sms_fake.sms_key) == ("test-user", "test-key")
    async with sms_fake.client() as client:
        created = await client.contact_lists.create(contact_list_name="fixture")
        await client.members.add(created.contact_list_id, [NewMember("+8613800000000")])
    assert sms_fake.get_list("fixture").phones == ["+8613800000000"]
    assert sms_fake.stats.requests == {"contact_lists.create": 1, "members.add": 1}


async def test_each_test_gets_a_fresh_fake(sms_fake: FakeSmsServer) -> None:
    assert sms_fake.contact_lists == []
    assert sms_fake.stats.total_requests == 0


@pytest.mark.sms_fake(sms_user="alice", sms_key="k", quirks=False, seed=5)
async def test_the_marker_configures_the_fake(sms_fake: FakeSmsServer) -> None:
    assert (sms_fake.sms_user, sms_fake.sms_key) == ("alice", "k")
    assert sms_fake.options.quirks is False
    assert sms_fake.options.seed == 5


def docs_example() -> str:
    """The complete example of docs/testing.md, as its readers would copy it."""
    page = (Path(__file__).parents[2] / "docs" / "testing.md").read_text()
    section = page.split("## A complete pytest example", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_fixture_in_a_fresh_pytest_process(tmp_path: Path) -> None:
    """A new pytest run, outside this project, finds sms_fake; the docs' example passes."""
    (tmp_path / "test_user_code.py").write_text(
        textwrap.dedent(
            """
            import httpx
            import pytest

            held = []

            def test_sync(sms_fake):
                held.append(sms_fake)
                sms_fake.create_list("x")
                assert sms_fake.get_list("x").member_count == 0

            async def test_closed_after_its_test():
                with pytest.raises(httpx.ConnectError):
                    await held[0].transport.handle_async_request(
                        httpx.Request("GET", "http://x/v1/contact_lists")
                    )

            @pytest.mark.sms_fake("positional")
            def test_bad_marker(sms_fake):
                pass
            """
        )
    )
    (tmp_path / "test_docs_example.py").write_text(docs_example())
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\naddopts = --strict-markers\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_user_code.py",
            "test_docs_example.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "6 passed, 1 error" in run.stdout, run.stdout + run.stderr
    assert "keyword arguments only" in run.stdout
