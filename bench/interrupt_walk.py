"""How soon a first run exits after Ctrl-C while it walks the layers of an image of many files.

    python bench/interrupt_walk.py [--files 400000] [--tries 5] [--after 1.3] [--keep-image]

Builds an image of `--files` empty files (`docker import` of a streamed tar, about 30 s for 400,000),
then starts `pytest --smconform=processing IMAGE -k IMG-LAYER-IDS` with an empty layer-scan cache
`--tries` times, sends SIGINT `--after` seconds in (the walk is then under way), and prints how long
the run took to exit after it, its exit code and its report's verdict. The image is removed at the
end unless `--keep-image`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import IO

from imported import docker_import

TAG = "smconform-bench/many-files:latest"
LABEL = "io.smconform.bench=1"


def build(files: int) -> None:
    docker_import(TAG, LABEL, lambda sink: _empty_files_tar(sink, files))


def _empty_files_tar(sink: IO[bytes], files: int) -> None:
    with tarfile.open(fileobj=sink, mode="w|") as tar:
        for group in range(max(1, files // 1000)):
            folder = tarfile.TarInfo(f"data/d{group}")
            folder.type, folder.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(folder)
            for index in range(1000):
                tar.addfile(tarfile.TarInfo(f"data/d{group}/f{index}"), io.BytesIO(b""))


def interrupted_run(after: float) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SMCONFORM_SCAN_CACHE=f"{tmp}/layers")
        report = f"{tmp}/report.json"
        run = subprocess.Popen([sys.executable, "-m", "pytest", "--smconform=processing", TAG, "-q",
                                "-p", "no:cacheprovider", "-k", "IMG-LAYER-IDS", f"--smconform-report={report}"],
                               env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(after)
        sent = time.monotonic()
        run.send_signal(signal.SIGINT)
        code = run.wait()
        took = time.monotonic() - sent
        try:
            with open(report, encoding="utf-8") as handle:
                verdict = str(json.load(handle).get("verdict"))
        except (OSError, ValueError):
            verdict = "no report"
        return took, code, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=400_000)
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--after", type=float, default=1.3)
    parser.add_argument("--keep-image", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    build(args.files)
    print(f"built {TAG} ({args.files} files) in {time.monotonic() - started:.1f} s", flush=True)
    try:
        exits = []
        for attempt in range(1, args.tries + 1):
            took, code, verdict = interrupted_run(args.after)
            exits.append(took)
            print(f"try {attempt}: SIGINT at {args.after:.1f} s, exit {code} after {took:.2f} s, report {verdict}",
                  flush=True)
        print(f"median exit after SIGINT: {statistics.median(exits):.2f} s (max {max(exits):.2f} s)")
    finally:
        if not args.keep_image:
            subprocess.run(["docker", "rmi", "-f", TAG], stdout=subprocess.DEVNULL, check=False)


if __name__ == "__main__":
    main()
