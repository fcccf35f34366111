"""The ``sms-async`` command line (needs the ``cli`` extra: click, rich, uvicorn)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["cli", "main"]


def main() -> None:
    """Entry point of the ``sms-async`` command."""
    try:
        from ._app import main as run
    except ModuleNotFoundError as exc:
        print(
            f"error: the sms-async command needs {exc.name}: pip install 'sms-async[cli]'",
            file=sys.stderr,
        )
        sys.exit(2)
    run()


def __getattr__(name: str) -> Any:
    if name == "cli":
        from ._app import cli

        return cli
    raise AttributeError(name)
