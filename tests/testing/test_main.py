"""``python -m sms_async.testing``: its options, and the errors it reports."""

from __future__ import annotations

import socket

import pytest

from sms_async.testing import __main__ as cli


def test_cli_help_and_bad_values(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "--rate-drop-after" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        cli.main(["--rate-429", "2"])
    assert exc.value.code == 2
    assert "rate_429" in capsys.readouterr().err


def test_cli_without_uvicorn_says_which_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> None:
        raise ImportError("the loopback fake server needs uvicorn: pip install 'sms-async[server]'")

    monkeypatch.setattr(cli, "load_uvicorn", missing)
    assert cli.main(["--port", "0"]) == 2
    assert "sms-async[server]" in capsys.readouterr().err


def test_cli_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["--port", str(port)]) == 1
    assert "cannot listen" in capsys.readouterr().err
