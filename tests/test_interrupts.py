"""Runs interrupted at seeded random moments (SIGINT and SIGTERM, two profiles) leave nothing:
no container, volume, network, image or temporary file; an xdist worker killed outright leaves
nothing once the run ends (the controller sweeps what the dead worker owned)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from figures import record
from test_cleanup import LABEL, _default_sigint, _resources

pytestmark = pytest.mark.docker

# SMCONFORM_INTERRUPTS=40 for a long soak; the moments come from the seed, printed with each case.
SEED = int(os.environ.get("SMCONFORM_INTERRUPT_SEED", "8"))
RUNS = int(os.environ.get("SMCONFORM_INTERRUPTS", "8"))
PROFILES = ("jupyterlab", "processing")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _plan() -> list[tuple[str, signal.Signals, int, float]]:
    rng = random.Random(SEED)
    return [(PROFILES[i % 2], SIGNALS[(i // 2) % 2], rng.randint(1, 4), round(rng.uniform(0.0, 2.0), 2))
            for i in range(RUNS)]


def _api() -> Any:
    import docker

    return docker.from_env().api


def _everything_of(run_id: str) -> list[str]:
    """Containers, volumes, networks and images carrying the run's label."""
    images = _api().images(all=True, filters={"label": f"{LABEL}={run_id}"})
    return _resources(run_id) + [f"image {i['Id'][:19]}" for i in images]


def _start(argv: list[str], cwd: Path, tmp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen([sys.executable, "-m", "pytest", *argv, "-p", "no:cacheprovider", "-q"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_default_sigint)


def _containers_of(pids: set[int]) -> dict[str, tuple[int, str]]:
    """Container id -> (pid label, run id) of every container the given processes created."""
    out = {}
    for row in _api().containers(all=True, filters={"label": LABEL}):
        labels = row.get("Labels") or {}
        pid = int(labels.get("io.smconform.pid", "0") or 0)
        if pid in pids:
            out[row["Id"]] = (pid, str(labels[LABEL]))
    return out


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _wait_for(proc: subprocess.Popen[bytes], count: int, pids: Any, timeout: float = 240) -> dict[str, tuple[int, str]]:
    """Every container seen so far once the run has created `count` (or has ended)."""
    seen: dict[str, tuple[int, str]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        seen.update(_containers_of(pids()))
        if len(seen) >= count:
            return seen
        time.sleep(0.05)
    return seen


@pytest.mark.parametrize(("profile", "signum", "containers", "extra"), _plan(),
                         ids=[f"{p}-{s.name}-c{c}-d{d}" for p, s, c, d in _plan()])
def test_interrupted_at_a_random_moment_leaves_nothing(profile: str, signum: signal.Signals, containers: int,
                                                       extra: float, fixture_image: Any, tmp_path: Path) -> None:
    tmp, report = tmp_path / "tmp", tmp_path / "report.json"
    tmp.mkdir()
    proc = _start([f"--smconform={profile}", fixture_image(profile, "conforming"), f"--smconform-report={report}"],
                  tmp_path, tmp)
    seen = _wait_for(proc, containers, lambda: {proc.pid})
    time.sleep(extra)  # the random part of the moment: mid-start, mid-check, mid-teardown
    interrupted = proc.poll() is None
    if interrupted:
        proc.send_signal(signum)
    output, _ = proc.communicate(timeout=300)
    run_ids = {run for _, run in seen.values()} or {json.loads(report.read_text())["run"]["id"]}
    left = [item for run in run_ids for item in _everything_of(run)]
    record("interrupt", profile=profile, signal=signum.name, after_containers=containers, extra_s=extra,
           interrupted=interrupted, left=len(left) + len(list(tmp.iterdir())))
    assert left == [], output.decode()[-2000:]
    assert list(tmp.iterdir()) == [], "temporary files left behind"
    assert not list(tmp_path.glob(".smconform-*")), "a half-written report left behind"
    data = json.loads(report.read_text())
    if interrupted:
        assert proc.returncode != 0
        assert data["verdict"] == "incomplete"
        assert data["run"]["interrupted"] in ("KeyboardInterrupt", "SIGTERM")


def test_killed_xdist_worker_leaves_nothing(fixture_image: Any, tmp_path: Path) -> None:
    tmp, report = tmp_path / "tmp", tmp_path / "report.json"
    tmp.mkdir()
    proc = _start(["--smconform=jupyterlab", fixture_image("jupyterlab", "conforming"), "-n", "2",
                   f"--smconform-report={report}"], tmp_path, tmp)
    seen = _wait_for(proc, 1, lambda: _children(proc.pid))
    assert seen, "no worker started a container"
    victim, victim_run = next(iter(seen.values()))
    os.kill(victim, signal.SIGKILL)
    output, _ = proc.communicate(timeout=600)
    text = output.decode()
    # What the dead worker owned is removed by the controller, or else by the next run's sweep.
    nxt = _start(["--smconform=jupyterlab", fixture_image("jupyterlab", "conforming"), "-k", "JL-WORKDIR"],
                 tmp_path, tmp)
    nxt.communicate(timeout=300)
    run_ids = {run for _, run in seen.values()} | {victim_run}
    left = [item for run in run_ids for item in _everything_of(run)]
    record("xdist-worker-kill", run_ids=len(run_ids), left=len(left), controller_error="INTERNALERROR" in text)
    assert left == [], text[-2000:]
    if report.exists():
        verdict = json.loads(report.read_text())["verdict"]
        # A worker killed mid-item never leaves a conformant report; killed between items (e.g.
        # while it prewarmed), xdist gives its items to the other worker and nothing is lost.
        # The requirement the worker died under has no verdict: the run is incomplete, not conformant.
        crashed = "crashed while running" in text
        assert (verdict == "incomplete" if crashed else verdict == "conformant"), (verdict, text[-2000:])
