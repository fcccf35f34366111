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
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("phonenumbers")
pytest.importorskip("aiohttp")
pytest.importorskip("redis")

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from _report import SPECS  # noqa: E402  # benchmarks/ is on sys.path only from here


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


@pytest.mark.timeout(400)
def test_every_benchmark_runs_and_measures_every_figure(tmp_path: Path) -> None:
    # run.py --smoke: every benchmark once, small (about a minute on 2 cores). A
    # benchmark that raises gives "not measured" rows instead of failing the run:
    # here that fails, with the reason.
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI: .ci/run installs it")
        pytest.skip("redis-server is not installed here (apt-get install redis-server)")
    raw = tmp_path / "raw.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--smoke", "--no-write", "--save-raw", raw],
        capture_output=True,
        text=True,
        timeout=390,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (one_pass,) = json.loads(raw.read_text(encoding="utf-8"))["passes"]
    figures = one_pass["figures"]
    not_measured = {
        key: figures.get(key, {"why": "no figure"}).get("why")
        for key in (spec.key for spec in SPECS)
        if figures.get(key, {}).get("kind") not in ("measured", "check")
    }
    assert not_measured == {}
    checks = {key: figure for key, figure in figures.items() if figure["kind"] == "check"}
    assert all(figure["ok"] for figure in checks.values()), checks
    assert "not measured" not in done.stdout
