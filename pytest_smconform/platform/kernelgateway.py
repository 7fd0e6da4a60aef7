"""Studio Classic (KernelGateway app): how the platform starts a custom image.

The platform overrides ENTRYPOINT and CMD and runs its own Kernel Gateway on port 8888
(from the tools it injects under /opt/.sagemakerinternal). The suite stands in for that
gateway with a tiny keeper it controls (a shell loop that ends on SIGTERM, never listening
on any port), runs the container as the AppImageConfig's DefaultUid/DefaultGid, mounts an
empty volume at its MountPath and /opt/ml with the metadata file, and publishes the ports it
will give each declared kernel's shell channel, so the suite can talk to the kernels from the host.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine.overlay import OverlayLookup, layer_dirs
from ..engine.plan import FileDrop, LaunchPlan, VolumeMount
from ..errors import UsageError
from ..model.jupyter_wire import CHANNELS, connection_info
from ..model.kernelgateway import AppImageConfig, ConfigError, KernelDecl, find_program, resolve_path
from ..model.studio import resource_metadata
from . import PlatformLauncher, Variant, param, register
from .readiness import INIT_PID, exited, poll

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import LaunchDecl

KERNEL_PORT_BASE = 50100  # kernel i gets ports KERNEL_PORT_BASE + 10 * i + (0..4)
KERNEL_PORTS_PER_KERNEL = 10
# Without /bin/sh in the image, the same keeper in the image's Python.
PYTHON_KEEPER = ("import signal, sys, time\n"
                 "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):\n"
                 "    signal.signal(s, lambda *a: sys.exit(0))\n"
                 "while True:\n"
                 "    time.sleep(3600)\n")
KEEPER = ("trap 'exit 0' TERM INT HUP QUIT; "
          "while sleep 3600 & wait $!; do :; done; "
          "echo 'smconform: the stand-in gateway needs `sleep` in the image' >&2; exit 127")


def declared_config(ctx: RunContext) -> AppImageConfig:
    """The AppImageConfig a user would attach: --smconform-app-image-config over the profile defaults."""
    defaults = AppImageConfig(
        kernels=tuple(KernelDecl(str(n)) for n in ctx.param("kernels") or ()),
        mount_path=str(ctx.param("mount_path")), uid=int(ctx.param("uid")), gid=int(ctx.param("gid")))
    path = ctx.settings.app_image_config
    if path is None:
        return defaults
    return read_app_image_config(path, defaults)


def read_app_image_config(path: Path, defaults: AppImageConfig | None = None) -> AppImageConfig:
    """The AppImageConfig file, or a one-line usage error (checked when the run starts, again when used)."""
    option = "--smconform-app-image-config"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{option}: {path}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option}: {path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{option}: {path} must hold a JSON object")
    try:
        return AppImageConfig.from_api(doc, defaults)
    except ConfigError as exc:
        raise UsageError(f"{option}: {path}: {exc}") from None


def keeper(ctx: RunContext) -> tuple[list[str], list[str]]:
    """(entrypoint, command) of the stand-in gateway: the image's /bin/sh, else its python3."""
    env = dict(str(item).partition("=")[::2] for item in ctx.image_config().get("Env") or [])
    try:
        return _keeper_in(_path_kinds(ctx), env.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    except OSError:  # the layer directories could not be read after all
        return _keeper_in(_final_tree_kinds(ctx), env.get("PATH", "/usr/local/bin:/usr/bin:/bin"))


def _keeper_in(kinds: Mapping[str, tuple[str, str]], path_env: str) -> tuple[list[str], list[str]]:
    if resolve_path(kinds, "/bin/sh") is not None:
        return ["/bin/sh"], ["-c", KEEPER]
    for name in ("python3", "python"):
        found = find_program(kinds, name, path_env)
        if found is not None:
            return [found], ["-c", PYTHON_KEEPER]
    return ["/bin/sh"], ["-c", KEEPER]  # fails to start, and the launch says why


def _path_kinds(ctx: RunContext) -> Mapping[str, tuple[str, str]]:
    """path -> (kind, link) of the image's final tree: looked up in the engine's layer directories when
    they are here (the launch need not wait for the whole layer scan), else from the scan."""
    dirs = layer_dirs(ctx.image())
    return OverlayLookup(dirs) if dirs is not None else _final_tree_kinds(ctx)


def _final_tree_kinds(ctx: RunContext) -> dict[str, tuple[str, str]]:
    return {path: (entry.kind, entry.link) for path, entry in ctx.layers().final_tree().items()}


def kernel_ports(index: int) -> dict[str, int]:
    """Container ports of the index-th declared kernel, by channel."""
    base = KERNEL_PORT_BASE + KERNEL_PORTS_PER_KERNEL * index
    return {channel: base + offset for offset, channel in enumerate(CHANNELS)}


def plan_kernelgateway(ctx: RunContext, decl: LaunchDecl, variant: Variant) -> LaunchPlan:
    cfg = declared_config(ctx)
    # Only the shell channel is published: the suite's client needs no other (fewer host ports to allocate).
    ports = [kernel_ports(i)["shell"] for i in range(len(cfg.kernel_names))]
    plan = LaunchPlan(
        name=decl.name,
        image=ctx.image_ref,
        user=f"{cfg.uid}:{cfg.gid}",
        ports=ports,
        mem_limit=str(param(decl, ctx, "memory")),
        stop_timeout=int(param(decl, ctx, "stop_grace")),
    )
    if not variant.own_start:  # own_start: only to find out whether kernels need the image's own start-up
        plan.entrypoint, plan.command = keeper(ctx)
    if variant.home == "empty":
        plan.volumes.append(VolumeMount(cfg.mount_path, owner=(cfg.uid, cfg.gid),
                                        size=str(param(decl, ctx, "home_size"))))
    if variant.optml == "platform":
        plan.volumes.append(VolumeMount("/opt/ml"))
        plan.files.append(metadata_file(ctx, decl))
    plan.files += [connection_file(cfg, index) for index in range(len(cfg.kernel_names))]
    return plan


def connection_file(cfg: AppImageConfig, index: int) -> FileDrop:
    """The index-th kernel's connection file (a fresh key), owned by the kernel's user, in /tmp: copied in
    before start with the platform's other files, it costs the running container no engine call. Not in
    /opt/ml, whose parent is the image's: an image that closes /opt must fail KG-METADATA, not its kernels."""
    content = json.dumps(connection_info(uuid.uuid4().hex, kernel_ports(index))).encode()
    return FileDrop(connection_path(index), content, 0o600, cfg.uid, cfg.gid)


def connection_path(index: int) -> str:
    return f"/tmp/smconform-kernel-{index}.json"


def metadata_file(ctx: RunContext, decl: LaunchDecl) -> FileDrop:
    """The platform's metadata file, copied into the /opt/ml volume before start (/opt keeps its mode)."""
    path = str(param(decl, ctx, "metadata_path"))
    if not path.startswith("/opt/ml/"):
        raise UsageError(f"metadata_path {path} must be under /opt/ml")
    content = resource_metadata(region="eu-south-2", domain_id="d-smconform", user_profile="smconform-user",
                                space="", app_type=str(param(decl, ctx, "app_type"))).encode()
    return FileDrop(path, content, 0o644)


def wait_kernelgateway(ctx: RunContext, launch: Launch, decl: LaunchDecl, variant: Variant) -> None:
    """Ready when the stand-in gateway runs and the platform's files are in place."""
    def started() -> bool:
        state = ctx.engine.state(launch.container_id)
        if state.get("Running"):
            launch.ready_detail[INIT_PID] = int(state.get("Pid") or 0)  # spares the kernels an inspect
        return bool(state.get("Running")) or exited(ctx, launch) is not None

    running = poll(started, timeout=30)
    problem = exited(ctx, launch) if running else "the container did not start within 30 s"
    if problem is not None:
        tail = " | ".join(ctx.engine.log_tail(launch.container_id, 3))
        keeper_argv = " ".join(launch.plan.entrypoint or ["the image's ENTRYPOINT"])
        launch.ready_error = f"{problem} (ENTRYPOINT/CMD replaced by `{keeper_argv} -c ...`): {tail}"
        return
    launch.ready_at = time.monotonic()


KERNELGATEWAY = register(PlatformLauncher(name="kernelgateway", plan=plan_kernelgateway,
                                          wait_ready=wait_kernelgateway))
