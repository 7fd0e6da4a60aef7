"""Benchmark: the whole `jupyterlab` profile against its floor, measured in the same run.

Floor: one container started the way Studio starts it (same plan: volumes, metadata, env,
port), /jupyterlab/default/api/status polled to 200, container removed. Profile: a whole
`pytest --smconform=jupyterlab IMAGE` run in a fresh process. Prints medians and the ratio.

    python bench/jupyterlab.py [IMAGE] [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from compare import compare

from pytest_smconform.engine.docker_engine import DockerEngine
from pytest_smconform.engine.labels import new_run_id
from pytest_smconform.engine.plan import FileDrop, LaunchPlan, VolumeMount

DEFAULT_IMAGE = "smconform-fixture/jupyterlab-conforming:latest"


def floor_once(image: str) -> float:
    """Seconds from create to the first 200 on the health endpoint, plus removal."""
    engine = DockerEngine(new_run_id())
    plan = LaunchPlan(
        name="floor", image=image, ports=[8888],
        env={"AWS_REGION": "eu-south-2", "AWS_DEFAULT_REGION": "eu-south-2"},
        volumes=[VolumeMount("/home/sagemaker-user", owner=(1000, 100)), VolumeMount("/opt/ml")],
        files=[FileDrop("/opt/ml/metadata/resource-metadata.json", b'{"AppType": "JupyterLab"}')],
    )
    start = time.monotonic()
    launch = engine.start(plan)
    try:
        url = launch.url(8888, "/jupyterlab/default/api/status")
        while time.monotonic() - start < 120:
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        else:
            raise SystemExit("the floor container never answered 200")
    finally:
        engine.remove(launch)
        engine.sweep()
    return time.monotonic() - start


def profile_once(image: str, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--smconform=jupyterlab", image, "-q", "-p", "no:cacheprovider",
             f"--smconform-report={Path(tmp) / 'r.json'}", *extra],
            cwd=tmp, capture_output=True, text=True, check=False)
        took = time.monotonic() - start
        verdict = json.loads((Path(tmp) / "r.json").read_text())["verdict"]
    if result.returncode != 0 or verdict != "conformant":
        raise SystemExit(f"the profile run did not pass ({verdict}):\n{result.stdout[-2000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", nargs="?", default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--fuzz-examples", type=int, default=None, help="override fuzz_examples")
    args = parser.parse_args()
    extra = [f"--smconform-option=fuzz_examples={args.fuzz_examples}"] if args.fuzz_examples else []
    compare(f"jupyterlab on {args.image}", lambda: floor_once(args.image),
            lambda: profile_once(args.image, extra), args.runs, args.json)

if __name__ == "__main__":
    main()
