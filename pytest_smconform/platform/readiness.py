"""Waiting for an app without fixed sleeps: poll quickly, back off, stop at the first decisive sign."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests

from ..engine import procfs

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch

# launch.ready_detail key: host PID of the container's first process, when the readiness wait saw it.
INIT_PID = "init_pid"


def poll(until: Callable[[], bool], timeout: float, first: float = 0.05, most: float = 0.5,
         cancel: threading.Event | None = None) -> bool:
    """Call `until` with a growing delay until it is true, the timeout passes, or the run is cancelled."""
    deadline = time.monotonic() + timeout
    delay = first
    while True:
        if until():
            return True
        if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
            return False
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, most)


def exited(ctx: RunContext, launch: Launch) -> str | None:
    state = ctx.engine.state(launch.container_id)
    if state.get("Running"):
        return None
    return f"the container exited with code {state.get('ExitCode')} before it was ready"


def app_listener_pid(ctx: RunContext, launch: Launch, port: int) -> int | None:
    """Host PID of the process that owns the LISTEN socket on `port`, if any."""
    pids = ctx.engine.top_pids(launch.container_id)
    if not procfs.visible(pids):
        return None
    inodes = {lst.inode for lst in procfs.listeners(pids[0]) if lst.port == port}
    if not inodes:
        return None
    for pid in sorted(pids):
        if procfs.socket_inodes(pid) & inodes:
            return pid
    return None


def wait_http(ctx: RunContext, launch: Launch, port: int, path: str, timeout: float,
              settle: float = 8.0) -> None:
    """Poll `path` until 200; stop early when the container exits or a non-200 answer persists."""
    detail = launch.ready_detail
    first_answer: list[float] = []
    init = init_process(ctx, launch)
    asked = [time.monotonic()]

    def check() -> bool:
        if init is not None and same_process(*init) and time.monotonic() - asked[0] < 1.0:
            # The engine's host: until something listens on the port, nothing to ask (no engine call, no HTTP);
            # the engine itself is asked once a second.
            if not any(lst.port == port for lst in procfs.listeners(init[0])):
                return False
        else:
            asked[0] = time.monotonic()
            if exited(ctx, launch):
                return True
        if port not in launch.host_ports:
            return False
        try:
            response = requests.get(launch.url(port, path), timeout=2, allow_redirects=False)
        except requests.RequestException as exc:
            detail["last_error"] = type(exc).__name__
            return _only_loopback_for(ctx, launch, port, settle, first_answer)
        detail["status"] = response.status_code
        detail["body"] = response.text[:500]
        if launch.answered_at is None:
            launch.answered_at = time.monotonic()
        if response.status_code == 200:
            launch.ready_at = time.monotonic()
            return True
        if not first_answer:
            first_answer.append(time.monotonic())
        return time.monotonic() - first_answer[0] > settle

    # Polls are cheap while nothing listens, so they can be frequent: readiness is seen within 0.1 s.
    done = poll(check, timeout, first=0.02, most=0.1 if init is not None else 0.5, cancel=ctx.cancel)
    if launch.ready_at is not None:
        return
    if detail.get("loopback_only") and "status" not in detail:
        launch.ready_error = f"the app listens on port {port} only on the loopback interface"
        return
    launch.ready_error = exited(ctx, launch) or (
        f"GET {path} on port {port} kept answering {detail['status']}" if "status" in detail
        else f"nothing answered on port {port} within {timeout:g} s" if not done
        else "not ready")


def init_process(ctx: RunContext, launch: Launch) -> tuple[int, int] | None:
    """(host PID, network namespace) of the container's first process when this host's /proc shows it."""
    known = launch.ready_detail.get(INIT_PID)  # seen by the launch's own readiness wait
    pid = known if isinstance(known, int) and known else int(ctx.engine.state(launch.container_id).get("Pid") or 0)
    try:
        return (pid, os.stat(f"/proc/{pid}/ns/net").st_ino) if pid else None
    except OSError:
        return None


def same_process(pid: int, netns: int) -> bool:
    """Whether `pid` still lives in that namespace (not ended, its number not taken by another process)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == netns
    except OSError:
        return False


def _only_loopback_for(ctx: RunContext, launch: Launch, port: int, settle: float, since: list[float]) -> bool:
    """True once the app has listened on `port` only on loopback for `settle` seconds: it never will answer."""
    pids = ctx.engine.top_pids(launch.container_id)
    if not procfs.visible(pids):
        return False
    found = [lst for lst in procfs.listeners(pids[0]) if lst.port == port]
    if not found or any(procfs.is_wildcard(lst.address) for lst in found):
        return False
    launch.ready_detail["loopback_only"] = True
    if not since:
        since.append(time.monotonic())
    return time.monotonic() - since[0] > settle


def wait_listening(ctx: RunContext, launch: Launch, port: int, timeout: float) -> None:
    found: list[int] = []

    def check() -> bool:
        if exited(ctx, launch):
            return True
        pid = app_listener_pid(ctx, launch, port)
        if pid is not None:
            found.append(pid)
            return True
        return False

    poll(check, timeout, cancel=ctx.cancel)
    if found:
        launch.ready_at = time.monotonic()
        launch.ready_detail["app_pid"] = found[0]
    else:
        launch.ready_error = exited(ctx, launch) or f"no process listened on port {port} within {timeout:g} s"


def wait_for_argv(ctx: RunContext, launch: Launch, argv: tuple[str, ...], timeout: float) -> int | None:
    """Host PID of the container's process running exactly `argv`, once it exists."""
    found: list[int] = []
    init = init_process(ctx, launch)
    asked = [time.monotonic()]

    def check() -> bool:
        pids = None
        if init is not None and same_process(*init) and time.monotonic() - asked[0] < 1.0:
            below = procfs.descendants(init[0])  # no engine call; the engine is asked once a second
            pids = None if below is None else [init[0], *below]
        if pids is None:
            asked[0] = time.monotonic()
            if exited(ctx, launch):
                return True
            pids = ctx.engine.top_pids(launch.container_id)
        for pid in pids:
            info = procfs.proc_info(pid)
            if info is not None and info.argv == argv:
                found.append(pid)
                return True
        return False

    poll(check, timeout, first=0.02, most=0.2, cancel=ctx.cancel)
    return found[0] if found else None
