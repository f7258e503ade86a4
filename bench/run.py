"""Benchmarks for the budgets in design §4 that exist so far; writes bench/RESULTS.md.

- screen one 20-medicine profile in process (budget ≤ 1 ms median);
- `lowdose screen PROFILE --json` as a whole process (budget ≤ 0.6 s median), beside
  `python -c pass` in the same run as the reference, with the ratio.

Run with `make bench` (or `.venv/bin/python bench/run.py [--quick]`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from results import write_section

HERE = Path(__file__).resolve().parent
PROFILE = HERE / "profile_20_medicines.json"
LOWDOSE = Path(sys.executable).with_name("lowdose")


@dataclass(frozen=True)
class Timing:
    name: str
    samples_s: tuple[float, ...]
    budget_s: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_s)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def verdict(self) -> str:
        if self.budget_s is None:
            return "reference"
        return "within budget" if self.median <= self.budget_s else "OVER BUDGET"


def time_calls(call: Callable[[], object], repeat: int, warmup: int = 50) -> tuple[float, ...]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return tuple(samples)


def time_process(argv: Sequence[str], repeat: int, env: dict[str, str]) -> tuple[float, ...]:
    samples = []
    for _ in range(repeat + 2):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        samples.append(time.perf_counter() - started)
    return tuple(samples[2:])  # the first runs warm the file cache


def in_process(repeat: int) -> list[Timing]:
    from lowdose.core.screening import screen
    from lowdose.knowledge.screening import load_screening_knowledge
    from lowdose.schemas.screening import Profile

    raw = json.loads(PROFILE.read_text())
    assert len(raw["medications"]) == 20
    knowledge = load_screening_knowledge()
    profile = Profile.model_validate(raw).to_core()

    def full() -> object:
        return screen(Profile.model_validate(raw).to_core(), knowledge).to_dict()

    return [
        Timing("screen, 20 medicines, in process (core call)",
               time_calls(lambda: screen(profile, knowledge), repeat), budget_s=0.001),
        Timing("… plus validating the JSON and building the result dict",
               time_calls(full, repeat)),
    ]


def whole_process(repeat: int) -> list[Timing]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOWDOSE_")}
    lowdose = [str(LOWDOSE)] if LOWDOSE.exists() else [sys.executable, "-m", "lowdose"]
    return [
        Timing("`python -c pass` (reference)",
               time_process([sys.executable, "-c", "pass"], repeat, env)),
        Timing("`lowdose screen profile.json --json`",
               time_process([*lowdose, "screen", str(PROFILE), "--json"], repeat, env),
               budget_s=0.6),
        Timing("`lowdose screen profile.json` (human output, Rich)",
               time_process([*lowdose, "screen", str(PROFILE)], repeat, env)),
    ]


def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # Other work on the machine slows whole-process runs most: record how busy it was.
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [("CPU", cpu), ("cores", str(os.cpu_count())), ("load average (1, 5, 15 min)", load),
            ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
            ("OS", f"{platform.system()} {platform.release()}"),
            ("date", date.today().isoformat())]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms" if seconds < 0.01 else f"{seconds * 1000:.0f} ms"


def report(calls: list[Timing], processes: list[Timing],
           repeat: tuple[int, int]) -> list[str]:
    """This script's sections of RESULTS.md: the machine, the screen in process, the process."""
    machine_section = ["## Machine", "", "| | |", "|---|---|",
                       *(f"| {k} | {v} |" for k, v in machine())]
    in_process = [f"## Screen in process ({repeat[0]} calls after warm-up)", "",
                  "| what | median | p95 | budget | |", "|---|---|---|---|---|"]
    for t in calls:
        budget = "—" if t.budget_s is None else f"≤ {ms(t.budget_s)}"
        verdict = "" if t.budget_s is None else t.verdict
        in_process.append(f"| {t.name} | {ms(t.median)} | {ms(t.p95)} | {budget} | {verdict} |")
    reference = processes[0].median
    whole = [f"## Whole process ({repeat[1]} runs each, after 2 warm-up runs)", "",
             "| what | median | p95 | × `python -c pass` | budget | |",
             "|---|---|---|---|---|---|"]
    for t in processes:
        budget = "—" if t.budget_s is None else f"≤ {ms(t.budget_s)}"
        verdict = "" if t.budget_s is None else t.verdict
        whole.append(f"| {t.name} | {ms(t.median)} | {ms(t.p95)} | "
                     f"{t.median / reference:.1f} | {budget} | {verdict} |")
    whole += ["", "The profile is `bench/profile_20_medicines.json`: 20 free-text medicines "
              "(brands, combinations, a misspelling, opioids and look-alikes), conditions, "
              "LDN and a planned procedure."]
    return ["\n".join(section) + "\n" for section in (machine_section, in_process, whole)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = (200, 5) if args.quick else (5000, 30)
    calls = in_process(repeat[0])
    processes = whole_process(repeat[1])
    for section in report(calls, processes, repeat):
        write_section(section.split("\n", 1)[0], section)
        print(section)


if __name__ == "__main__":
    main()
