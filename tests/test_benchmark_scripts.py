"""The benchmark scripts still run and report every figure (tiny sizes, not timed).

Some drive the SDK's internals (``benchmarks/phones.py`` drives
``PhoneRules.refine`` directly) or its private names: a change to those must
not leave a benchmark broken until the next ``nox -s bench`` (it did once, when
batches became ``Batch``, and the full run reported "not measured").
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("phonenumbers")

from .conftest import require_redis_server

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.timeout(120)
def test_the_phones_benchmark_runs_and_reports_every_figure() -> None:
    tiny = ["--rounds", "1", "--numbers", "1000", "--national", "50"]
    tiny += ["--million", "1000", "--dedupe-rounds", "1", "--json"]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "phones.py"), *tiny],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])["rows"]
    keys = {row["key"] for row in rows}
    assert {"phones_e164", "phones_refine", "phones_refine_dedupe", "phones_dedupe_mb"} <= keys
    assert all(row["median"] > 0 for row in rows)


@pytest.mark.timeout(420)
def test_every_benchmark_runs_and_measures_every_figure(tmp_path: Path) -> None:
    # run.py --smoke: every benchmark once, small (about a minute on 2 cores). A
    # benchmark that raises or stalls gives "not measured" rows (with the reason)
    # instead of failing the run: here any such row fails the test.
    pytest.importorskip("aiohttp")
    pytest.importorskip("redis")
    require_redis_server()
    raw = tmp_path / "raw.json"
    args = ["--smoke", "--no-write", "--save-raw", raw]
    args += ["--redis-timeout", "120", "--import-timeout", "120"]  # a stall: a row says so
    # A session of its own: on a timeout, the pass it runs and every server and
    # worker under it are killed too, not left to load the rest of the suite.
    run = subprocess.Popen(
        [sys.executable, str(BENCHMARKS / "run.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = run.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        stdout, stderr = run.communicate()
        pytest.fail(f"run.py --smoke took over 400 s; its log ends:\n{stderr[-3000:]}")
    assert run.returncode == 0, stderr[-3000:]
    (one_pass,) = json.loads(raw.read_text(encoding="utf-8"))["passes"]
    figures = one_pass["figures"]
    report = stdout.splitlines()
    if shutil.which("redis-benchmark") is None:  # Debian's redis-tools; redis-server needs it
        figures.pop("redis_c_round_trip", None)
        report = [line for line in report if "redis-benchmark" not in line]
    not_measured = {
        key: figure.get("why") for key, figure in figures.items() if figure["kind"] == "missing"
    }
    assert not_measured == {}
    checks = {key: figure for key, figure in figures.items() if figure["kind"] == "check"}
    assert all(figure["ok"] for figure in checks.values()), checks
    # Every figure of the report was measured (a figure no benchmark gave reads so).
    assert [line for line in report if "not measured" in line] == []
