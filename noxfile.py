"""Developer sessions: tests on every installed Python 3.11-3.13, lint, typecheck, docs."""

from __future__ import annotations

import shutil

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.error_on_missing_interpreters = False

PYTHONS = ["3.11", "3.12", "3.13"]


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
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks (not run by `tests` or CI): writes benchmarks/RESULTS.md."""
    session.install("-e", ".[server,fast,redis]", "aiohttp", "matplotlib", "httptools")
    session.run("python", "benchmarks/run.py", *session.posargs)
    if shutil.which("redis-server"):
        session.run("python", "benchmarks/redis_acquire.py")
    else:
        session.log("redis-server is not installed: the shared-acquire benchmark did not run")
