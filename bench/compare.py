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


# Suite runs get Python's default bytecode caching unless this is set (`--bytecode-as-set`). With
# PYTHONDONTWRITEBYTECODE set (as on the machine these figures come from), pytest parses and rewrites
# the modules of every pytest plugin's package on each run: Hypothesis (0.4 s, in the profiles that
# fuzz), and a checkout run from PYTHONPATH (`--before`, 0.2 s) but not the installed suite, which
# made a before/after comparison unfair.
BYTECODE_AS_SET = False


def run_suite(profile: str, image: str | None, extra: list[str], source: Path | None = None,
              cold: bool = False) -> SuiteRun:
    """A whole `pytest --smconform=PROFILE IMAGE` in a fresh process, timed, with its memory peak.

    `source`: a checkout whose pytest_smconform to run instead of the installed one (before/after).
    `cold`: with empty spec and layer-scan caches of its own (a first run on a new machine or image)."""
    env = dict(os.environ)
    if not BYTECODE_AS_SET:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:
            env["SMCONFORM_SPEC_CACHE"], env["SMCONFORM_SCAN_CACHE"] = f"{tmp}/specs", f"{tmp}/layers"
        report, out = Path(tmp) / "r.json", Path(tmp) / "out.txt"
        argv = [sys.executable, "-m", "pytest", f"--smconform={profile}", *([image] if image else []), "-q",
                "-p", "no:cacheprovider", f"--smconform-report={report}", *extra]
        with out.open("wb") as sink:
            start = time.monotonic()
            proc = subprocess.Popen(argv, cwd=tmp, stdout=sink, stderr=subprocess.STDOUT, env=env)
            # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the max over all children).
            _, status, usage = os.wait4(proc.pid, 0)
            took = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        verdict = json.loads(report.read_text())["verdict"] if report.exists() else "no report"
        return SuiteRun(took, verdict, int(usage.ru_maxrss), proc.returncode, out.read_text()[-2000:])


def compile_suite(*checkouts: Path | None) -> None:
    """Byte-compile the suite that will be timed, as `pip install` does for an installed package.

    An editable checkout keeps no bytecode for a module changed since its last import when
    PYTHONDONTWRITEBYTECODE is set (as on the machine these figures come from): every timed run
    would then compile those modules again, a cost no installed suite has."""
    import compileall
    import importlib.util

    for checkout in checkouts or (None,):
        if checkout is not None:
            package = checkout / "pytest_smconform"
        else:
            spec = importlib.util.find_spec("pytest_smconform")
            assert spec is not None and spec.origin is not None, "pytest_smconform is not installed"
            package = Path(spec.origin).parent
        compileall.compile_dir(str(package), quiet=1)


class RunFailed(Exception):
    """A suite run whose verdict was not the expected one: its time is not comparable."""


def suite_seconds(profile: str, image: str, extra: list[str], want: str = "conformant",
                  source: Path | None = None, cold: bool = False) -> float:
    run = run_suite(profile, image, extra, source, cold)
    if run.returncode not in (0, 1) or run.verdict != want:
        raise RunFailed(f"the {profile} run gave {run.verdict} (exit {run.returncode}), not {want}:\n{run.tail}")
    return run.seconds


def compare_many(cases: dict[str, tuple[Callable[[], float], Callable[[], float]]], runs: int,
                 json_path: Path | None, names: tuple[str, str] = ("floor", "suite")) -> dict[str, dict[str, Any]]:
    """Every case's floor and suite, interleaved run by run so drift on a shared machine hits all alike."""
    floors: dict[str, list[float]] = {label: [] for label in cases}
    suites: dict[str, list[float]] = {label: [] for label in cases}
    failed: dict[str, int] = {label: 0 for label in cases}
    for i in range(runs):
        for label, (floor, suite) in cases.items():
            low = floor()
            try:
                whole = suite()
            except RunFailed as exc:
                # Left out of the medians, and said: a wrong verdict is a defect, not a data point.
                failed[label] += 1
                print(f"run {i + 1} {label}: floor {low:.2f} s, SUITE RUN LEFT OUT: {exc}", flush=True)
                continue
            floors[label].append(low)
            suites[label].append(whole)
            print(f"run {i + 1} {label}: {names[0]} {floors[label][-1]:.2f} s, {names[1]} {suites[label][-1]:.2f} s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    summary = {}
    for label in cases:
        if not floors[label]:
            continue
        low, whole = statistics.median(floors[label]), statistics.median(suites[label])
        # Each suite run against the floor run just before it: drift between runs cancels out.
        paired = statistics.median(s / f for f, s in zip(floors[label], suites[label], strict=True))
        summary[label] = {"floor_median": low, "suite_median": whole, "ratio": whole / low, "paired": paired,
                          "floors": floors[label], "suites": suites[label], "left_out": failed[label]}
    print(f"\n{'':<20} {names[0]:>8} {names[1]:>8} {'ratio':>7} {'paired':>7}   (medians of {runs} runs; paired: "
          "median of each run's own ratio)")
    for label, row in summary.items():
        left = f"  ({row['left_out']} suite runs left out: wrong verdict)" if row["left_out"] else ""
        print(f"{label:<20} {row['floor_median']:>7.2f}s {row['suite_median']:>7.2f}s {row['ratio']:>6.2f}x "
              f"{row['paired']:>6.2f}x{left}")
    if json_path is not None:
        json_path.write_text(json.dumps(summary, indent=2))
    return summary
