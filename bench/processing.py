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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare import compare

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
    compare(f"processing on {args.image}", lambda: floor_once(args.image),
            lambda: profile_once(args.image)[0], args.runs, args.json)

if __name__ == "__main__":
    main()
