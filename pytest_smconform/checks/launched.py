"""Helpers for run checks: the shared launch, its app process, and commands as the app's user."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..engine import procfs
from ..platform.readiness import app_listener_pid
from ..verdicts import Blocked

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import Requirement


@dataclass(frozen=True)
class AppProcess:
    pid: int
    info: procfs.ProcInfo


def shared_launch(ctx: RunContext, req: Requirement, allow_unready: bool = False) -> Launch:
    """The launch this requirement shares; when it never got ready, blame the root cause."""
    assert req.launch is not None, f"{req.id} has no launch in its spec"
    launch = ctx.launch(req.launch)
    if launch.is_up or allow_unready:
        return launch
    culprit = ctx.diagnose(req.launch)
    if culprit is not None and culprit != req.id:
        raise Blocked(f"the app does not start as the platform launches it; root cause: {culprit}",
                      blocked_by=culprit)
    if culprit is None:
        raise Blocked(f"the app never got ready ({launch.ready_error})")
    return launch


def app_process(ctx: RunContext, launch: Launch, port: int) -> AppProcess:
    pid = launch.ready_detail.get("app_pid")
    if not isinstance(pid, int):
        pid = app_listener_pid(ctx, launch, port)
    if pid is None:
        pids = ctx.engine.top_pids(launch.container_id)
        if pids and not procfs.visible(pids):
            raise Blocked("the engine's processes are not visible in this host's /proc "
                          "(a remote or virtualised engine); run the suite on the engine's host")
        raise Blocked(f"no process in the container listens on port {port}")
    info = procfs.proc_info(pid)
    if info is None:
        raise Blocked(f"the app process {pid} ended while it was observed")
    launch.ready_detail["app_pid"] = pid
    return AppProcess(pid, info)


def run_as(ctx: RunContext, launch: Launch, proc: AppProcess, script: str) -> tuple[int | None, str]:
    """Run a probe script inside the container as the app process's own UID and GID (once: see `ctx.probe`)."""
    return ctx.probe(launch.container_id, ["sh", "-c", script], user=f"{proc.info.euid}:{proc.info.egid}")


def when_up(ctx: RunContext, req: Requirement, probes: Callable[[Launch], object], ready: bool = False) -> None:
    """Run probes on the run's pool as soon as the requirement's launch is up (`ready`: ready), beside
    the other checks.

    Everything runs in the background: a problem here is met again, and reported, by the check.
    """
    def run() -> None:
        launch = ctx.launch(req.launch or "")
        if launch.ready_at is not None or (launch.is_up and not ready):
            probes(launch)

    ctx.background(run)


def when_ready(ctx: RunContext, req: Requirement, probes: Callable[[Launch], object]) -> None:
    when_up(ctx, req, probes, ready=True)


def no_shell(code: int | None, output: str) -> bool:
    return code in (None, 126, 127) and ("executable file not found" in output or "no such file" in output.lower()
                                         or code is None)


@dataclass(frozen=True)
class StopResult:
    seconds: float
    exit_code: int | None
    killed: bool  # the grace ran out and the engine sent SIGKILL


def timed_stop(ctx: RunContext, launch: Launch, grace: int) -> StopResult:
    """`docker stop` with `grace` seconds, as the platform's DeleteApp does; how it ended."""
    if not ctx.engine.is_running(launch.container_id):
        raise Blocked("the container had already ended before the stop could be sent")
    start = time.monotonic()
    ctx.engine.stop(launch.container_id, timeout=grace)
    took = time.monotonic() - start
    code = ctx.engine.state(launch.container_id).get("ExitCode")
    return StopResult(took, code, code == 137 or took >= grace - 0.2)
