"""Benchmark: the whole `processing` profile against its floor, measured in the same run.

Floor: one `docker run` of the same default job as SageMaker would start it (one instance,
the image's own ENTRYPOINT, /opt/ml/config/processingjobconfig.json and resourceconfig.json
copied in, hostname algo-1), waited for until it exits, removed. Profile: a whole
`pytest --smconform=processing IMAGE` in a fresh process. Prints medians and the ratio.

    python bench/processing.py [IMAGE] [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_smconform.engine.docker_engine import DockerEngine
from pytest_smconform.engine.labels import new_run_id
from pytest_smconform.engine.plan import FileDrop, LaunchPlan, VolumeMount
from pytest_smconform.model import processing as model

DEFAULT_IMAGE = "smconform-fixture/processing-conforming:latest"


def floor_once(image: str) -> float:
    engine = DockerEngine(new_run_id())
    request = model.ProcessingJobRequest()
    job_config = model.processing_job_config(request, image_uri=image, job_name="smconform-bench")
    resource = model.resource_config("algo-1", request.hosts)
    plan = LaunchPlan(
        name="floor", image=image, hostname="algo-1", volumes=[VolumeMount("/opt/ml")],
        files=[FileDrop("/opt/ml/config/processingjobconfig.json", model.dumps(job_config)),
               FileDrop("/opt/ml/config/resourceconfig.json", model.dumps(resource))],
    )
    start = time.monotonic()
    launch = engine.start(plan)
    try:
        engine.api.wait(launch.container_id, timeout=300)
    finally:
        engine.remove(launch)
        engine.sweep()
    return time.monotonic() - start


def profile_once(image: str) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--smconform=processing", image, "-q", "-p", "no:cacheprovider",
             f"--smconform-report={Path(tmp) / 'r.json'}"], cwd=tmp, capture_output=True, text=True, check=False)
        took = time.monotonic() - start
        verdict = json.loads((Path(tmp) / "r.json").read_text())["verdict"]
    if result.returncode != 0:
        raise SystemExit(f"the profile run did not pass ({verdict}):\n{result.stdout[-2000:]}")
    return took, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", nargs="?", default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    floors, profiles = [], []
    for i in range(args.runs):
        floors.append(floor_once(args.image))
        took, verdict = profile_once(args.image)
        profiles.append(took)
        print(f"run {i + 1}: floor {floors[-1]:.2f} s, profile {took:.2f} s ({verdict})", flush=True)
    floor, whole = statistics.median(floors), statistics.median(profiles)
    print(f"processing on {args.image}: floor median {floor:.2f} s, profile median {whole:.2f} s, "
          f"ratio {whole / floor:.2f}x ({args.runs} runs)")
    if args.json:
        args.json.write_text(json.dumps({"image": args.image, "floors": floors, "profiles": profiles,
                                         "floor_median": floor, "profile_median": whole,
                                         "ratio": whole / floor}, indent=2))


if __name__ == "__main__":
    main()
