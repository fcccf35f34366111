"""RESULTS.md and the chart, from the passes' figures (see ``_figures.py``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _figures import Figure

DASH = "\u2013"
LABEL_BOX = {"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1}


@dataclass(frozen=True)
class Spec:
    key: str
    label: str  # formatted with the run's configuration
    bench: str  # the --only name that measures it
    op: str = ""  # "<=", ">=", "check", or "" (for information)
    limit: float = math.nan
    note: str = ""

    def met(self, figure: Figure) -> bool | None:
        if figure.get("kind") == "check":
            return bool(figure["ok"])
        if figure.get("kind") != "measured" or self.op not in ("<=", ">="):
            return None
        value = figure["median"]
        return value <= self.limit if self.op == "<=" else value >= self.limit

    def crossed(self, figure: Figure) -> bool:
        """Whether the spread straddles the goal (the median alone meets or misses it)."""
        if figure.get("kind") != "measured" or self.op not in ("<=", ">="):
            return False
        return bool(figure["min"] < self.limit < figure["max"])

    @property
    def goal_text(self) -> str:
        if self.op == "check":
            return "yes"
        if not self.op:
            return ""
        unit = UNITS.get(self.key, "ratio")
        limit = f"{self.limit:.2f}" if unit == "ratio" else f"{self.limit:g} {unit}"
        return f"{'≤' if self.op == '<=' else '≥'} {limit.replace('us', 'µs')}"


#: The unit of each figure's value (the goal is in the same unit).
UNITS = {
    "construct_httpx": "ms",
    "construct_aiohttp": "ms",
    "construct_first_httpx": "ms",
    "construct_first_aiohttp": "ms",
    "redis_rate": "us",
    "redis_slots": "us",
    "redis_round_trip": "us",
    "redis_c_round_trip": "us",
    "memory_growth": "MB",
    "overhead_us": "us",
}

GOALS = [
    Spec(
        "upload_cpu_httpx",
        "upload {upload:,} members, client CPU: SDK (default httpx backend) / raw httpx",
        "upload",
        "<=",
        0.85,
    ),
    Spec(
        "upload_cpu_aiohttp",
        "upload {upload:,} members, client CPU: SDK (aiohttp backend) / raw aiohttp",
        "upload",
        "<=",
        1.10,
    ),
    Spec(
        "upload_cpu_region",
        "upload {upload:,} members already in E.164, client CPU: SDK with "
        '`default_region="CN"` / without (httpx backend)',
        "upload",
        "<=",
        1.05,
    ),
    Spec(
        "listing_cpu_httpx",
        "listing {listing:,} members, client CPU: SDK / raw httpx, {concurrency} pages in flight",
        "listing",
        "<=",
        1.0,
    ),
    Spec(
        "cli_import",
        "CLI import rows/s / library `members.add` rows/s, same CSV{import_rows_text}",
        "cli_import",
        ">=",
        0.80,
    ),
    Spec(
        "import_wall",
        "`import sms_async` / `import httpx`, fresh process wall",
        "startup",
        "<=",
        1.25,
    ),
    Spec(
        "help_imports",
        "`sms-async --help` imports none of httpx, attrs, cattrs, stamina",
        "help",
        "check",
    ),
    Spec(
        "construct_httpx",
        '`AsyncSmsClient("u", "k")` construction, CPU, httpx backend',
        "construct",
        "<=",
        2.0,
    ),
    Spec(
        "construct_aiohttp",
        '`AsyncSmsClient("u", "k", http_backend="aiohttp")` construction, CPU',
        "construct",
        "<=",
        2.0,
    ),
    Spec(
        "redis_rate",
        "Redis limiter added latency per request: `RedisRateLimiter`",
        "redis",
        "<=",
        150,
    ),
    Spec(
        "redis_slots",
        "Redis limiter added latency per request: `RedisConcurrencyLimiter`",
        "redis",
        "<=",
        150,
    ),
    Spec(
        "redis_shared",
        "4 processes sharing a Redis cap / 4 with local caps, throughput",
        "redis",
        ">=",
        0.95,
    ),
]

TARGETS = [
    Spec(
        "upload_wall_httpx",
        "upload {upload:,} members, wall: SDK (httpx backend) / raw httpx",
        "upload",
        "<=",
        1.05,
    ),
    Spec(
        "pagination_wall",
        "pagination, {pages:,} members, {latency_ms:g} ms latency, wall: SDK / sequential httpx",
        "pagination",
        "<=",
        0.30,
    ),
    Spec(
        "memory_growth",
        "peak client RSS, `members.add` streaming {memory_large:,} members less {memory_small:,}",
        "memory",
        "<=",
        10,
    ),
    Spec(
        "overhead_us",
        "per-call overhead over raw httpx, `contact_lists.update` in-process, same httpx client",
        "overhead",
        "<=",
        30,
    ),
]

INFO = [
    Spec(
        "upload_wall_aiohttp",
        "upload {upload:,} members, wall: SDK (aiohttp backend) / raw aiohttp",
        "upload",
    ),
    Spec(
        "upload_wall_region",
        "upload {upload:,} members already in E.164, wall: SDK with "
        '`default_region="CN"` / without',
        "upload",
    ),
    Spec(
        "listing_cpu_aiohttp",
        "listing {listing:,} members, client CPU: SDK (aiohttp backend) / raw aiohttp, same depth",
        "listing",
    ),
    Spec("listing_wall_httpx", "listing {listing:,} members, wall: SDK / raw httpx", "listing"),
    Spec(
        "listing_wall_aiohttp",
        "listing {listing:,} members, wall: SDK (aiohttp backend) / raw aiohttp",
        "listing",
    ),
    Spec(
        "import_from_wall",
        "`from sms_async import AsyncSmsClient` / `import httpx`, fresh process wall",
        "startup",
    ),
    Spec("import_net", "`import sms_async` / `import httpx`, net of `python -c pass`", "startup"),
    Spec("help_wall", "`sms-async --help` / `python -c pass`, wall", "help"),
    Spec(
        "construct_first_httpx",
        "first construction in a process, CPU, httpx backend (lazy imports, SSL context)",
        "construct",
    ),
    Spec(
        "construct_first_aiohttp",
        "first construction in a process, CPU, aiohttp backend (imports aiohttp)",
        "construct",
    ),
    Spec("cli_import_cpu", "CLI import rows per CPU-second / library's, same CSV", "cli_import"),
    # phones.py: what default_region costs per number (issue 17)
    Spec("phones_e164", "phones: E.164 shortcut, batches of 1000 numbers of CN", "phones"),
    Spec("phones_e164_mixed", "phones: E.164 shortcut, batches of 5 countries", "phones"),
    Spec("phones_refine", "phones: an upload's step, E.164 batches of 1000", "phones"),
    Spec("phones_refine_dedupe", "phones: the same with `dedupe=True`", "phones"),
    *(
        Spec(
            f"phones_national_{region}",
            f"phones: `normalize()`, national format, {region}",
            "phones",
        )
        for region in ("CN", "US", "GB", "IN", "BR")
    ),
    Spec("phones_first_use", "phones: first `normalize()` in a process, CPU", "phones"),
    Spec("phones_import_wall", "phones: `import phonenumbers`, wall", "phones"),
    Spec("phones_dedupe_mb", "phones: `dedupe=True` memory, held, per million phones", "phones"),
    Spec("phones_dedupe_peak_mb", "phones: `dedupe=True` memory, peak, per million", "phones"),
    Spec(
        "redis_round_trip",
        "Redis: a bare round trip to the same redis-server (`PING` on an asyncio stream, "
        "no limiter): the floor of the limiters' added latency",
        "redis",
    ),
    Spec(
        "redis_c_round_trip",
        "Redis: the same round trip by Redis's own C client (`redis-benchmark -c 1`, mean "
        "latency): this machine's loopback and scheduler, without Python",
        "redis",
    ),
]

SPECS = [*GOALS, *TARGETS, *INFO]


# --- formatting ------------------------------------------------------------------------------


def _num(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "MB":  # a growth: signed
        return f"{value:+.1f}"
    if unit in ("us", "RSS MB"):
        return f"{value:.1f}"
    if unit == "ms":
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    if unit == "s":
        return f"{value:.3f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def value_text(figure: Figure) -> str:
    """``0.81 (0.78-0.84)``: the median and, in parentheses, the min-max (en dash)."""
    kind = figure.get("kind")
    if kind == "missing":
        return f"not measured: {figure['why']}"
    if kind == "check":
        return f"{'yes' if figure['ok'] else 'NO'}: {figure['text']}"
    unit = figure["unit"]
    suffixes = {"ratio": "", "ms": " ms", "us": " µs", "MB": " MB", "RSS MB": " MB", "s": " s"}
    suffix = suffixes.get(unit, f" {unit}" if unit else "")
    text = _num(figure["median"], unit) + suffix
    if figure.get("no_spread"):
        return text + " (no spread given)"
    low, high = figure["min"], figure["max"]
    sep = " to " if low < 0 or high < 0 else DASH
    return f"{text} ({_num(low, unit)}{sep}{_num(high, unit)})"


def labels(config: dict[str, Any]) -> dict[str, Any]:
    small, large = config["memory_sizes"]
    rows = config.get("import_rows")
    return {
        **config,
        "latency_ms": config["latency"] * 1000,
        "memory_small": small,
        "memory_large": large,
        "concurrency": 8,
        "import_rows_text": f" ({rows:,} rows)" if rows else "",
    }


def status(spec: Spec, figures: list[Figure | None]) -> str:
    present = [f for f in figures if f is not None]
    if not present:
        return "not run"
    verdicts = [spec.met(f) for f in present]
    known = [v for v in verdicts if v is not None]
    if not known:
        return "not measured"
    met, runs = sum(known), len(present)
    if met == runs:
        text = "**met**, reproduced" if runs > 1 else "**met** (1 pass: not reproduced)"
    elif met:
        text = f"met in {met} of {runs} passes"
    else:
        text = "**missed**"
    if len(known) < runs:
        text += f"; {runs - len(known)} pass(es) not measured"
    if any(spec.crossed(f) for f in present):
        text += "; spread crosses the goal"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report(raw: dict[str, Any]) -> str:
    env, config, passes = raw["environment"], raw["config"], raw["passes"]
    words = labels(config)
    runs = len(passes)
    heads = [f"pass {i + 1}" for i in range(runs)]
    libs = ", ".join(
        f"{name} {ver}" for name, ver in env["libraries"].items() if name != "sms-async"
    )
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(passes[0]["started"]))
    durations = "; ".join(
        f"pass {i + 1}: {p['seconds'] / 60:.1f} min, load average {p['load'][0]:.2f} at its start"
        for i, p in enumerate(passes)
    )
    only = config.get("only")
    lines = [
        "# Benchmark results",
        "",
        f"- Machine: {env['cpu']}, {env['cores']}",
        f"- OS: {env['os']}",
        f"- Python: {env['python']}",
        f"- Libraries: {libs}; redis-server {env.get('redis_server', '?')}",
        f"- SDK: sms-async {env['libraries'].get('sms-async', '?')}, commit {env['commit']}",
        f"- Run: {when}; {runs} independent pass{'es' if runs > 1 else ''} (each a fresh "
        f"process); {config['rounds']} alternating round{'s' if config['rounds'] > 1 else ''} "
        f"per figure after a dropped warm-up round ({durations})",
        f"- Sizes: upload {config['upload']:,} members in batches of 1,000; listing "
        f"{config['listing']:,}; pagination {config['pages']:,} with "
        f"{words['latency_ms']:g} ms latency; concurrency 8 everywhere; start-up "
        f"{config['startup_runs']} runs; {config['construct']} constructions per process"
        + (f"; only {', '.join(only)}" if only else ""),
        "",
        "Each cell: the median of the per-round figures, then their min-max in parentheses. "
        "A ratio is taken within a round (SDK / hand-written client, run back to back, "
        "the order reversed every round); the client's CPU is this process's "
        "`time.process_time()`, the fake server running in a process of its own. "
        "A goal is reproduced when every pass meets it. Regenerate with `nox -s bench`; "
        "see `docs/benchmarks.md` for what each figure measures.",
        "",
    ]

    def table(title: str, specs: list[Spec], goal_column: bool) -> None:
        lines.extend([f"## {title}", ""])
        head = ["figure", *(["goal"] if goal_column else []), *heads]
        head.append("status" if goal_column else "note")
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for spec in specs:
            figures = [p["figures"].get(spec.key) for p in passes]
            cells = [spec.label.format(**words)]
            if goal_column:
                cells.append(spec.goal_text)
            cells += [value_text(f) if f is not None else "not run" for f in figures]
            if goal_column:
                cells.append(status(spec, figures))
            else:
                notes = {f.get("note", "") for f in figures if f is not None} - {""}
                cells.append("; ".join(sorted(notes)))
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")

    table("Goals", GOALS, goal_column=True)
    table("Other targets", TARGETS, goal_column=True)
    table("For information", INFO, goal_column=False)

    lines.extend(["## Measurements", "", "| figure | contender | " + " | ".join(heads) + " |"])
    lines.append("|" + "---|" * (2 + runs))
    for spec in SPECS:
        names: list[str] = []
        for p in passes:
            for name in p["figures"].get(spec.key, {}).get("parts", {}):
                if name not in names:
                    names.append(name)
        for name in names:
            cells = [spec.key, name]
            for p in passes:
                part = p["figures"].get(spec.key, {}).get("parts", {}).get(name)
                cells.append(value_text({"kind": "measured", **part}) if part else "")
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.extend(["", "![benchmark chart](results.png)", ""])
    return "\n".join(lines)


# --- chart -----------------------------------------------------------------------------------


def chart(raw: dict[str, Any], path: Path) -> None:
    """One panel: each goal's figure per pass (bar: median, whiskers: min-max), its goal.

    A ratio is drawn as it is; a figure in ms, µs or MB as a share of its budget
    (the goal is then at 1). The axis is cut at LEFT and RIGHT: a bar or a
    whisker beyond is drawn to the edge, and its value is written out.
    """
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    left, right = -0.5, 2.5
    passes = raw["passes"]
    words = labels(raw["config"])
    specs = [s for s in [*GOALS, *TARGETS] if s.op in ("<=", ">=")]
    runs = len(passes)
    height = 0.8 / runs
    fig, ax = plt.subplots(figsize=(13, 0.7 * len(specs) + 1.6))
    colours = {True: "#2a9d5c", False: "#d1495b"}

    def cut(x: float) -> float:
        return min(max(x, left), right)

    for row, spec in enumerate(specs):
        y = len(specs) - 1 - row
        scale = 1.0 if UNITS.get(spec.key, "ratio") == "ratio" else spec.limit
        goal = spec.limit / scale
        ax.plot([goal, goal], [y - 0.45, y + 0.45], color="black", linewidth=2.5, zorder=4)
        for i, p in enumerate(passes):
            figure = p["figures"].get(spec.key)
            offset = y + 0.4 - height * (i + 0.5)
            if figure is None or figure.get("kind") != "measured":
                why = "not run" if figure is None else "not measured"
                ax.text(0.05, offset, f"pass {i + 1}: {why}", va="center", fontsize=8, color="#555")
                continue
            value = figure["median"] / scale
            low, high = figure["min"] / scale, figure["max"] / scale
            shown = cut(value)
            ax.barh(
                offset,
                shown,
                height=height * 0.85,
                color=colours[bool(spec.met(figure))],
                alpha=1.0 if i == 0 else 0.55,
                hatch=None if i == 0 else "//",
                edgecolor="white",
                zorder=2,
            )
            if not figure.get("no_spread"):
                ax.plot(
                    [cut(low), cut(high)], [offset, offset], color="#222", linewidth=1, zorder=3
                )
                for end in (low, high):
                    if left <= end <= right:
                        ax.plot([end, end], [offset - height * 0.25, offset + height * 0.25],
                                color="#222", linewidth=1, zorder=3)  # fmt: skip
            text = f"{figure['median']:.2f}" if scale == 1 else value_text(figure).split(" (")[0]
            if value != shown:
                text += " (off the axis)"
            x = max(shown, cut(high), goal) + 0.04
            ax.text(
                min(x, right - 0.02),
                offset,
                f"pass {i + 1}: {text}",
                va="center",
                ha="left" if x < right - 0.3 else "right",
                fontsize=8,
                zorder=5,
                bbox=LABEL_BOX,
            )
    names = []
    for spec in specs:
        unit = UNITS.get(spec.key, "ratio")
        label = spec.label.format(**words).replace("`", "")
        budget = "" if unit == "ratio" else f"; bar = share of {spec.limit:g} {unit}"
        label = f"{label} (goal {spec.goal_text}{budget.replace('us', 'µs')})"
        names.append(textwrap.fill(label, 60))
    ax.set_yticks(range(len(specs)))
    ax.set_yticklabels(list(reversed(names)), fontsize=8)
    ax.set_xlim(left, right)
    ax.set_ylim(-0.6, len(specs) - 0.4)
    ax.axvline(0, color="#999", linewidth=0.8)
    ax.axvline(1, color="#bbb", linewidth=0.8, linestyle=":")
    ax.set_xlabel("ratio (a figure in ms, µs or MB: its share of the budget)")
    passes_text = "pass 1 solid, pass 2 hatched" if runs > 1 else "1 pass"
    ax.set_title(
        f"sms_async against its goals. Bars: medians ({passes_text}); whiskers: min-max of "
        "the rounds;\nblack ticks: the goals; green: met, red: missed",
        fontsize=10,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
