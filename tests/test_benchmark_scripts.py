"""The benchmark scripts that use the SDK's internals still run (tiny sizes, not timed).

``benchmarks/phones.py`` drives ``PhoneRules.refine`` and the E.164 shortcut
directly: a change to those internals must not leave the benchmark broken
until the next ``nox -s bench`` (it did once, when batches became ``Batch``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("phonenumbers")

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
