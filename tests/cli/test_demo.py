"""``sms-async demo`` (``_demo.py``), end to end as a command."""

import subprocess
import sys


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
