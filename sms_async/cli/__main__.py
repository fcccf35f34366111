"""``python -m sms_async.cli``: the same as the ``sms-async`` command."""

from ._app import main

main()
