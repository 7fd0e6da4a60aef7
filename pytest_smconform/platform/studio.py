"""Studio (JupyterLab app): how the HostAgent starts a bring-your-own image."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..engine import procfs
from ..engine.plan import FileDrop, LaunchPlan, VolumeMount
from ..model.studio import injected_environment, resource_metadata
from . import PlatformLauncher, Variant, param, register
from .readiness import app_listener_pid, wait_for_argv, wait_http, wait_listening

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import LaunchDecl


def plan_studio(ctx: RunContext, decl: LaunchDecl, variant: Variant) -> LaunchPlan:
    port = int(param(decl, ctx, "port"))
    uid, gid = int(param(decl, ctx, "uid")), int(param(decl, ctx, "gid"))
    home = str(param(decl, ctx, "home"))
    config = ctx.settings.container_config if variant.use_config else None
    container_env = dict(config.environment) if config else {}
    container_env.update(dict(variant.extra_env))
    platform_env = {str(k): str(v) for k, v in dict(param(decl, ctx, "platform_env")).items()}
    plan = LaunchPlan(
        name=decl.name,
        image=ctx.image_ref,
        env=injected_environment(container_env, platform_env),
        ports=[port],
        mem_limit=str(param(decl, ctx, "memory")),
        stop_timeout=int(param(decl, ctx, "stop_grace")),
    )
    if variant.wait == "app-exec":
        # Judged as soon as the app process exists: it only needs CPU to get that far, and must
        # not slow the platform's own launch, which it waits for.
        plan.cpu_shares = 16
    if config and config.entrypoint is not None:
        plan.entrypoint = list(config.entrypoint)
    if config and config.arguments is not None:
        plan.command = list(config.arguments)
    if variant.home == "empty":
        plan.volumes.append(VolumeMount(home, owner=(uid, gid), size=str(param(decl, ctx, "home_size"))))
    if variant.optml == "platform":
        plan.volumes.append(VolumeMount("/opt/ml"))
        metadata = resource_metadata(
            region=platform_env.get("AWS_REGION", "us-east-1"), domain_id="d-smconform",
            user_profile="smconform-user", space=platform_env.get("SAGEMAKER_SPACE_NAME", "smconform-space"),
            app_type=str(param(decl, ctx, "app_type")))
        plan.files.append(FileDrop(str(param(decl, ctx, "metadata_path")), metadata.encode(), 0o644))
    return plan


def wait_studio(ctx: RunContext, launch: Launch, decl: LaunchDecl, variant: Variant) -> None:
    port = int(param(decl, ctx, "port"))
    timeout = float(param(decl, ctx, "startup_timeout"))
    if variant.wait == "listening":
        wait_listening(ctx, launch, port, timeout)
        return
    if variant.wait == "app-exec":
        wait_app_exec(ctx, launch, decl, port, timeout)
        return
    base = str(param(decl, ctx, "base_url")).rstrip("/")
    wait_http(ctx, launch, port, f"{base}/api/status", timeout)


def wait_app_exec(ctx: RunContext, launch: Launch, decl: LaunchDecl, port: int, timeout: float) -> None:
    """Ready when the process the platform's launch serves the app with has been exec'd here.

    Its environment is fixed at exec, so a check of what the app process received needs no
    more; when no such process appears in time (the variant changed what starts), fall back
    to waiting for a listener on the port.
    """
    reference = ctx.launch(decl.name)
    ref_pid = reference.ready_detail.get("app_pid") or app_listener_pid(ctx, reference, port)
    info = procfs.proc_info(ref_pid) if isinstance(ref_pid, int) else None
    argv = info.argv if info is not None else None
    settle = min(timeout, 2 * (reference.time_to_ready or 5.0) + 5.0)
    if argv:
        pid = wait_for_argv(ctx, launch, argv, settle)
        if pid is not None:
            launch.ready_at = time.monotonic()
            launch.ready_detail["app_pid"] = pid
            return
    wait_listening(ctx, launch, port, timeout)


STUDIO = register(PlatformLauncher(name="studio", plan=plan_studio, wait_ready=wait_studio))
