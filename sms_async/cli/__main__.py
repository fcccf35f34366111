"""``python -m sms_async.cli``: the same as the ``sms-async`` command."""

from . import main

main()
