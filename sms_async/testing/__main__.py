"""``python -m sms_async.testing``: serve the fake on a loopback port until stopped.

Example::

    python -m sms_async.testing --host 127.0.0.1 --port 8080 --user U --key K
    curl -u U:K http://127.0.0.1:8080/v1/contact_lists

Needs the ``server`` extra (``pip install 'sms-async[server]'``). The first
line on stdout is ``sms_async.testing: serving on http://HOST:PORT`` (the real
port when ``--port 0``), printed once the socket listens.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from ._clock import FakeClock
from ._faults import FaultConfig
from ._loopback import READY_PREFIX, base_url_of, bind_socket, load_uvicorn, uvicorn_config
from ._options import FakeOptions
from ._server import FakeSmsServer

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the command line's parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sms_async.testing",
        description="Serve a fake of the SMS contact-list API and task API over HTTP.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (8080)")
    parser.add_argument("--user", default="test-user", help="the account's smsUser (test-user)")
    parser.add_argument("--key", default="test-key", help="the account's key (test-key)")
    parser.add_argument("--seed", default="0", help="seed of the injected faults (0)")
    faults = parser.add_argument_group("faults, for every route")
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added to requests")
    faults.add_argument(
        "--latency-jitter", type=float, default=0.0, help="up to this many seconds more"
    )
    faults.add_argument("--rate-429", type=float, default=0.0, help="share answered 429")
    faults.add_argument(
        "--retry-after", type=float, default=1.0, help="Retry-After seconds of a 429 (1)"
    )
    faults.add_argument(
        "--no-retry-after", action="store_true", help="send 429 without Retry-After"
    )
    faults.add_argument("--rate-503", type=float, default=0.0, help="share answered 503 (HTML)")
    faults.add_argument(
        "--rate-drop", type=float, default=0.0, help="share dropped before processing"
    )
    faults.add_argument(
        "--rate-drop-after",
        type=float,
        default=0.0,
        help="share processed, then dropped before the response",
    )
    tasks = parser.add_argument_group("tasks (on the wall clock)")
    tasks.add_argument(
        "--task-delay", type=float, default=1.0, help="seconds from send to running (1)"
    )
    tasks.add_argument("--task-duration", type=float, default=2.0, help="seconds running (2)")
    tasks.add_argument(
        "--clean", action="store_true", help="answer without the seed's quirks (clean JSON)"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        uvicorn = load_uvicorn()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        faults = FaultConfig(
            latency=args.latency,
            latency_jitter=args.latency_jitter,
            rate_429=args.rate_429,
            retry_after=None if args.no_retry_after else args.retry_after,
            rate_503=args.rate_503,
            rate_drop=args.rate_drop,
            rate_drop_after=args.rate_drop_after,
        )
        options = FakeOptions(
            args.user,
            args.key,
            seed=int(args.seed) if args.seed.lstrip("-").isdigit() else args.seed,
            clock=FakeClock(realtime=True),
            quirks=not args.clean,
            task_start_delay=args.task_delay,
            task_duration=args.task_duration,
        )
    except ValueError as exc:
        parser.error(str(exc))
    fake = FakeSmsServer(options=options)
    fake.set_faults(**{field: getattr(faults, field) for field in _FIELDS})
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    config = uvicorn_config(
        uvicorn,
        fake.asgi_app,
        {
            "log_config": uvicorn.config.LOGGING_CONFIG,
            "log_level": "info" if args.access_log else "warning",
            "access_log": args.access_log,
        },
    )
    print(f"{READY_PREFIX}{base_url_of(sock)}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])
    sock.close()
    return 0


_FIELDS = (
    "latency",
    "latency_jitter",
    "rate_429",
    "retry_after",
    "rate_503",
    "rate_drop",
    "rate_drop_after",
)


if __name__ == "__main__":
    sys.exit(main())
