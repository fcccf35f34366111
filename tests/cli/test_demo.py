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
    assert "'0086 137 0013 7000'     -> +8613700137000" in done.stdout
    assert "'138'                    -> refused (in result.invalid)" in done.stdout


def test_without_the_phones_extra_the_demo_says_how_to_see_normalization() -> None:
    code = (
        "import sys\n"
        "sys.modules['phonenumbers'] = None  # as if sms-async[phones] were not installed\n"
        "sys.argv = ['sms-async', 'demo', '--members', '10']\n"
        "from sms_async.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'sms-async[phones]' to see them" in done.stdout
    assert "->" not in done.stdout
