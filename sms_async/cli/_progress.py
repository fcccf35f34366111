"""Import progress: one line sized to the terminal, or plain periodic lines elsewhere.

On a terminal the line holds, left to right: the label, a bar, the rows read (of
the total), the members added, the rows rejected, the rows in failed batches, the
rate, the elapsed time and the time left. When the terminal is too narrow for all
of them, the bar shrinks from 40 to 10 cells, then the fields go, least useful
first: the label, the elapsed time, the rate, the members added, the time left,
the rejected rows, the failed rows, and last the bar. The rows read stay.

The rate is the same figure everywhere, live and in the summary: rows read divided
by the wall time since the import started (``rows_per_second``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, NamedTuple

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.text import Text

__all__ = ["ImportProgress", "plural", "rate_text", "rows_per_second"]

#: Seconds between two plain progress lines.
PLAIN_INTERVAL = 2.0
#: The bar's width on a terminal: it shrinks to the first before any field is left out.
BAR_WIDTH = (10, 40)
#: Between two fields of the progress line.
GAP = "  "


def plural(count: int, singular: str, plural: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``; ``1 batch``, ``2 batches`` with *plural*."""
    word = singular if count == 1 else plural or f"{singular}s"
    return f"{count:,} {word}"


def rows_per_second(rows: int, seconds: float) -> float:
    """The import's rate: *rows* read over the *seconds* since the import started."""
    return rows / seconds if seconds > 0 else 0.0


def rate_text(rows: int, seconds: float) -> str:
    """The rate as shown, live and in the summary: ``2,807 rows/s``, ``1 row/s``."""
    rate = f"{rows_per_second(rows, seconds):,.0f}"
    return f"{rate} {'row' if rate == '1' else 'rows'}/s"


def _clock_time(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class _Part(NamedTuple):
    """A field of the progress line; ``text`` ``None`` is the bar."""

    keep: int  # the higher, the longer it stays as the terminal narrows
    text: Text | None


def _layout(parts: list[_Part], width: int) -> tuple[list[_Part], int]:
    """The parts that fit in *width*, in their order, and the bar's width."""
    kept = list(parts)
    while True:
        has_bar = any(part.text is None for part in kept)
        used = sum(part.text.cell_len for part in kept if part.text is not None)
        room = width - used - len(GAP) * (len(kept) - 1)
        if len(kept) == 1 or room >= (BAR_WIDTH[0] if has_bar else 0):
            return kept, max(0, min(room, BAR_WIDTH[1])) if has_bar else 0
        kept.remove(min(kept, key=lambda part: part.keep))


class ImportProgress:
    """Shows rows read, added, rejected and failed, the rate and the time left of an import.

    Args:
        stream: Where to write (stderr); a bar if it is a terminal, plain lines if not.
        total: The rows to read, if known (for the bar and the time left).
        label: The first word of each line.
        clock: Seconds, for the rate and the times; ``time.monotonic`` by default.
        console: The rich console to write to, instead of one on *stream*.
    """

    def __init__(
        self,
        stream: IO[str],
        total: int | None,
        *,
        label: str = "importing",
        clock: Callable[[], float] | None = None,
        console: Console | None = None,
    ) -> None:
        self._console = console if console is not None else Console(file=stream, stderr=True)
        self._total = total
        self._label = label
        self._clock = clock if clock is not None else time.monotonic
        self._created = self._clock()
        self._started: float | None = None
        self._seconds: float | None = None
        self._counts = (0, 0, 0, 0)
        self._last_line = self._created
        self._live = (
            Live(_Line(self), console=self._console, refresh_per_second=4)
            if self._console.is_terminal
            else None
        )

    def __enter__(self) -> ImportProgress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def clock(self) -> float:
        """Read the clock: give this to ``run_import`` as its clock.

        Its first reading is the start of the import, so the rate shown while the
        import runs, rows over the time since then, is the summary's rate.
        """
        now = self._clock()
        if self._started is None:
            self._started = now
        return now

    def _elapsed(self, now: float) -> float:
        if self._seconds is not None:
            return self._seconds
        return now - (self._started if self._started is not None else self._created)

    def update(
        self,
        sent: int,
        added: int,
        rejected: int,
        failed: int = 0,
        *,
        final: bool = False,
        seconds: float | None = None,
    ) -> None:
        """Show the running totals (a plain line at most every 2 s, and at the end).

        Args:
            sent: Rows read so far.
            added: Members added.
            rejected: Rows rejected.
            failed: Rows in failed batches.
            final: The import has ended: show the last totals.
            seconds: With *final*, the import's wall time (``ImportSummary.seconds``),
                so that the last rate shown is the summary's.
        """
        now = self._clock()
        if final:
            self._seconds = seconds if seconds is not None else self._elapsed(now)
        self._counts = (sent, added, rejected, failed)
        if self._live is not None:
            if final:
                self._live.refresh()
            return
        if final or now - self._last_line >= PLAIN_INTERVAL:
            self._last_line = now
            self._console.print(self._plain_line(now), highlight=False, soft_wrap=True)

    def _rows(self, sent: int, width: int = 0) -> str:
        """``18,018/20,000 rows``, ``1/1 row``; ``7 rows`` without a total.

        *width*: the least width of the rows read, spaces to the left.
        """
        if self._total is None:
            return plural(sent, "row")
        return f"{sent:>{width},}/{plural(self._total, 'row')}"

    def _left(self, sent: int, elapsed: float) -> float | None:
        """Seconds left at the current rate, while the import runs and the total is known."""
        if self._total is None or self._seconds is not None or sent <= 0 or elapsed <= 0:
            return None
        return max(0.0, (self._total - sent) / rows_per_second(sent, elapsed))

    def _plain_line(self, now: float) -> str:
        sent, added, rejected, failed = self._counts
        elapsed = self._elapsed(now)
        left = self._left(sent, elapsed)
        eta = f", ETA {left:.0f} s" if left is not None else ""
        return (
            f"{self._label}: {self._rows(sent)}, {added:,} added, {rejected:,} rejected, "
            f"{failed:,} failed, {rate_text(sent, elapsed)}{eta}"
        )

    def render(self, console: Console, width: int) -> Text:
        """The progress line for a terminal *width* cells wide (never wider)."""
        now = self._clock()
        sent, added, rejected, failed = self._counts
        elapsed = self._elapsed(now)
        left = self._left(sent, elapsed)
        # numbers as wide as the total from the start: the line keeps its layout as they grow
        digits = len(f"{self._total:,}") if self._total is not None else 0
        parts = [
            _Part(1, Text(self._label, style="bold")),
            _Part(8, None),
            _Part(9, Text(self._rows(sent, digits))),
            _Part(4, Text(f"{added:>{digits},} added")),
            _Part(6, Text(f"{rejected:,} rejected", style="yellow" if rejected else "")),
            _Part(7, Text(f"{failed:,} failed", style="bold red" if failed else "")),
            _Part(3, Text(rate_text(sent, elapsed))),
            _Part(2, Text(f"{_clock_time(elapsed)} elapsed")),
        ]
        if self._seconds is None and self._total is not None:
            eta = _clock_time(math.ceil(left)) if left is not None else "-:--"
            parts.append(_Part(5, Text(f"ETA {eta}")))
        kept, bar_width = _layout(parts, width)
        line = Text(no_wrap=True, overflow="crop")
        for at, part in enumerate(kept):
            if at:
                line.append(GAP)
            line.append_text(
                part.text if part.text is not None else self._bar(console, bar_width, now)
            )
        line.truncate(width)
        return line

    def _bar(self, console: Console, width: int, now: float) -> Text:
        sent = self._counts[0]
        bar = ProgressBar(
            total=self._total,
            completed=sent,
            width=width,
            pulse=self._total is None,
            animation_time=now,
        )
        text = Text()
        for segment in console.render(bar, console.options.update_width(width)):
            if not segment.control and segment.text != "\n":
                text.append(segment.text, segment.style)
        text.truncate(width, pad=True)
        return text


class _Line:
    """The live progress line, laid out anew for the terminal's width at each refresh."""

    def __init__(self, progress: ImportProgress) -> None:
        self._progress = progress

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._progress.render(console, options.max_width)
