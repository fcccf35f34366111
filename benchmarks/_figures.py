"""The record of one figure, as a pass of ``run.py`` stores it (plain JSON data).

A measured figure holds its per-round samples (ratios, or values in ``unit``)
and their median, min and max; ``parts`` are the contenders' own per-round
values (for the details table). A figure that could not be measured holds the
reason instead; a yes/no figure holds ``ok`` and a sentence.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

Figure = dict[str, Any]


def stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def measured(
    samples: Sequence[float],
    unit: str = "ratio",
    *,
    parts: Mapping[str, tuple[Sequence[float], str]] | None = None,
    note: str = "",
) -> Figure:
    """A figure from its per-round samples; *parts*: contender -> (values, unit)."""
    figure: Figure = {"kind": "measured", "unit": unit, "samples": list(samples), **stats(samples)}
    if parts:
        figure["parts"] = {
            name: {"unit": part_unit, "samples": list(values), **stats(values)}
            for name, (values, part_unit) in parts.items()
        }
    if note:
        figure["note"] = note
    return figure


def given(
    median: float, low: float | None, high: float | None, unit: str, note: str = ""
) -> Figure:
    """A figure another script computed: its median and spread (None when it gave none)."""
    figure: Figure = {"kind": "measured", "unit": unit, "samples": [], "median": median}
    figure["min"] = median if low is None else low
    figure["max"] = median if high is None else high
    figure["n"] = 0
    if low is None or high is None:
        figure["no_spread"] = True
    if note:
        figure["note"] = note
    return figure


def check(ok: bool, text: str) -> Figure:
    return {"kind": "check", "ok": ok, "text": text}


def missing(why: str) -> Figure:
    return {"kind": "missing", "why": why}
