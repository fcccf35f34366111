"""What phone normalization (``AsyncSmsClient(default_region=...)``) costs, per number (not a test).

Run with ``python benchmarks/phones.py`` (``--rounds 7``); ``run.py`` runs it for
its "phones" figures. Each figure is the median over the rounds (a warm-up round
first, dropped) with the min-max of the rounds:

* **E.164 batches**: ``PhoneNormalizer.quick_all`` over batches of 1000 numbers
  already in E.164 (what an upload's batch goes through before anything is
  parsed), in microseconds per number: numbers of China (``+86138...``), and
  numbers of five countries mixed. Then ``PhoneRules.refine`` over batches of
  1000 such members read one by one (the whole step of an upload of a
  generator: the phones taken out of the members, the batch checked), without
  and with ``dedupe=True``. (A list is read a batch at a time, its phones
  checked within its JSON: see ``benchmarks/run.py``'s upload figures.)
* **National formats**: ``PhoneNormalizer.normalize`` of numbers as people write
  them in CN, US, GB, IN and BR ("138 0000 0001", "(415) 555-0001", ...): the
  full ``phonenumbers.parse``, the possibility check and E.164 formatting, in
  microseconds per number.
* **First use**: in a fresh interpreter per round, ``import phonenumbers`` (wall
  and CPU; ``AsyncSmsClient(default_region=...)`` pays it at construction), then
  the CPU of the first ``normalize()`` (libphonenumber's metadata loaded, the
  E.164 expression built: once per process).
* **Dedupe memory**: ``tracemalloc``'s count of what ``dedupe=True`` holds after
  ``--million`` distinct phones, in MB (10^6 bytes) per million phones.

``--json`` ends the output with a JSON line of the figures (see _external.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sms_async._bulk import Batch
from sms_async._phones import PhoneNormalizer, PhoneRules

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine  # noqa: E402  # after benchmarks/ is put on sys.path

BATCH = 1000
#: Numbers as people write them in each region: ``i`` gives a different, possible one.
NATIONAL: dict[str, Callable[[int], str]] = {
    "CN": lambda i: f"138 {i // 10_000:04d} {i % 10_000:04d}",
    "US": lambda i: f"(415) 555-{i % 10_000:04d}",
    "GB": lambda i: f"020 7946 {i % 10_000:04d}",
    "IN": lambda i: f"098765 {i % 100_000:05d}",
    "BR": lambda i: f"(11) 91234-{i % 10_000:04d}",
}
#: Already E.164, of five countries (for the mixed batches).
E164: tuple[Callable[[int], str], ...] = (
    lambda i: f"+86138{i:08d}",
    lambda i: f"+1415555{i % 10_000:04d}",
    lambda i: f"+4420794{i % 100_000:05d}",
    lambda i: f"+9198765{i % 100_000:05d}",
    lambda i: f"+5511912{i % 1_000_000:06d}",
)

#: The child of the first-use figures: one fresh interpreter per round.
FIRST_USE = """
import json, time
import sms_async._phones as phones
wall, cpu = time.perf_counter(), time.process_time()
import phonenumbers
imported = (time.perf_counter() - wall, time.process_time() - cpu)
normalizer = phones.PhoneNormalizer("CN")
cpu = time.process_time()
assert normalizer.normalize("138 0013 8000") == ("+8613800138000", None)
first = time.process_time() - cpu
cpu = time.process_time()
assert normalizer.normalize("139 0013 8000") == ("+8613900138000", None)
second = time.process_time() - cpu
print(json.dumps({"import_wall": imported[0], "import_cpu": imported[1],
                  "first": first, "second": second}))
"""


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def per_number(work: Callable[[], int], rounds: int) -> list[float]:
    """Microseconds per number of *work* (which returns how many it did), each round."""
    work()  # warm-up, dropped
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        done = work()
        samples.append((time.perf_counter() - started) / done * 1e6)
    return samples


def e164_batches(numbers: int, mixed: bool) -> list[list[str]]:
    makers = E164 if mixed else E164[:1]
    phones = [makers[i % len(makers)](i) for i in range(numbers)]
    return [phones[i : i + BATCH] for i in range(0, numbers, BATCH)]


def bench_quick(numbers: int, rounds: int) -> dict[str, list[float]]:
    normalizer = PhoneNormalizer("CN")
    out: dict[str, list[float]] = {}
    for key, mixed in (("phones_e164", False), ("phones_e164_mixed", True)):
        batches = e164_batches(numbers, mixed)
        if not all(normalizer.quick_all(batch) for batch in batches):
            raise RuntimeError(f"{key}: a batch does not pass the E.164 shortcut")

        def work(batches: list[list[str]] = batches) -> int:
            quick_all = normalizer.quick_all
            for batch in batches:
                quick_all(batch)
            return numbers

        out[key] = per_number(work, rounds)
    members = [
        Batch([{"phone": phone, "name": "Contact"} for phone in batch])
        for batch in e164_batches(numbers, mixed=False)
    ]
    for key, dedupe in (("phones_refine", False), ("phones_refine_dedupe", True)):

        def refine(dedupe: bool = dedupe) -> int:
            rules = PhoneRules(normalizer, dedupe=dedupe)  # a new upload: nothing seen yet
            invalid: list[str] = []
            for batch in members:
                rules.refine(batch, 0, invalid)
            if invalid:
                raise RuntimeError(f"refine refused {len(invalid)} numbers")
            return numbers

        out[key] = per_number(refine, rounds)
    return out


def bench_national(numbers: int, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for region, make in NATIONAL.items():
        normalizer = PhoneNormalizer(region)
        written = [make(i) for i in range(numbers)]
        refused = [text for text in written if normalizer.normalize(text)[0] is None]
        if refused:
            raise RuntimeError(f"{region}: {len(refused)} refused, e.g. {refused[0]!r}")

        def work(normalizer: PhoneNormalizer = normalizer, written: list[str] = written) -> int:
            normalize = normalizer.normalize
            for text in written:
                normalize(text)
            return len(written)

        out[f"phones_national_{region}"] = per_number(work, rounds)
    return out


def bench_first_use(rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"import_wall": [], "import_cpu": [], "first": [], "second": []}
    for round_no in range(rounds + 1):  # round 0 warms the file cache and is dropped
        done = subprocess.run(
            [sys.executable, "-c", FIRST_USE], capture_output=True, text=True, check=True
        )
        if round_no:
            for key, seconds in json.loads(done.stdout).items():
                out[key].append(seconds * 1e3)
    return out


def dedupe_bytes(count: int) -> tuple[int, int]:
    """What ``dedupe=True`` holds after *count* distinct phones, and its peak (bytes)."""
    rules = PhoneRules(None, dedupe=True)
    first_time = rules.first_time
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(count):
            first_time(f"+86138{i:08d}")
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return held - before, peak - before


def bench_dedupe(count: int, rounds: int) -> dict[str, list[float]]:
    held: list[float] = []
    peak: list[float] = []
    scale = 1e6 / count  # per million phones
    for _ in range(rounds):
        now, top = dedupe_bytes(count)
        held.append(now / 1e6 * scale)
        peak.append(top / 1e6 * scale)
    return {"held": held, "peak": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (7)")
    parser.add_argument("--numbers", type=int, default=100_000, help="E.164 numbers (100000)")
    parser.add_argument("--national", type=int, default=20_000, help="per region (20000)")
    parser.add_argument("--million", type=int, default=1_000_000, help="phones for dedupe")
    parser.add_argument("--dedupe-rounds", type=int, default=3, help="(3)")
    parser.add_argument("--json", action="store_true", help="end with a JSON line of the figures")
    options = parser.parse_args()
    rounds = options.rounds

    rows: list[dict[str, Any]] = []

    def row(key: str, figure: str, samples: Sequence[float], unit: str) -> None:
        rows.append({"key": key, "figure": figure, **spread(samples), "unit": unit})

    log("E.164 batches ...")
    quick = bench_quick(options.numbers, rounds)
    per = "µs/number"
    row("phones_e164", "quick_all, batches of 1000 E.164 numbers of CN", quick["phones_e164"], per)
    row(
        "phones_e164_mixed",
        "quick_all, batches of 1000 E.164 numbers of 5 countries",
        quick["phones_e164_mixed"],
        per,
    )
    row("phones_refine", "PhoneRules.refine, E.164 batches of 1000", quick["phones_refine"], per)
    row(
        "phones_refine_dedupe",
        "PhoneRules.refine with dedupe, E.164 batches of 1000",
        quick["phones_refine_dedupe"],
        per,
    )
    log("national formats ...")
    for key, samples in bench_national(options.national, rounds).items():
        region = key.rsplit("_", 1)[1]
        example = NATIONAL[region](1)
        row(key, f'normalize(), national format of {region} ("{example}")', samples, per)
    log("first use, fresh interpreters ...")
    first = bench_first_use(rounds)
    row("phones_import_wall", "`import phonenumbers`, wall", first["import_wall"], "ms")
    row("phones_import_cpu", "`import phonenumbers`, CPU", first["import_cpu"], "ms")
    row("phones_first_use", "first normalize() in a process, CPU (metadata)", first["first"], "ms")
    row("phones_second", "second normalize() in a process, CPU", first["second"], "ms")
    log("dedupe memory ...")
    memory = bench_dedupe(options.million, options.dedupe_rounds)
    millions = f"{options.million:,} phones"
    unit = "MB per million"
    row("phones_dedupe_mb", f"dedupe=True, held after {millions}", memory["held"], unit)
    row("phones_dedupe_peak_mb", f"dedupe=True, peak over {millions}", memory["peak"], unit)

    print(f"machine: {machine()}")
    print(f"rounds: {rounds} (after a warm-up); {options.numbers:,} E.164 numbers; ")
    print(f"{options.national:,} national numbers per region; dedupe over {millions}")
    print()
    print("| figure | median (min-max) |")
    print("|---|---|")
    for found in rows:
        low, high = found["min"], found["max"]
        print(
            f"| {found['figure']} | {found['median']:.3g} {found['unit']} ({low:.3g}-{high:.3g}) |"
        )
    if options.json:
        print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
