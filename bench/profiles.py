"""Benchmark: every profile's whole run on its conforming fixture against its floor, in one run.

Floor: the containers the profile's requirements force, started and removed by hand with the
docker SDK (bench/floors.py says what each holds). Suite: a whole `pytest --smconform=PROFILE
IMAGE` in a fresh process. Floors and suites are interleaved run by run; medians and ratios.

    python bench/profiles.py [--profiles jupyterlab,processing] [--runs N] [--json PATH] [--before CHECKOUT]
                             [--cache warm|cold|both] [--bytecode-as-set]

--before CHECKOUT runs the suite of another checkout too (its own floor measured beside it), so a
change is judged in one run, under the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import compare
import floors
from compare import compare_many, compile_suite, run_suite, suite_seconds

PROFILES = ["jupyterlab", "kernelgateway", "processing", "local-mode", "spaces"]
EXTRA = {"local-mode": ["--smconform-allow-engine-socket"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated (default: all five)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="--smconform-option for every suite run (e.g. fuzz_examples=10)")
    parser.add_argument("--before", type=Path, default=None, metavar="CHECKOUT",
                        help="also run the suite from this checkout (e.g. a `git worktree` of main), same floors")
    parser.add_argument("--after", type=Path, default=None, metavar="CHECKOUT",
                        help="run the suite from this checkout instead of the installed one")
    parser.add_argument("--cache", choices=["warm", "cold", "both"], default="both",
                        help="suite runs with the spec and layer-scan caches primed (warm: a repeated run of an "
                             "image), empty (cold: a first run), or both as separate rows (default)")
    parser.add_argument("--bytecode-as-set", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE as set for the suite runs (default: Python's default "
                             "caching; see compare.BYTECODE_AS_SET)")
    args = parser.parse_args()
    compare.BYTECODE_AS_SET = args.bytecode_as_set
    compile_suite(args.after, *([args.before] if args.before else []))
    cases: dict[str, tuple[Callable[[], float], Callable[[], float]]] = {}
    for profile in args.profiles.split(","):
        image = f"smconform-fixture/{profile}-conforming:latest"
        extra = [*EXTRA.get(profile, []), *[f"--smconform-option={o}" for o in args.option]]
        floor = partial(floors.timed, floors.FLOORS[profile](image))
        if args.before is not None:
            cases[f"{profile} before"] = (floor, partial(suite_seconds, profile, image, extra, source=args.before))
        if args.cache in ("warm", "both"):
            # One untimed run primes the caches, as any earlier run of this image would have.
            run_suite(profile, image, extra, args.after)
            cases[profile] = (floor, partial(suite_seconds, profile, image, extra, source=args.after))
        if args.cache in ("cold", "both"):
            cases[f"{profile} cold"] = (floor, partial(suite_seconds, profile, image, extra, source=args.after,
                                                        cold=True))
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    summary = compare_many(cases, args.runs, args.json)
    fixed_start_table(summary, args.profiles.split(","), args.runs, args.after)


def fixed_start(profile: str, source: Path | None) -> float:
    """Seconds of a run that starts no container: interpreter, pytest, the plugin, specs, the engine's
    sweep and image inspect, collection (`--co`; Hypothesis's plugin left out, as a real run leaves it)."""
    extra = [*EXTRA.get(profile, []), "--co", "-p", "no:hypothesispytest"]
    return run_suite(profile, f"smconform-fixture/{profile}-conforming:latest", extra, source).seconds


def fixed_start_table(summary: dict[str, dict[str, Any]], profiles: list[str], runs: int,
                      source: Path | None) -> None:
    """The part of each suite run that no container work can remove, and the best ratio it leaves."""
    print(f"\n{'':<20} {'fixed':>8} {'best':>7} {'work':>7}   (fixed: median of {runs} `--co` runs; best: "
          "(floor + fixed) / floor; work: (suite - fixed) / floor)")
    for profile in profiles:
        if profile not in summary:
            continue
        fixed = statistics.median(fixed_start(profile, source) for _ in range(runs))
        low, whole = summary[profile]["floor_median"], summary[profile]["suite_median"]
        print(f"{profile:<20} {fixed:>7.2f}s {(low + fixed) / low:>6.2f}x {(whole - fixed) / low:>6.2f}x")


if __name__ == "__main__":
    main()
