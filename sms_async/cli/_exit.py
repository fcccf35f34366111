"""The command's exit codes."""

#: A batch failed, the API refused a command, a task failed, or waiting timed out.
EXIT_FAILED = 1
#: Bad arguments, unreadable input, unwritable output, missing credentials (click's code).
EXIT_USAGE = 2
#: Ctrl-C (128 + SIGINT), as shells expect.
EXIT_INTERRUPTED = 130
