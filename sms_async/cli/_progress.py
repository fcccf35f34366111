"""Import progress: a rich progress bar on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import time
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["ImportProgress"]

#: Seconds between two plain progress lines.
PLAIN_INTERVAL = 2.0


class ImportProgress:
    """Shows rows sent, added, rejected, the rate and the ETA of an import."""

    def __init__(self, stream: IO[str], total: int | None, *, label: str = "importing") -> None:
        self._console = Console(file=stream, stderr=True)
        self._total = total
        self._label = label
        self._started = time.monotonic()
        self._last_line = self._started
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        if self._console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[counted]}"),
                TextColumn(
                    "added {task.fields[added]:,}  rejected {task.fields[rejected]:,}"
                    "  failed {task.fields[failed]:,}"
                ),
                TextColumn("{task.fields[rate]:,.0f} rows/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self._console,
            )

    def __enter__(self) -> ImportProgress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(
                self._label,
                total=self._total,
                counted=self._counted(0),
                added=0,
                rejected=0,
                failed=0,
                rate=0.0,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _counted(self, sent: int) -> str:
        return f"{sent:,}/{self._total:,}" if self._total is not None else f"{sent:,}"

    def update(
        self, sent: int, added: int, rejected: int, failed: int = 0, *, final: bool = False
    ) -> None:
        """Show the running totals (a plain line at most every 2 s, and at the end)."""
        now = time.monotonic()
        rate = sent / max(now - self._started, 1e-9)
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task,
                completed=sent,
                counted=self._counted(sent),
                added=added,
                rejected=rejected,
                failed=failed,
                rate=rate,
            )
            return
        if final or now - self._last_line >= PLAIN_INTERVAL:
            self._last_line = now
            of = f"/{self._total:,}" if self._total is not None else ""
            eta = ""
            if self._total and rate > 0 and not final:
                eta = f", ETA {max(0.0, (self._total - sent) / rate):.0f} s"
            self._console.print(
                f"{self._label}: {sent:,}{of} rows, {added:,} added, {rejected:,} rejected, "
                f"{failed:,} failed, {rate:,.0f} rows/s{eta}",
                highlight=False,
                soft_wrap=True,
            )
