"""Interrupting a run (Ctrl-C, SIGTERM) leaves nothing behind; a SIGKILLed run's leftovers are swept
by the next run, and only those."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.docker
LABEL = "io.smconform.run"


def _resources(run_id: str) -> list[str]:
    import docker

    # The low-level listing: no per-object inspect that could race with a removal.
    api = docker.from_env().api
    label = {"label": f"{LABEL}={run_id}"}
    found = [f"container {c['Id'][:12]}" for c in api.containers(all=True, filters=label)]
    found += [f"volume {v['Name']}" for v in (api.volumes(filters=label) or {}).get("Volumes") or []]
    found += [f"network {n['Name']}" for n in api.networks(filters=label)]
    return found


def _start(image: str, report: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "--smconform=jupyterlab", image, f"--smconform-report={report}",
         "-p", "no:cacheprovider", "-q"],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    # A process started in the background by a non-interactive shell (as CI runners start
    # jobs) inherits SIGINT ignored; a terminal's Ctrl-C reaches a process that has it default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_container(pid: int, count: int = 1, timeout: float = 60) -> str:
    """The run id of the run `pid`, once it has created `count` containers (removed ones included:
    the count is of distinct ids seen)."""
    import docker

    api = docker.from_env().api
    seen: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for container in api.containers(all=True, filters={"label": f"io.smconform.pid={pid}"}):
            seen[container["Id"]] = str(container["Labels"][LABEL])
        if len(seen) >= count:
            return next(iter(seen.values()))
        time.sleep(0.05)
    raise AssertionError(f"the run never started {count} container(s)")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
# The moment is a count of containers the run has created, not a delay: a fast run can be over
# before any fixed delay, and the signal would then interrupt nothing.
@pytest.mark.parametrize("containers", [1, 2], ids=["at-first-container", "mid-run"])
def test_interrupted_run_leaves_nothing_and_writes_an_incomplete_report(
        signum: int, containers: int, fixture_image: Any, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = _start(fixture_image("jupyterlab", "conforming"), report, tmp_path)
    run_id = _wait_for_container(proc.pid, containers)
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, output.decode()[-2000:]
    assert _resources(run_id) == []
    data = json.loads(report.read_text())
    assert data["verdict"] == "incomplete"
    assert data["run"]["interrupted"] in ("KeyboardInterrupt", "SIGTERM")


def test_killed_run_is_swept_by_the_next_run_and_only_it(fixture_image: Any, run_suite: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    image = fixture_image("jupyterlab", "conforming")
    # A host identity of this test's own: a suite run elsewhere on the machine (another CI
    # worker) sweeps only its host's dead runs, so it cannot sweep the victim before we look.
    monkeypatch.setenv("SMCONFORM_HOST", f"sweep-test-{uuid.uuid4().hex[:8]}")
    victim = _start(image, tmp_path / "victim.json", tmp_path)
    victim_run = _wait_for_container(victim.pid)
    bystander = _start(image, tmp_path / "bystander.json", tmp_path)
    bystander_run = _wait_for_container(bystander.pid)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    time.sleep(1)  # let the engine finish anything the victim had asked for
    assert _resources(victim_run) != []
    # A run of another host identity leaves the dead run's resources alone (the pid may be another
    # machine's) ...
    with monkeypatch.context() as elsewhere:
        elsewhere.setenv("SMCONFORM_HOST", "another-host")
        assert run_suite("jupyterlab", image, "-k", "JL-WORKDIR").outcome("JL-WORKDIR") == "passed"
    assert _resources(victim_run) != []
    # ... and the next run of the same host sweeps them.
    run = run_suite("jupyterlab", image, "-k", "JL-WORKDIR")
    assert run.outcome("JL-WORKDIR") == "passed"
    assert _resources(victim_run) == []
    # A live run's resources are not touched by the sweep.
    assert bystander.poll() is None or _resources(bystander_run) == []
    bystander.communicate(timeout=300)
    assert bystander.returncode == 0
    assert _resources(bystander_run) == []
