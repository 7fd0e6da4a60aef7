"""Studio local mode (Docker inside a Studio app): the image as a Studio app with Docker access.

The app's own server is not what local mode is about, so the suite replaces ENTRYPOINT/CMD
with its keeper loop and runs the image's own `docker` CLI in the container as the image's
user. Only with --smconform-allow-engine-socket does it mount this engine's socket at
/docker/proxy.sock (where Studio exposes its Docker proxy), adding the socket's group so the
image's user can use it: that hands the container the engine, hence the opt-in.
"""

from __future__ import annotations

import os
import stat
import time
from typing import TYPE_CHECKING

from ..engine.plan import BindMount, LaunchPlan
from . import PlatformLauncher, Variant, param, register
from .kernelgateway import keeper
from .readiness import exited, poll

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import LaunchDecl


def engine_socket() -> tuple[str | None, str]:
    """(path of this engine's unix socket, or None, and why not)."""
    host = os.environ.get("DOCKER_HOST", "")
    path = host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock" if not host else ""
    if not path:
        return None, f"the engine is reached at {host}, not through a local unix socket"
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return None, f"cannot use the engine socket {path}: {exc.strerror}"
    if not stat.S_ISSOCK(mode):
        return None, f"{path} is not a socket"
    return path, ""


def plan_localmode(ctx: RunContext, decl: LaunchDecl, variant: Variant) -> LaunchPlan:
    plan = LaunchPlan(
        name=decl.name,
        image=ctx.image_ref,
        mem_limit=str(param(decl, ctx, "memory")),
        stop_timeout=5,
    )
    plan.entrypoint, plan.command = keeper(ctx)
    if ctx.settings.allow_engine_socket:
        path, _ = engine_socket()
        if path is not None:
            plan.binds.append(BindMount(path, str(param(decl, ctx, "socket_path"))))
            plan.group_add.append(str(os.stat(path).st_gid))
    return plan


def wait_localmode(ctx: RunContext, launch: Launch, decl: LaunchDecl, variant: Variant) -> None:
    running = poll(lambda: ctx.engine.is_running(launch.container_id) or exited(ctx, launch) is not None,
                   timeout=30)
    problem = exited(ctx, launch) if running else "the container did not start within 30 s"
    if problem is not None:
        tail = " | ".join(ctx.engine.log_tail(launch.container_id, 3))
        launch.ready_error = f"{problem} (ENTRYPOINT/CMD replaced by a keeper loop): {tail}"
        return
    launch.ready_at = time.monotonic()


LOCALMODE = register(PlatformLauncher(name="local-mode", plan=plan_localmode, wait_ready=wait_localmode))
