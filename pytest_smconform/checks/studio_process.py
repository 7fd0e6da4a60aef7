"""Run checks on the app's process: identity, environment, volumes, platform files, signals."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from ..engine import procfs
from ..model.studio import container_config_problems, environment_problems
from ..verdicts import Blocked, ContractViolation, NotApplicable
from . import check_kind, prewarm_for
from .launched import app_process, no_shell, run_as, shared_launch, timed_stop, when_up

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import Requirement


@check_kind("app-identity")
def app_identity(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    field, want = str(params["field"]), int(params["expect"])
    launch = shared_launch(ctx, req, allow_unready=True)
    proc = app_process(ctx, launch, int(params["port"]))
    real, effective = (proc.info.uid, proc.info.euid) if field == "uid" else (proc.info.gid, proc.info.egid)
    name = "UID" if field == "uid" else "GID"
    if real != want or effective != want:
        raise ContractViolation(f"the app process runs with {name} {want}",
                                f"{name} {real} (effective {effective}) for `{' '.join(proc.info.argv)[:120]}`",
                                launch_name=req.launch)
    return f"app process {proc.pid} (`{' '.join(proc.info.argv)[:60]}`) has {name} {want}"


@check_kind("listens-all-interfaces")
def listens_all_interfaces(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    port = int(params["port"])
    launch = shared_launch(ctx, req, allow_unready=True)
    if not launch.is_up and ctx.diagnose(req.launch or "") is not None:
        shared_launch(ctx, req)  # raises Blocked with the root cause
    pids = ctx.engine.top_pids(launch.container_id)
    if not pids:
        raise ContractViolation(f"a process listening on 0.0.0.0:{port}",
                                launch.ready_error or "the container has no process", launch_name=req.launch)
    if not procfs.visible(pids):
        if not launch.is_up:
            raise ContractViolation(f"the app reachable on port {port}", str(launch.ready_error),
                                    launch_name=req.launch)
        return f"reachable on port {port} through the published port"
    found = [lst for lst in procfs.listeners(pids[0]) if lst.port == port]
    if not found:
        raise ContractViolation(f"a process listening on 0.0.0.0:{port}",
                                f"nothing listens on port {port} ({launch.ready_error or 'no listener'})",
                                launch_name=req.launch)
    if not any(procfs.is_wildcard(lst.address) for lst in found):
        where = ", ".join(sorted({f"{lst.address}:{lst.port}" for lst in found}))
        raise ContractViolation(f"listening on all interfaces (0.0.0.0:{port})", f"listening only on {where}",
                                launch_name=req.launch)
    return f"listening on {', '.join(sorted({lst.address for lst in found}))}:{port}"


def _write_probe(home: str) -> str:
    probe = shlex.quote(f"{home.rstrip('/')}/.smconform-write-probe")
    return f": > {probe} && rm -f {probe}"


def _read_probe(path: str) -> str:
    return f"cat {shlex.quote(path)} > /dev/null"


@prewarm_for("home-volume-writable")
@prewarm_for("platform-file-readable")
def probe_early(ctx: RunContext, req: Requirement) -> None:
    """The write or read probe, as the app's user, as soon as the app is up (the check takes its answer)."""
    script = _write_probe if req.check == "home-volume-writable" else _read_probe

    def probes(launch: Launch) -> object:
        proc = app_process(ctx, launch, int(req.params["port"]))
        return run_as(ctx, launch, proc, script(str(req.params["path"])))

    when_up(ctx, req, probes)


@check_kind("home-volume-writable")
def home_volume_writable(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    home = str(params["path"])
    launch = shared_launch(ctx, req)
    if not launch.is_up:
        raise ContractViolation(f"the app starts with a fresh, empty volume at {home}",
                                f"it starts only with the image's own {home} ({launch.ready_error})",
                                launch_name=req.launch)
    proc = app_process(ctx, launch, int(params["port"]))
    code, output = run_as(ctx, launch, proc, _write_probe(home))
    if no_shell(code, output):
        raise Blocked("the image has no `sh` to test file creation as the app's user")
    if code != 0:
        raise ContractViolation(
            f"UID {proc.info.euid} / GID {proc.info.egid} can create files in {home}",
            f"creating a file failed: {output.strip()[:200]}", launch_name=req.launch)
    return f"started with an empty {home}; UID {proc.info.euid} created a file there"


@check_kind("platform-file-readable")
def platform_file_readable(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    path = str(params["path"])
    launch = shared_launch(ctx, req)
    proc = app_process(ctx, launch, int(params["port"]))
    code, output = run_as(ctx, launch, proc, _read_probe(path))
    if no_shell(code, output):
        raise Blocked("the image has no `sh` to test reading as the app's user")
    if code != 0:
        raise ContractViolation(f"{path} readable by UID {proc.info.euid} / GID {proc.info.egid}",
                                f"reading it failed: {output.strip()[:200]}", launch_name=req.launch)
    return f"{path} readable by UID {proc.info.euid}; the app started with it in place"


@check_kind("stops-on-signal", destructive=True)
def stops_on_signal(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    grace = int(params["grace"])
    stopped = timed_stop(ctx, shared_launch(ctx, req), grace)
    if stopped.killed:
        raise ContractViolation(
            f"`docker stop` ends the app within {grace} s (PID 1 handles SIGTERM)",
            f"still running after {stopped.seconds:.1f} s; the engine killed it (exit code {stopped.exit_code})",
            launch_name=req.launch)
    return f"ended {stopped.seconds:.2f} s after SIGTERM with exit code {stopped.exit_code}"


@check_kind("container-config")
def container_config(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    config = ctx.settings.container_config
    if config is None or config.is_empty():
        raise NotApplicable("no ContainerConfig declared (give one with --smconform-container-config)")
    problems = container_config_problems(config)
    if problems:
        raise ContractViolation("a ContainerConfig within the CreateAppImageConfig limits", "; ".join(problems))
    launch = shared_launch(ctx, req)
    if not launch.is_up:
        raise ContractViolation("the app starts with the declared ContainerConfig",
                                f"it starts only without it ({launch.ready_error})", launch_name=req.launch)
    return "within the API limits, and the app starts with it"


@check_kind("env-precedence")
def env_precedence(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    from .env_fuzz import fuzz_environment

    launch = shared_launch(ctx, req)
    port = int(params["port"])
    proc = app_process(ctx, launch, port)
    observed = procfs.environ(proc.pid)
    if observed is None:
        raise Blocked("the app process's environment could not be read")
    problems = environment_problems(launch.plan.env, observed)
    if problems:
        raise ContractViolation("the app process sees every injected variable unchanged",
                                "; ".join(problems[:6]), launch_name=req.launch)
    examples = fuzz_environment(ctx, req, port)
    return f"{len(launch.plan.env)} platform variables intact; {examples} fuzzed ContainerEnvironment launches agree"
