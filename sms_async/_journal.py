"""``ImportJournal``: a durable record of one import, so that a killed upload resumes exactly once.

The journal is a SQLite database (the standard library's ``sqlite3``, used off
the event loop through a single worker thread) in WAL mode. It records, for
one contact list, every batch of an upload by its position among the
accepted members:

- ``sending``, before its request is sent (with a fingerprint of its phones);
- ``added`` (the API's count and invalid phones) or ``failed`` (the error, and
  ``maybe_stored``) when it ends.

Each change is one transaction, committed before the upload goes on, so a
kill -9 at any point leaves every batch either unrecorded (never sent),
``sending`` (in doubt: the process died during its request) or settled.
``members.add(..., journal=...)`` reads the same input again, skips the
settled batches, reconciles the in-doubt ones against the list, and sends
the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import attrs

from . import _errors
from ._cancel import AsyncClosing
from ._errors import ConfigurationError, SmsError

__all__ = ["ImportJournal", "JournalEntry", "error_record", "fingerprint", "rebuild_error"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    idx INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('sending', 'added', 'failed')),
    added INTEGER NOT NULL DEFAULT 0,
    invalid TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    maybe_stored INTEGER,
    failed_phones TEXT
);
"""

_VERSION = "1"


def fingerprint(phones: list[str]) -> str:
    """A digest of a batch's phones, in order (to recognise the same input again)."""
    digest = hashlib.blake2b(digest_size=16)
    for phone in phones:
        digest.update(phone.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()


def error_record(error: SmsError) -> dict[str, Any]:
    """What the journal keeps of a batch's error (its type, text and key attributes)."""
    return {
        "type": type(error).__name__,
        "message": getattr(error, "message", None) or str(error),
        "status_code": getattr(error, "status_code", None),
        "code": getattr(error, "code", None),
        "request_sent": getattr(error, "request_sent", None),
    }


def rebuild_error(record: dict[str, Any]) -> SmsError:
    """The error of a settled batch, rebuilt from the journal (same type, text, status)."""
    cls = getattr(_errors, str(record.get("type")), None)
    message = str(record.get("message") or "the batch failed (recorded in the journal)")
    if isinstance(cls, type) and issubclass(cls, _errors.APIError):
        return cls(
            message, status_code=int(record.get("status_code") or 0), code=record.get("code")
        )
    if isinstance(cls, type) and issubclass(cls, _errors.APIConnectionError):
        return cls(message, request_sent=bool(record.get("request_sent", True)))
    if isinstance(cls, type) and issubclass(cls, SmsError) and cls is not _errors.BulkAddError:
        try:
            return cls(message)
        except TypeError:
            pass
    return SmsError(message)


@attrs.frozen
class JournalEntry:
    """One batch as the journal holds it.

    Attributes:
        index: The batch's position among the upload's batches.
        fingerprint: The digest of its phones.
        size: Its members.
        state: ``"sending"``, ``"added"`` or ``"failed"``.
        added: Members the API added (``"added"``).
        invalid: Phones the API rejected (``"added"``).
        error: The failure, as ``{"type", "message", "status_code", "request_sent"}``.
        maybe_stored: For ``"failed"``: whether it may be stored.
        failed_phones: For ``"failed"`` after a reconciliation: the phones that were
            sent again and failed (``None``: the whole batch failed).
    """

    index: int
    fingerprint: str
    size: int
    state: str
    added: int = 0
    invalid: list[str] = attrs.field(factory=list)
    error: dict[str, Any] | None = None
    maybe_stored: bool | None = None
    failed_phones: list[str] | None = None


class ImportJournal(AsyncClosing):
    """A durable journal of one import into one contact list (SQLite, WAL mode).

    Pass it to ``members.add(list_id, members, journal=journal)``. Run the same
    call again with the same journal and the same input after a crash, and the
    upload resumes: batches already settled are not sent again, batches in
    doubt are checked against the list, and the result is the one an
    uninterrupted run would have given.

    Args:
        path: The journal's file; created if missing. Keep one file per import;
            delete it (``journal.delete()``) once the import is complete.

    The journal is used off the event loop, by one worker thread of its own.
    Close it with ``await journal.aclose()`` (or ``async with``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sms-journal")
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"ImportJournal({str(self.path)!r})"

    async def __aenter__(self) -> ImportJournal:
        await self._run(self._open)
        return self

    # --- off the event loop -----------------------------------------------------------

    async def _run(self, work: Callable[[], T]) -> T:
        if self._closed:
            raise ConfigurationError(f"{self!r} is closed")
        loop = asyncio.get_running_loop()
        # Shielded: a transaction that has started is let finish, so that a
        # cancellation never leaves the journal behind what was sent.
        return await asyncio.shield(loop.run_in_executor(self._executor, work))

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            problem: str
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                self._db = db
                return db
            raise ConfigurationError(
                f"cannot use {str(self.path)!r} as an import journal ({problem}): "
                "give the path of a new file, or of a journal this SDK wrote"
            )
        return self._db

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        db = self._open()
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(sql, params)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- the upload's side --------------------------------------------------------------

    async def start(self, contact_list_id: int, batch_size: int) -> dict[int, JournalEntry]:
        """Bind the journal to an import (or check it is the same one); return its batches.

        Raises:
            ConfigurationError: The journal belongs to another list, or was kept
                with another batch size.
        """
        return await self._run(lambda: self._start(contact_list_id, batch_size))

    def _start(self, contact_list_id: int, batch_size: int) -> dict[int, JournalEntry]:
        db = self._open()
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        wanted = {
            "version": _VERSION,
            "contact_list_id": str(contact_list_id),
            "batch_size": str(batch_size),
        }
        if not meta:
            with self._lock:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT INTO meta VALUES (?, ?)", wanted.items())
                db.execute("COMMIT")
            return {}
        for key, value in wanted.items():
            if meta.get(key) != value:
                raise ConfigurationError(
                    f"the journal {str(self.path)!r} records an import with "
                    f"{key}={meta.get(key)}, not {value}: use a new journal for this import"
                )
        return {entry.index: entry for entry in self._entries(db)}

    def _entries(self, db: sqlite3.Connection) -> list[JournalEntry]:
        rows = db.execute(
            "SELECT idx, fingerprint, size, state, added, invalid, error, maybe_stored, "
            "failed_phones FROM batches ORDER BY idx"
        ).fetchall()
        return [
            JournalEntry(
                index=row[0],
                fingerprint=row[1],
                size=row[2],
                state=row[3],
                added=row[4],
                invalid=json.loads(row[5]),
                error=json.loads(row[6]) if row[6] else None,
                maybe_stored=None if row[7] is None else bool(row[7]),
                failed_phones=json.loads(row[8]) if row[8] else None,
            )
            for row in rows
        ]

    async def sending(self, index: int, digest: str, size: int) -> None:
        """Record batch *index* as being sent (before its request)."""
        await self._run(
            lambda: self._write(
                "INSERT OR REPLACE INTO batches (idx, fingerprint, size, state) "
                "VALUES (?, ?, ?, 'sending')",
                (index, digest, size),
            )
        )

    async def added(self, index: int, count: int, invalid: list[str]) -> None:
        """Record batch *index* as answered: *count* added, *invalid* rejected."""
        await self._run(
            lambda: self._write(
                "UPDATE batches SET state='added', added=?, invalid=?, error=NULL, "
                "maybe_stored=NULL WHERE idx=?",
                (count, json.dumps(invalid, ensure_ascii=False), index),
            )
        )

    async def failed(
        self,
        index: int,
        error: dict[str, Any],
        maybe_stored: bool,
        *,
        added: int = 0,
        failed_phones: list[str] | None = None,
    ) -> None:
        """Record batch *index* as failed with *error* (after *added* were found stored)."""
        phones = None if failed_phones is None else json.dumps(failed_phones, ensure_ascii=False)
        await self._run(
            lambda: self._write(
                "UPDATE batches SET state='failed', error=?, maybe_stored=?, added=?, "
                "failed_phones=? WHERE idx=?",
                (json.dumps(error, ensure_ascii=False), int(maybe_stored), added, phones, index),
            )
        )

    async def entries(self) -> list[JournalEntry]:
        """Every batch the journal holds, in order."""
        return await self._run(lambda: self._entries(self._open()))

    # --- lifecycle ---------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the database (every recorded change is already durable)."""
        if self._closed:
            return
        await self._run(self._close_db)
        self._closed = True
        self._executor.shutdown(wait=False)

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def delete(self) -> None:
        """Delete the journal's files (call it, closed, once the import is complete)."""
        if not self._closed:
            raise ConfigurationError(
                "close the journal (await journal.aclose()) before deleting it"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
