"""Developer sessions: tests on every installed Python 3.11-3.13, lint, typecheck, docs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.error_on_missing_interpreters = False

PYTHONS = ["3.11", "3.12", "3.13"]

# Interpreters installed with pyenv but not selected in the shell are still found.
_PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
if _PYENV.is_dir():
    _bins = [str(path / "bin") for path in sorted(_PYENV.glob("3.1[1-3]*")) if path.is_dir()]
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), *_bins])


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[lint]")
    session.run("mypy", "--strict", "sms_async")


@nox.session
def docs(session: nox.Session) -> None:
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", "--site-dir", session.create_tmp() + "/site")


@nox.session
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel, check their metadata and what they hold."""
    session.install("build", "twine")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist))
    session.run("twine", "check", "--strict", *map(str, sorted(dist.iterdir())))
    session.run("python", "tests/check_dist.py", str(dist))


@nox.session
def soak(session: nox.Session) -> None:
    """The chaos tests scaled up (several minutes; not run by CI).

    100 000 random cancellations of uploads and listings, and 1 000 random
    interleavings (with cancellations) of requests sharing a Redis concurrency
    cap (needs redis-server). `nox -s soak -- CANCELS SEEDS` sets both.
    """
    session.install("-e", ".[test]")
    cancels = session.posargs[0] if session.posargs else "100000"
    seeds = session.posargs[1] if len(session.posargs) > 1 else "1000"
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_chaos.py",
        "tests/contrib/test_redis_waiting.py::"
        "test_no_wake_up_is_lost_and_the_cap_holds_under_random_interleavings",
        env={"SMS_ASYNC_CHAOS_CANCELS": cancels, "SMS_ASYNC_REDIS_RACE_SEEDS": seeds},
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks (not run by `tests` or CI), two independent passes.

    Writes benchmarks/RESULTS.md, benchmarks/results.png and the results of
    docs/benchmarks.md. Arguments go to benchmarks/run.py: `nox -s bench -- --smoke
    --output /tmp/bench` proves it runs in about a minute, `-- --only upload` runs a
    subset. The Redis figures need redis-server on the PATH; without it their rows
    say "not measured".
    """
    session.install("-e", ".[server,fast,redis,cli,aiohttp,phones]", "matplotlib", "httptools")
    if not shutil.which("redis-server"):
        session.warn("redis-server is not installed: the Redis figures will not be measured")
    session.run("python", "benchmarks/run.py", *session.posargs)
