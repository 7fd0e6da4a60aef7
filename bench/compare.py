"""The loop every benchmark shares: floor and suite interleaved, medians, the ratio; one pytest run."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SuiteRun:
    seconds: float
    verdict: str
    peak_kib: int  # the pytest process's VmHWM (ru_maxrss of that child alone)
    returncode: int
    tail: str


def run_suite(profile: str, image: str | None, extra: list[str]) -> SuiteRun:
    """A whole `pytest --smconform=PROFILE IMAGE` in a fresh process, timed, with its memory peak."""
    with tempfile.TemporaryDirectory() as tmp:
        report, out = Path(tmp) / "r.json", Path(tmp) / "out.txt"
        argv = [sys.executable, "-m", "pytest", f"--smconform={profile}", *([image] if image else []), "-q",
                "-p", "no:cacheprovider", f"--smconform-report={report}", *extra]
        with out.open("wb") as sink:
            start = time.monotonic()
            proc = subprocess.Popen(argv, cwd=tmp, stdout=sink, stderr=subprocess.STDOUT)
            # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the max over all children).
            _, status, usage = os.wait4(proc.pid, 0)
            took = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        verdict = json.loads(report.read_text())["verdict"] if report.exists() else "no report"
        return SuiteRun(took, verdict, int(usage.ru_maxrss), proc.returncode, out.read_text()[-2000:])


def suite_seconds(profile: str, image: str, extra: list[str], want: str = "conformant") -> float:
    run = run_suite(profile, image, extra)
    if run.returncode != 0 or run.verdict != want:
        raise SystemExit(f"the {profile} run did not pass ({run.verdict}):\n{run.tail}")
    return run.seconds


def compare_many(cases: dict[str, tuple[Callable[[], float], Callable[[], float]]], runs: int,
                 json_path: Path | None, names: tuple[str, str] = ("floor", "suite")) -> dict[str, dict[str, Any]]:
    """Every case's floor and suite, interleaved run by run so drift on a shared machine hits all alike."""
    floors: dict[str, list[float]] = {label: [] for label in cases}
    suites: dict[str, list[float]] = {label: [] for label in cases}
    for i in range(runs):
        for label, (floor, suite) in cases.items():
            floors[label].append(floor())
            suites[label].append(suite())
            print(f"run {i + 1} {label}: {names[0]} {floors[label][-1]:.2f} s, {names[1]} {suites[label][-1]:.2f} s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    summary = {}
    for label in cases:
        low, whole = statistics.median(floors[label]), statistics.median(suites[label])
        summary[label] = {"floor_median": low, "suite_median": whole, "ratio": whole / low,
                          "floors": floors[label], "suites": suites[label]}
    print(f"\n{'':<16} {names[0]:>8} {names[1]:>8} {'ratio':>7}   (medians of {runs} runs)")
    for label, row in summary.items():
        print(f"{label:<16} {row['floor_median']:>7.2f}s {row['suite_median']:>7.2f}s {row['ratio']:>6.2f}x")
    if json_path is not None:
        json_path.write_text(json.dumps(summary, indent=2))
    return summary
