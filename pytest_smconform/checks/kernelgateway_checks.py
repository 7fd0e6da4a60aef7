"""Check kinds of the kernelgateway profile (Studio Classic custom images, seed 002)."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any

from ..engine import procfs
from ..model.kernelgateway import UserError, conda_envs, discovery_paths, ids_problem, resolve_user
from ..platform import Variant
from ..platform.kernelgateway import declared_config
from ..platform.readiness import app_listener_pid, init_process, same_process
from ..verdicts import Blocked, ContractViolation, NotApplicable
from . import check_kind, prewarm_for
from .judge import fmt_list
from .kernelgateway_discovery import discover
from .kernelgateway_kernels import KernelRun, after_kernels_start, kernel_runs
from .launched import no_shell, timed_stop, when_ready

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import Requirement


def kg_launch(ctx: RunContext, req: Requirement) -> Launch:
    assert req.launch is not None, f"{req.id} has no launch in its spec"
    launch = ctx.launch(req.launch)
    if launch.ready_at is None:
        raise Blocked(f"the image does not run with its ENTRYPOINT/CMD overridden ({launch.ready_error})",
                      blocked_by="KG-OVERRIDE")
    return launch


def _names(failing: list[str], verb: str) -> str:
    """'python3 starts' / 'a, b start' (and 'does not' / 'do not')."""
    one = len(failing) == 1
    verb = {"start": "starts", "do": "does"}.get(verb, verb) if one else verb
    return f"{', '.join(failing)} {verb}"


def _timeout(params: dict[str, Any]) -> float:
    return float(params.get("timeout", 60))


def _diagnosis_timeout(params: dict[str, Any], runs: dict[str, KernelRun], failing: list[str]) -> float:
    """Kernels that hung in the platform's launch get a shorter wait in the launches that look for a cause."""
    return min(_timeout(params), 15.0) if all(runs[n].hung for n in failing if n in runs) else _timeout(params)


def _runs(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> dict[str, KernelRun]:
    return kernel_runs(ctx, kg_launch(ctx, req), _timeout(params))


def _identity_problem(run: KernelRun, uid: int, gid: int) -> str | None:
    if run.uid is None:
        return None
    if (run.uid, run.gid) != (uid, gid):
        return f"{run.name}: the code ran as {run.uid}:{run.gid}, not the declared {uid}:{gid}"
    return None


def _fixed_by_own_start(ctx: RunContext, req: Requirement, params: dict[str, Any], failing: list[str],
                        timeout: float) -> bool:
    """Do the failing kernels start when the image's own ENTRYPOINT/CMD ran first (not overridden)?"""
    assert req.launch is not None
    config = ctx.image_config()
    if not config.get("Entrypoint") and not config.get("Cmd"):
        return False
    other = ctx.launch(req.launch, Variant(own_start=True))
    if other.ready_at is None:
        return False
    runs = kernel_runs(ctx, other, timeout)
    return all(runs[name].ok for name in failing if name in runs)


def _fixed_by_image_home(ctx: RunContext, req: Requirement, params: dict[str, Any],
                         failing: list[str], timeout: float) -> bool:
    """Do the failing kernels start when the image's own home is left in place (no volume)?"""
    assert req.launch is not None
    other = ctx.launch(req.launch, Variant(home="image"))
    if other.ready_at is None:
        return False
    runs = kernel_runs(ctx, other, timeout)
    return all(runs[name].ok for name in failing if name in runs)


@prewarm_for("kg-override")
def start_kernels_early(ctx: RunContext, req: Requirement) -> None:
    """Start the declared kernels as soon as the launch is ready, beside the static checks that run first."""
    when_ready(ctx, req, lambda launch: kernel_runs(ctx, launch, _timeout(req.params)))


@check_kind("kg-override")
def kg_override(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    port = int(params.get("port", 8888))
    assert req.launch is not None
    launch = ctx.launch(req.launch)
    config = ctx.image_config()
    replaced = f"ENTRYPOINT {config.get('Entrypoint') or '(none)'}, CMD {config.get('Cmd') or '(none)'}"
    if launch.ready_at is None:
        raise ContractViolation("the container runs with its ENTRYPOINT and CMD replaced by the platform's",
                                f"{launch.ready_error}", launch_name=req.launch)
    runs = kernel_runs(ctx, launch, _timeout(params))
    failing = [name for name, run in runs.items() if not run.ok]
    if failing and _fixed_by_own_start(ctx, req, params, failing, _diagnosis_timeout(params, runs, failing)):
        raise ContractViolation(
            "kernels start without the image's own start-up (the platform overrides ENTRYPOINT and CMD)",
            f"{_names(failing, 'start')} only after the image's {replaced} ran: "
            + "; ".join(runs[n].describe() for n in failing), launch_name=req.launch)
    init = init_process(ctx, launch)  # its network namespace is the container's: no `docker top` needed
    if init is None or not same_process(*init):
        raise Blocked("the engine's processes are not visible in this host's /proc; run the suite on the engine's host")
    holders = [lst for lst in procfs.listeners(init[0]) if lst.port == port]
    if holders:
        pid = app_listener_pid(ctx, launch, port)
        info = procfs.proc_info(pid) if pid is not None else None
        who = f"`{' '.join(info.argv)[:120]}` (UID {info.euid})" if info else "a process of the image"
        raise ContractViolation(
            f"port {port} left free for the platform's Kernel Gateway",
            f"{who} listens on {', '.join(sorted({f'{h.address}:{h.port}' for h in holders}))} "
            f"after the kernels started", launch_name=req.launch)
    started = [name for name, run in runs.items() if run.ok]
    return (f"{replaced} replaced by the platform's; {len(started)} of {len(runs)} kernels started "
            f"without them; nothing of the image listens on {port}")


@check_kind("kg-kernelspecs")
def kg_kernelspecs(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    launch = kg_launch(ctx, req)
    cfg = declared_config(ctx)
    found = discover(ctx, launch)
    names = cfg.kernel_names
    missing = [n for n in names if n not in found.specs]
    where = [f"{loc.name} ({loc.directory})" for loc in found.locations]
    if missing:
        details = [f"{name}: {why}" for name, why in found.broken.items()]
        if found.sys_prefix is None:
            details.append(f"no python gave sys.prefix: {found.python_problem}")
        else:
            details.append(f"searched sys.prefix {found.sys_prefix}/share/jupyter, JUPYTER_PATH, "
                           f"/usr/local/share/jupyter, /usr/share/jupyter and conda environments")
        home = cfg.mount_path.rstrip("/") + "/"
        hidden = [path for name in missing for path in ctx.layers().final_tree()
                  if path.startswith(home) and path.endswith(f"/kernels/{name}/kernel.json")]
        details += [f"{path} exists in the image but the user's volume at {cfg.mount_path} hides it" for path in hidden]
        declared = "declared in KernelSpecs" if cfg.kernels else "python3 (no KernelSpecs declared)"
        raise ContractViolation(
            f"kernelspecs {', '.join(names)} ({declared})",
            f"missing {', '.join(missing)}; found {fmt_list(where) or 'no kernelspec at all'}",
            launch_name=req.launch, details=details)
    return f"{fmt_list(where)}; sys.prefix {found.sys_prefix}"


@check_kind("kg-kernels-run")
def kg_kernels_run(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    cfg = declared_config(ctx)
    runs = _runs(ctx, req, params)
    failing = [name for name, run in runs.items() if not run.ok]
    if failing and _fixed_by_image_home(ctx, req, params, failing, _diagnosis_timeout(params, runs, failing)):
        raise Blocked(f"{_names(failing, 'start')} only with the image's own {cfg.mount_path}; root cause: KG-HOME",
                      blocked_by="KG-HOME")
    if failing and _fixed_by_own_start(ctx, req, params, failing, _diagnosis_timeout(params, runs, failing)):
        raise Blocked(f"{_names(failing, 'start')} only after the image's own ENTRYPOINT/CMD; root cause: KG-OVERRIDE",
                      blocked_by="KG-OVERRIDE")
    problems = [runs[name].describe() for name in failing]
    problems += [p for p in (_identity_problem(run, cfg.uid, cfg.gid) for run in runs.values() if run.ok) if p]
    if problems:
        raise ContractViolation(
            f"each declared kernel ({', '.join(runs)}) starts as {cfg.uid}:{cfg.gid} and answers execute_request",
            "; ".join(problems), launch_name=req.launch,
            details=[f"{run.name} argv run as {cfg.uid}:{cfg.gid} in {cfg.mount_path}" for run in runs.values()])
    return "; ".join(f"{run.describe()} ({run.result})" for run in runs.values())


@check_kind("kg-home")
def kg_home(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    cfg = declared_config(ctx)
    launch = kg_launch(ctx, req)
    runs = kernel_runs(ctx, launch, _timeout(params))
    failing = [name for name, run in runs.items() if not run.ok]
    if failing:
        if _fixed_by_image_home(ctx, req, params, failing, _diagnosis_timeout(params, runs, failing)):
            raise ContractViolation(
                f"kernels start with a fresh, empty volume at {cfg.mount_path}",
                f"{_names(failing, 'start')} only with the image's own {cfg.mount_path}: "
                + "; ".join(runs[n].describe() for n in failing), launch_name=req.launch)
        if _fixed_by_own_start(ctx, req, params, failing, _diagnosis_timeout(params, runs, failing)):
            raise Blocked(f"{_names(failing, 'start')} only after the image's own ENTRYPOINT/CMD",
                          blocked_by="KG-OVERRIDE")
        raise Blocked(f"{_names(failing, 'do')} not start even with the image's own {cfg.mount_path}",
                      blocked_by="KG-KERNEL-RUNS")
    wrote = []
    for run in runs.values():
        if run.home_write is None:
            probe = shlex.quote(f"{cfg.mount_path.rstrip('/')}/.smconform-write-probe")
            code, output = ctx.engine.exec_run(launch.container_id, ["sh", "-c", f": > {probe} && rm -f {probe}"],
                                               user=f"{cfg.uid}:{cfg.gid}")
            if no_shell(code, output):
                raise Blocked(f"{run.name} is not a Python kernel and the image has no `sh` to test writing")
            run.home_write = "ok" if code == 0 else output.strip()[:200]
        if run.home_write != "ok":
            raise ContractViolation(f"{run.name} can write in {cfg.mount_path} as {cfg.uid}:{cfg.gid}",
                                    f"writing failed: {run.home_write}", launch_name=req.launch)
        wrote.append(run.name)
    return f"with an empty volume at {cfg.mount_path}, kernels {', '.join(wrote)} started and wrote there"


def _metadata_reads(path: str) -> tuple[list[str], ...]:
    return ["cat", path], ["python3", "-c", f"open({path!r}).read()"]


@prewarm_for("kg-metadata")
def read_metadata_early(ctx: RunContext, req: Requirement) -> None:
    def probes(launch: Launch) -> object:
        cfg = declared_config(ctx)
        argv = _metadata_reads(str(req.params["path"]))[0]
        return ctx.probe(launch.container_id, argv, user=f"{cfg.uid}:{cfg.gid}")

    _probe_early(ctx, req, probes)


def _probe_early(ctx: RunContext, req: Requirement, probes: Callable[[Launch], object]) -> None:
    """While the kernels boot when they are started early (KG-OVERRIDE selected), else once ready."""
    if "kg-override" in ctx.prewarm_checks and after_kernels_start(ctx, probes):
        return
    when_ready(ctx, req, probes)


@check_kind("kg-metadata")
def kg_metadata(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    path = str(params["path"])
    cfg = declared_config(ctx)
    launch = kg_launch(ctx, req)
    user = f"{cfg.uid}:{cfg.gid}"
    outputs = []
    for argv in _metadata_reads(path):
        code, output = ctx.probe(launch.container_id, argv, user=user)
        if no_shell(code, output) or (code == 127 and "not found" in output):
            outputs.append(output.strip()[:120])
            continue
        if code != 0:
            raise ContractViolation(f"{path} readable by {user}", f"`{argv[0]}` failed: {output.strip()[:200]}",
                                    launch_name=req.launch)
        extra = sorted(set(launch.plan.env))
        return (f"{path} readable by {user}; the container got no platform variables "
                f"({'none' if not extra else ', '.join(extra)} added)")
    raise Blocked(f"neither `cat` nor `python3` in the image to read {path} as {user}: {'; '.join(outputs)}")


@prewarm_for("kg-user-ids")
def ask_user_ids_early(ctx: RunContext, req: Requirement) -> None:
    def probes(launch: Launch) -> object:
        user = str(ctx.image_config().get("User") or "") or "0:0"
        return ctx.probe(launch.container_id, ["id"], user=user)

    _probe_early(ctx, req, probes)


# `id` as coreutils and busybox print it: uid=1000(name) gid=100(group) groups=...
_ID_OUTPUT = re.compile(r"\buid=(\d+)\b.*?\bgid=(\d+)\b")


def _image_user_at_run(ctx: RunContext, launch: Launch, user: str) -> tuple[int, int] | None:
    """The UID/GID the engine gives a process run as the image's USER (one exec: each costs the engine)."""
    code, output = ctx.probe(launch.container_id, ["id"], user=user or "0:0")
    found = _ID_OUTPUT.search(output) if code == 0 else None
    return (int(found.group(1)), int(found.group(2))) if found else None


@check_kind("kg-user-ids")
def kg_user_ids(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    cfg = declared_config(ctx)
    declared = f"{cfg.uid}/{cfg.gid}"
    problem = ids_problem(cfg.uid, cfg.gid)
    if problem:
        raise ContractViolation("DefaultUid/DefaultGid 1000/100 or 0/0", problem)
    user = str(ctx.image_config().get("User") or "")
    contents = ctx.layers().contents
    passwd = contents.get("/etc/passwd", b"").decode("utf-8", "replace")
    group = contents.get("/etc/group", b"").decode("utf-8", "replace")
    try:
        resolved = resolve_user(user, passwd, group)
    except UserError as exc:
        raise ContractViolation(f"the image's user is {declared}", str(exc)) from None
    seen, how = (resolved.uid, resolved.gid), resolved.how
    launch = ctx.launch(req.launch) if req.launch else None
    if launch is not None and launch.ready_at is not None:
        at_run = _image_user_at_run(ctx, launch, user)
        if at_run is not None and at_run != seen:
            seen, how = at_run, f"{how}; but `id` in the container says {at_run[0]}:{at_run[1]}"
        elif at_run is not None:
            how += " (confirmed by `id` in the container)"
    if seen != (cfg.uid, cfg.gid):
        raise ContractViolation(
            f"the image's user is the declared DefaultUid/DefaultGid {declared}",
            f"the image runs as {seen[0]}:{seen[1]} ({how})",
            fix=f"End the Dockerfile with `USER {cfg.uid}:{cfg.gid}` (or declare DefaultUid/DefaultGid "
                f"{seen[0]}/{seen[1]} if that pair is allowed)")
    return f"declared {declared}; image user {seen[0]}:{seen[1]} ({how})"


@check_kind("kg-conda-kernels")
def kg_conda_kernels(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    launch = kg_launch(ctx, req)
    found = discover(ctx, launch)
    tree = ctx.layers().final_tree()
    envs = {prefix: name for prefix, name in conda_envs(discovery_paths(tree)).items() if name is not None}
    ipykernels = [p for p in tree if p.endswith("/site-packages/ipykernel/__init__.py")]
    with_ipykernel = sorted(prefix for prefix in envs if any(p.startswith(prefix + "/lib/") for p in ipykernels))
    if not with_ipykernel:
        which = f" ({', '.join(sorted(envs))} have none)" if envs else ""
        raise NotApplicable(f"no conda environment with ipykernel in the image{which}")
    offered = {loc.conda_prefix: loc.name for loc in found.locations if loc.conda_prefix}
    missing = [p for p in with_ipykernel if p not in offered]
    if missing:
        raise ContractViolation(
            "every conda environment with ipykernel offered as a kernel (conda-env-<name>-py)",
            f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} ipykernel but no "
            "share/jupyter/kernels/*/kernel.json, so Studio does not list them", launch_name=req.launch,
            fix="Run `<env>/bin/python -m ipykernel install --sys-prefix` in each environment.")
    return ", ".join(f"{offered[p]} ({p})" for p in with_ipykernel)


@check_kind("kg-stop", destructive=True)
def kg_stop(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    grace = int(params["grace"])
    launch = kg_launch(ctx, req)
    kernel_runs(ctx, launch, _timeout(params))  # stop it the way it is used: with its kernels running
    signal_name = ctx.image_config().get("StopSignal") or "SIGTERM"
    stopped = timed_stop(ctx, launch, grace)
    took, code = stopped.seconds, stopped.exit_code
    if stopped.killed:
        raise ContractViolation(
            f"`docker stop` (DeleteApp) ends the container within the {grace} s grace period",
            f"the engine sent the image's stop signal {signal_name}; the container was still running "
            f"after {took:.1f} s and was killed (exit code {code})", launch_name=req.launch,
            fix="Remove STOPSIGNAL from the image (and from its base images' configs), so that docker stop "
                "sends SIGTERM, which the platform's gateway handles.")
    return f"ended {took:.2f} s after {signal_name} with exit code {code}"


@check_kind("image-size-max")
def image_size_max(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    limit_gb = float(params["max_gb"])
    size = int(ctx.image().get("Size") or 0)
    shown = f"{size / 1e9:.2f} GB ({size} bytes, as `docker image ls` shows it)"
    if size > limit_gb * 1e9:
        raise ContractViolation(f"image size at most {limit_gb:g} GB", shown)
    return f"{shown} <= {limit_gb:g} GB"
