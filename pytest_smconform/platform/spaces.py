"""HyperPod Spaces: the workspace container as the operator's Deployment runs it.

The template's (or workspace's) command and args, a fresh volume at the storage mount path owned by
the pod's fsGroup (1000), the HyperPod access-strategy variables, port 8888. Ready = a process in
the container listens on 8888 (the operator has no readiness probe of its own).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import requests

from ..engine import procfs
from ..engine.plan import LaunchPlan, VolumeMount
from ..model.spaces_docs import Document, load_documents
from ..model.spaces_pod import PodShape, all_lifecycles, hyperpod_env, pod_shape
from . import PlatformLauncher, Variant, param, register
from .readiness import exited, init_process, poll, same_process

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import LaunchDecl


def shape_for(ctx: RunContext) -> PodShape:
    """The pod shape of this run's documents (cached on the settings object's identity)."""
    cache = _SHAPES.get(ctx.run_id)
    if cache is not None:
        return cache
    templates: list[Document] = []
    workspaces: list[Document] = []
    for path in [*ctx.settings.templates, *ctx.settings.workspaces]:
        docs, _errors = load_documents(path)
        templates += [d for d in docs if d.kind == "WorkspaceTemplate"]
        workspaces += [d for d in docs if d.kind == "Workspace"]
    shape = pod_shape(templates, workspaces, str(ctx.param("shared_namespace")),
                      default_mount=str(ctx.param("mount_path")), default_fs_group=int(ctx.param("fs_group")))
    shape.all_lifecycles = all_lifecycles(templates, workspaces, str(ctx.param("shared_namespace")))
    _SHAPES[ctx.run_id] = shape
    return shape


_SHAPES: dict[str, PodShape] = {}


def plan_spaces(ctx: RunContext, decl: LaunchDecl, variant: Variant) -> LaunchPlan:
    shape = shape_for(ctx)
    port = int(param(decl, ctx, "port"))
    env = hyperpod_env("default", "smconform", str(param(decl, ctx, "app_type")))
    env.update(shape.env)
    env.update(dict(variant.extra_env))
    plan = LaunchPlan(name=decl.name, image=ctx.image_ref, env=env, ports=[port],
                      mem_limit=str(param(decl, ctx, "memory")), stop_timeout=int(param(decl, ctx, "stop_grace")),
                      user=shape.run_as)
    if shape.command is not None:
        plan.entrypoint = list(shape.command)
        plan.command = list(shape.args) if shape.args is not None else []
    elif shape.args is not None:
        plan.command = list(shape.args)
    if variant.home == "empty":
        # fsGroup: kubelet makes the volume root group-owned by the fsGroup, mode 2775, and gives the
        # container's processes that group as a supplementary one. The engine layer has no group_add, so
        # the container's user owns the root instead: the same access for that user, and none for a
        # user the entrypoint switches to (su/gosu drop the supplementary group in Kubernetes too).
        owner = run_as_uid(ctx, shape.run_as)
        plan.volumes.append(VolumeMount(shape.mount_path, owner=(owner, shape.fs_group),
                                        size=str(param(decl, ctx, 'volume_size')), mode=0o2775))
    return plan


def run_as_uid(ctx: RunContext, run_as: str | None) -> int:
    """The UID the container starts as: the pod's runAsUser, else the image's USER (0 when unset)."""
    user = run_as or str(ctx.image_config().get("User") or "")
    name = user.split(":", 1)[0]
    if not name:
        return 0
    if name.isdigit():
        return int(name)
    passwd = ctx.layers().contents.get("/etc/passwd", b"").decode("utf-8", "replace")
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    return 0


def wait_spaces(ctx: RunContext, launch: Launch, decl: LaunchDecl, variant: Variant) -> None:
    """Ready when something listens on the port; give up early when the app settles on another port."""
    port = int(param(decl, ctx, "port"))
    timeout = float(param(decl, ctx, "startup_timeout"))
    settle = float(param(decl, ctx, "other_port_settle"))
    detail = launch.ready_detail
    first_other: list[float] = []
    init = init_process(ctx, launch)
    asked = [time.monotonic()]

    def check() -> bool:
        if init is not None and same_process(*init) and time.monotonic() - asked[0] < 1.0:
            # Cheap: the container's sockets from this host's /proc; the engine is asked once a second.
            listeners: set[tuple[str, int]] | None = {(lst.address, lst.port) for lst in procfs.listeners(init[0])}
        else:
            asked[0] = time.monotonic()
            if exited(ctx, launch):
                return True
            listeners = listening_addresses(ctx, launch)
        if listeners is None:  # no /proc view of the engine: fall back to HTTP on the published port
            return _http_answers(launch, port)
        ports = {p for _, p in listeners}
        detail["listening"] = sorted(ports)
        detail["addresses"] = sorted(f"{a}:{p}" for a, p in listeners if p == port)
        if port in ports:
            launch.ready_at = time.monotonic()
            return True
        if ports:
            if not first_other:
                first_other.append(time.monotonic())
            return time.monotonic() - first_other[0] > settle
        return False

    poll(check, timeout, first=0.02, most=0.1 if init is not None else 0.5)
    if launch.ready_at is not None:
        return
    others = detail.get("listening") or []
    launch.ready_error = exited(ctx, launch) or (
        f"the app listens on {', '.join(map(str, others))}, not on {port}" if others
        else f"nothing listened on port {port} within {timeout:g} s")


def listening_addresses(ctx: RunContext, launch: Launch) -> set[tuple[str, int]] | None:
    """(address, port) of every listening TCP socket in the container's network namespace."""
    pids = ctx.engine.top_pids(launch.container_id)
    if not pids:
        return set()
    if not procfs.visible(pids):
        return None
    return {(lst.address, lst.port) for lst in procfs.listeners(pids[0])}


def _http_answers(launch: Launch, port: int) -> bool:
    if port not in launch.host_ports:
        return False
    try:
        requests.get(launch.url(port, "/"), timeout=2, allow_redirects=False)
    except requests.RequestException:
        return False
    launch.ready_at = time.monotonic()
    return True


SPACES = register(PlatformLauncher(name="spaces", plan=plan_spaces, wait_ready=wait_spaces))
