"""Side-by-side benchmarks: the SDK against hand-written raw httpx and aiohttp.

Run with ``nox -s bench`` (or ``python benchmarks/run.py``). The fake server runs
in a child process on a loopback port; the client is another process, so its
CPU time is the client's alone. Each figure alternates the contenders (A B,
then B A, ...), drops a warm-up round and reports the median of the per-round
ratios with their min-max. The whole measurement runs ``--runs`` times (2 by
default), each pass in a fresh process; a goal is reproduced when every pass
meets it. Writes ``RESULTS.md`` and ``results.png`` (into ``benchmarks/``, or
``--output DIR``). See docs/benchmarks.md.

Smoke run (about a minute): ``python benchmarks/run.py --smoke --output /tmp/bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# benchmarks/ is put on sys.path first (these run as scripts)
from _common import environment  # noqa: E402  # after the sys.path insert
from _figures import Figure, given, missing  # noqa: E402  # after the sys.path insert
from _report import SPECS, chart, report  # noqa: E402  # after the sys.path insert

#: Every benchmark, in the order a pass runs them (``--only`` takes these names).
BENCHES = (
    "upload",
    "listing",
    "pagination",
    "overhead",
    "construct",
    "startup",
    "help",
    "memory",
    "cli_import",
    "redis",
    "phones",
)
DEFAULTS: dict[str, Any] = {
    "runs": 2,
    "rounds": 5,
    "upload": 100_000,
    "listing": 50_000,
    "pages": 5_000,
    "latency": 0.02,
    "calls": 10_000,
    "memory_sizes": "30000,300000",
    "startup_runs": 20,
    "construct": 500,
    "import_rows": None,  # cli_import.py's own default
    "import_rounds": None,
    "external_rounds": None,
}
#: --smoke: every figure once, small (about a minute on 2 cores).
SMOKE: dict[str, Any] = {
    "runs": 1,
    "rounds": 1,
    "upload": 5_000,
    "listing": 2_000,
    "pages": 500,
    "calls": 400,
    "memory_sizes": "2000,20000",
    "startup_runs": 3,
    "construct": 50,
    "import_rows": 5_000,
    "import_rounds": 1,
    "external_rounds": 2,  # redis_shared.py needs 2 (its control compares consecutive rounds)
}
#: phones.py's sizes for --smoke (otherwise its own defaults; its --rounds are run.py's).
SMOKE_PHONES = ["--numbers", "5000", "--national", "500", "--million", "100000"]
DOCS_PAGE = HERE.parent / "docs" / "benchmarks.md"
DOCS_CHART = HERE.parent / "docs" / "assets" / "benchmarks.png"
BEGIN, END = "<!-- results: begin -->", "<!-- results: end -->"


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# --- one pass (a child process) --------------------------------------------------------------


def one_pass(config: dict[str, Any]) -> dict[str, Figure]:
    """Every selected benchmark once; a benchmark that fails gives "not measured" rows."""
    import asyncio

    import _bench_http as http
    import _bench_process as proc
    import _external as ext

    rounds = config["rounds"]
    small, large = config["memory_sizes"]
    steps: dict[str, Callable[[], dict[str, Figure]]] = {
        "upload": lambda: asyncio.run(http.bench_upload(rounds, config["upload"])),
        "listing": lambda: asyncio.run(http.bench_listing(rounds, config["listing"])),
        "pagination": lambda: asyncio.run(
            http.bench_pagination(rounds, config["pages"], config["latency"])
        ),
        "overhead": lambda: asyncio.run(http.bench_overhead(rounds, config["calls"])),
        "construct": lambda: proc.bench_construct(rounds, config["construct"]),
        "startup": lambda: proc.bench_startup(config["startup_runs"]),
        "help": lambda: proc.bench_help(config["startup_runs"]),
        "memory": lambda: proc.bench_memory(rounds, (small, large)),
        "cli_import": lambda: ext.bench_cli_import(
            config["import_rows"], config["import_rounds"], config["import_timeout"]
        ),
        "redis": lambda: ext.bench_redis(config["external_rounds"], config["redis_timeout"]),
        "phones": lambda: bench_phones(config["phones_args"], config["import_timeout"]),
    }
    figures: dict[str, Figure] = {}
    for name in BENCHES:
        if name not in config["selected"]:
            continue
        log(f"== {name}")
        started = time.perf_counter()
        try:
            figures.update(steps[name]())
        except Exception as exc:
            traceback.print_exc()
            why = f"{type(exc).__name__}: {exc}"[:300]
            for spec in SPECS:
                if spec.bench == name and spec.key not in figures:
                    figures[spec.key] = missing(why)
        log(f"   {name}: {time.perf_counter() - started:.1f} s")
    return figures


def bench_phones(args: list[str], timeout: float) -> dict[str, Figure]:
    """The figures of ``phones.py`` (per-number cost of ``default_region``), as it gives them."""
    import _external as ext

    keys = [spec.key for spec in SPECS if spec.bench == "phones"]
    try:
        _, rows = ext.run_script("phones.py", args, timeout)
    except ext.NotMeasured as exc:
        return {key: missing(str(exc)) for key in keys}
    found = {row.key: row for row in rows}
    return {
        key: given(found[key].median, found[key].low, found[key].high, found[key].unit)
        if key in found
        else missing(f"phones.py printed no {key} row")
        for key in keys
    }


def child_main(config_path: str, out_path: str) -> None:
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    load = list(os.getloadavg())
    started = time.time()
    figures = one_pass(config)
    result = {
        "started": started,
        "seconds": time.time() - started,
        "load": load,
        "load_end": list(os.getloadavg()),
        "figures": figures,
    }
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


# --- the parent ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog="Benchmarks (for --only): " + ", ".join(BENCHES),
    )
    add = parser.add_argument
    add("--runs", type=int, help="independent passes (2)")
    add("--rounds", type=int, help="measured rounds per figure, after a warm-up (5)")
    add("--only", help="a comma-separated subset of the benchmarks")
    add("--smoke", action="store_true", help="small sizes, 1 round, 1 pass: proves it runs")
    add("--upload", type=int, help="members per upload (100000)")
    add("--listing", type=int, help="members in the listed list (50000)")
    add("--pages", type=int, help="members listed with latency (5000)")
    add("--latency", type=float, help="seconds added by the fake for pagination (0.02)")
    add("--calls", type=int, help="calls of the per-call overhead (10000)")
    add("--memory-sizes", help="two member counts: SMALL,LARGE (30000,300000)")
    add("--startup-runs", type=int, help="fresh processes per contender (20)")
    add("--construct", type=int, help="constructions per process (500)")
    add("--import-rows", type=int, help="CSV rows for cli_import.py (its default)")
    add("--import-rounds", type=int, help="rounds for cli_import.py (its default)")
    add("--external-rounds", type=int, help="--rounds for the redis scripts (theirs)")
    add("--import-timeout", type=float, default=900.0, help="seconds for cli_import.py (900)")
    add("--redis-timeout", type=float, default=300.0, help="seconds per redis script (300)")
    add("--output", type=Path, help="folder for RESULTS.md and results.png (benchmarks/)")
    add("--no-write", action="store_true", help="print the report, write nothing")
    add("--no-docs", action="store_true", help="leave docs/benchmarks.md and its chart alone")
    add("--save-raw", type=Path, help="also write every pass's raw figures to this JSON file")
    add("--from-raw", type=Path, help="report from a --save-raw file; measure nothing")
    add("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    preset = SMOKE if args.smoke else {}
    for key, default in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, preset.get(key, default))
    if args.only:
        chosen = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in BENCHES]
        if unknown:
            parser.error(f"--only: unknown {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
        args.only = chosen
    small, _, large = str(args.memory_sizes).partition(",")
    args.memory_sizes = (int(small), int(large))
    return args


def config_of(args: argparse.Namespace) -> dict[str, Any]:
    keys = (*DEFAULTS, "import_timeout", "redis_timeout", "only")
    config = {key: getattr(args, key) for key in keys}
    config["selected"] = list(args.only or BENCHES)
    config["phones_args"] = [
        "--rounds",
        str(args.rounds),
        "--dedupe-rounds",
        "1" if args.smoke else "3",
    ]
    if args.smoke:
        config["phones_args"] += SMOKE_PHONES
    return config


def measure_passes(args: argparse.Namespace, config: dict[str, Any]) -> list[dict[str, Any]]:
    passes = []
    with tempfile.TemporaryDirectory(prefix="sms-bench-") as folder:
        config_path = Path(folder) / "config.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        for number in range(1, args.runs + 1):
            log(f"=== pass {number} of {args.runs}")
            out = Path(folder) / f"pass{number}.json"
            done = os.spawnv(
                os.P_WAIT,
                sys.executable,
                [sys.executable, __file__, "--child", str(config_path), str(out)],
            )
            if done != 0 or not out.exists():
                if not passes:
                    raise SystemExit(f"pass {number} failed (exit {done})")
                log(f"pass {number} failed (exit {done}): reporting the passes before it")
                break
            passes.append(json.loads(out.read_text(encoding="utf-8")))
    return passes


def update_docs(
    text: str, chart_file: Path, page_file: Path = DOCS_PAGE, docs_chart: Path = DOCS_CHART
) -> None:
    """Put the results into docs/benchmarks.md, between its markers, and the chart beside."""
    page = page_file.read_text(encoding="utf-8")
    if BEGIN not in page or END not in page:
        log(f"{page_file} has no {BEGIN} ... {END} markers: not updated")
        return
    body = text.split("\n", 1)[1].replace("](results.png)", "](assets/benchmarks.png)")
    body = body.replace("\n## ", "\n### ")
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    page_file.write_text(f"{head}{BEGIN}\n{body.strip()}\n\n{END}{tail}", encoding="utf-8")
    docs_chart.parent.mkdir(exist_ok=True)
    docs_chart.write_bytes(chart_file.read_bytes())
    log(f"updated {page_file} and {docs_chart}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        child_main(*args.child)
        return
    if args.from_raw:
        raw = json.loads(args.from_raw.read_text(encoding="utf-8"))
    else:
        config = config_of(args)
        raw = {"environment": environment(), "config": config, "passes": []}
        raw["passes"] = measure_passes(args, config)
    if args.save_raw:
        args.save_raw.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    text = report(raw)
    print(text)
    if args.no_write:
        return
    if (args.only or args.smoke) and args.output is None:
        why = "--only" if args.only else "--smoke"
        log(f"{why}: not written over benchmarks/RESULTS.md (pass --output DIR to write)")
        return
    output = args.output or HERE
    output.mkdir(parents=True, exist_ok=True)
    (output / "RESULTS.md").write_text(text, encoding="utf-8")
    chart(raw, output / "results.png")
    log(f"wrote {output / 'RESULTS.md'} and {output / 'results.png'}")
    if output.resolve() == HERE and not args.no_docs and not raw["config"].get("only"):
        update_docs(text, output / "results.png")


if __name__ == "__main__":
    main()
