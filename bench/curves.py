"""How the suite's cost grows: fuzz examples, processing instances, image size for the layer scan.

Each point is a whole run in a fresh process (its wall time and its VmHWM), medians of --runs.

    python bench/curves.py fuzz [--counts 1,10,50] [--runs N]       # jupyterlab and processing
    python bench/curves.py instances [--counts 1,2,4,8] [--runs N]  # processing, against its floor
    python bench/curves.py layers [--sizes 0.5,1,2,5,10] [--runs N] # throwaway images, removed after

`layers` builds images of random files (8 MiB each) with `docker import` of a streamed tar,
labelled io.smconform.bench=layer-scan, and removes them at the end; it refuses sizes that would
leave less than 20 GB free on the engine's disk. For each it times the suite's static checks (the
layer directories read in place) and, in a separate process, the streamed `docker save` scan the
suite falls back on for a remote engine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

import floors
from compare import compile_suite, run_suite
from imported import docker_import

FILE_SIZE = 8 << 20
BENCH_LABEL = "io.smconform.bench=layer-scan"
FREE_MARGIN = 20 << 30


def median_run(profile: str, image: str | None, extra: list[str], runs: int,
               cold: bool = False) -> tuple[float, float, str]:
    """(median seconds, median peak MiB, verdicts seen) of `runs` whole suite runs (`cold`: empty caches)."""
    times, peaks, verdicts = [], [], set()
    for _ in range(runs):
        run = run_suite(profile, image, extra, cold=cold)
        if run.returncode not in (0, 1):
            raise SystemExit(f"the {profile} run broke (exit {run.returncode}):\n{run.tail}")
        times.append(run.seconds)
        peaks.append(run.peak_kib / 1024)
        verdicts.add(run.verdict)
    return statistics.median(times), statistics.median(peaks), ",".join(sorted(verdicts))


def fuzz(counts: list[int], runs: int) -> None:
    print("| profile | fuzz_examples | containers started for the fuzzed requirement | median s | peak MiB | verdict |")
    print("|---|---|---|---|---|---|")
    for profile in ("jupyterlab", "processing"):
        image = f"smconform-fixture/{profile}-conforming:latest"
        for count in counts:
            seconds, peak, verdict = median_run(profile, image, [f"--smconform-option=fuzz_examples={count}"], runs)
            print(f"| {profile} | {count} | {count + 1} | {seconds:.2f} | {peak:.0f} | {verdict} |", flush=True)


def instances(counts: list[int], runs: int) -> None:
    image = "smconform-fixture/processing-conforming:latest"
    print("| instances (cluster_size) | floor median s | suite median s | ratio | suite peak MiB | verdict |")
    print("|---|---|---|---|---|---|")
    for count in counts:
        lows = [floors.timed(floors.processing(image, instances=count)) for _ in range(runs)]
        seconds, peak, verdict = median_run("processing", image, [f"--smconform-option=cluster_size={count}"], runs)
        low = statistics.median(lows)
        print(f"| {count} | {low:.2f} | {seconds:.2f} | {seconds / low:.2f}x | {peak:.0f} | {verdict} |", flush=True)


def _random_tar(sink: object, size: int) -> None:
    """A tar of `size` bytes of random files, written to `sink` as it is made (never held whole)."""
    with tarfile.open(fileobj=sink, mode="w|") as tar:  # type: ignore[call-overload]
        for index in range(max(1, size // FILE_SIZE)):
            info = tarfile.TarInfo(f"data/{index // 100:03d}/blob-{index:05d}.bin")
            info.size, info.mode, info.mtime = FILE_SIZE, 0o644, int(time.time())
            tar.addfile(info, _RandomFile(FILE_SIZE))


class _RandomFile:
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return os.urandom(size)


def build_image(gigabytes: float) -> str:
    return docker_import(f"smconform-bench/layer-scan:{gigabytes:g}g", BENCH_LABEL,
                         lambda sink: _random_tar(sink, int(gigabytes * (1 << 30))))


SAVE_SCAN = """
import resource, sys, time
from pytest_smconform.engine.docker_engine import DockerEngine
from pytest_smconform.engine.labels import new_run_id
from pytest_smconform.engine.layers import scan_image_stream
engine = DockerEngine(new_run_id(), timeout=900)
start = time.monotonic()
scan = scan_image_stream(engine.image_tar_stream(sys.argv[1]), set())
print(time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(scan.final_tree()))
"""


def save_scan(tag: str) -> tuple[float, float]:
    """(seconds, peak MiB) of the streamed `docker save` scan in a fresh process; NaN when it failed."""
    out = subprocess.run([sys.executable, "-c", SAVE_SCAN, tag], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(f"the `docker save` scan of {tag} failed: {(out.stderr.strip().splitlines() or ['?'])[-1][:200]}")
        return float("nan"), float("nan")
    seconds, peak, _ = out.stdout.split()
    return float(seconds), int(peak) / 1024


def layers(sizes: list[float], runs: int) -> None:
    root = subprocess.run(["docker", "info", "-f", "{{.DockerRootDir}}"], capture_output=True, text=True,
                          check=True).stdout.strip()
    free = shutil.disk_usage(root).free
    kept = [s for s in sizes if s * (1 << 30) + FREE_MARGIN < free]
    if kept != sizes:
        print(f"only {free / (1 << 30):.0f} GB free on {root}: sizes capped to {kept}")
    print("| image GB | files | static checks median s | peak MiB | `docker save` scan median s | its peak MiB |")
    print("|---|---|---|---|---|---|")
    static = ["-m", "smconform_static and not smconform_run"]
    made: list[str] = []
    try:
        for size in kept:
            tag = build_image(size)
            made.append(tag)
            # Cold: the layer scan itself is what grows (a repeated run of the image reads its cached scan).
            seconds, peak, _ = median_run("jupyterlab", tag, static, runs, cold=True)
            saves = [save_scan(tag) for _ in range(runs)]
            save_s = statistics.median(s for s, _ in saves)
            save_peak = statistics.median(p for _, p in saves)
            print(f"| {size:g} | {max(1, int(size * (1 << 30)) // FILE_SIZE)} | {seconds:.2f} | {peak:.0f} | "
                  f"{save_s:.2f} | {save_peak:.0f} |", flush=True)
    finally:
        for tag in made:
            subprocess.run(["docker", "rmi", "-f", tag], stdout=subprocess.DEVNULL, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("curve", choices=["fuzz", "instances", "layers"])
    parser.add_argument("--counts", default=None, help="fuzz examples or instances, comma-separated")
    parser.add_argument("--sizes", default="0.5,1,2,5,10", help="image sizes in GB for `layers`")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    compile_suite()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"this process's own peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")
    if args.curve == "fuzz":
        fuzz([int(x) for x in (args.counts or "1,10,50").split(",")], args.runs)
    elif args.curve == "instances":
        instances([int(x) for x in (args.counts or "1,2,4,8").split(",")], args.runs)
    else:
        layers([float(x) for x in args.sizes.split(",")], args.runs)


if __name__ == "__main__":
    main()
