"""Shared helpers for the suite's own tests: fixture images and running the suite in pytester."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
FIXTURE_PREFIX = "smconform-fixture"


def fixture_ref(profile: str, name: str) -> str:
    return f"{FIXTURE_PREFIX}/{profile}-{name}:latest"


def _engine_problem() -> str | None:
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:  # any failure means: no usable engine
        return f"no Docker engine ({type(exc).__name__}); run .ci/setup-engine.sh"
    return None


@pytest.fixture(scope="session")
def engine_available() -> None:
    problem = _engine_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(problem)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def fixture_image(engine_available: None) -> Any:
    """`fixture_image(profile, name)` -> image ref; fails with the build command when it is missing."""
    import docker

    client = docker.from_env()

    def get(profile: str, name: str) -> str:
        ref = fixture_ref(profile, name)
        try:
            client.images.get(ref)
        except docker.errors.ImageNotFound:
            pytest.fail(f"fixture image {ref} is missing: run `python fixtures/build.py --profile {profile}`")
        return ref

    return get


@dataclass
class SuiteRun:
    result: pytest.RunResult
    report: dict[str, Any]

    def outcome(self, req_id: str) -> str:
        for entry in self.report["results"]:
            if entry["id"] == req_id:
                return str(entry["outcome"])
        raise KeyError(req_id)

    def outcomes(self) -> dict[str, str]:
        return {entry["id"]: entry["outcome"] for entry in self.report["results"]}

    def failed_ids(self) -> set[str]:
        return {entry["id"] for entry in self.report["results"] if entry["outcome"] == "failed"}

    def entry(self, req_id: str) -> dict[str, Any]:
        return next(e for e in self.report["results"] if e["id"] == req_id)


@pytest.fixture
def run_suite(pytester: pytest.Pytester) -> Any:
    """Run `pytest --smconform=PROFILE IMAGE ...` in a subprocess and return output + JSON report."""

    def run(profile: str, image: str | None, *args: str) -> SuiteRun:
        report = pytester.path / "smconform-report.json"
        argv = [f"--smconform={profile}", f"--smconform-report={report}", "-p", "no:cacheprovider", *args]
        if image is not None:
            argv.insert(1, image)
        result = pytester.runpytest_subprocess(*argv, timeout=900)
        data = json.loads(report.read_text()) if report.exists() else {}
        return SuiteRun(result, data)

    return run


# -- the local Kubernetes control plane (.ci/cluster.sh) -----------------------------------------

CLUSTER_SCRIPT = REPO / ".ci" / "cluster.sh"


def _cluster(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(CLUSTER_SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="session")
def cluster_kubeconfig() -> Iterator[Path]:
    """A running control plane (etcd + kube-apiserver + the jupyter-k8s CRDs) shared by this session.

    Skipped only when it is explicitly unavailable: SMCONFORM_CLUSTER=off, or its binaries are not built
    outside CI (building takes 10-30 minutes: `bash .ci/cluster.sh build`, or SMCONFORM_CLUSTER=build).
    In CI (.ci/run builds the binaries first) a missing or broken control plane fails.
    """
    mode = os.environ.get("SMCONFORM_CLUSTER", "")
    if mode == "off":
        pytest.skip("the cluster tests are turned off (SMCONFORM_CLUSTER=off)")
    if _cluster("binaries", timeout=30).returncode != 0 and mode != "build" and not os.environ.get("CI"):
        pytest.skip("the control plane is not built: run `bash .ci/cluster.sh build` (10-30 min, cached) "
                    "or set SMCONFORM_CLUSTER=build")
    holder = str(os.getpid())
    started = _cluster("start", holder, timeout=3600)
    if started.returncode != 0:
        _cluster("release", holder, timeout=120)
        pytest.fail(f"the control plane did not start:\n{started.stderr[-3000:]}")
    try:
        yield Path(started.stdout.strip().splitlines()[-1])
    finally:
        _cluster("release", holder, timeout=120)
