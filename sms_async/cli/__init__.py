"""The ``sms-async`` command line (needs the ``cli`` extra: click, rich, uvicorn)."""

from ._app import cli, main

__all__ = ["cli", "main"]
