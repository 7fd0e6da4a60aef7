"""spaces: the image run as a HyperPod workspace (SP-PORT, SP-FSGROUP, SP-CURL, SP-REMOTE-DEPS,
SP-IDLE-ENDPOINT, SP-LIFECYCLE) and SP-SMD-VERSION from the image config."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..model.spaces_idle import (
    TimestampError,
    last_activity,
    lifecycle_problems,
)
from ..platform.readiness import exited
from ..platform.spaces import shape_for
from ..verdicts import Blocked, ContractViolation, NotApplicable
from . import check_kind, prewarm_for
from .launched import when_ready

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import Requirement

NOT_FOUND = ("executable file not found", "no such file or directory", "not found in $path")
SMD_LABEL = "org.amazon.sagemaker-distribution.image.version"
_TOOLS_LOCK = threading.Lock()
_TOOLS: dict[str, dict[str, bool]] = {}


def _need_image(ctx: RunContext) -> None:
    if ctx.settings.image is None:
        raise NotApplicable("no image given (documents-only run)")


def _launch(ctx: RunContext, req: Requirement) -> Launch:
    assert req.launch is not None, f"{req.id} has no launch in its spec"
    return ctx.launch(req.launch)


def ready_launch(ctx: RunContext, req: Requirement, port: int) -> Launch:
    """The workspace container, ready; otherwise blame the requirement that explains why."""
    launch = _launch(ctx, req)
    if launch.ready_at is not None:
        return launch
    others = [p for p in launch.ready_detail.get("listening") or [] if p != port]
    if others and not exited(ctx, launch):
        raise Blocked(f"the app listens on {others}, not on {port}", blocked_by="SP-PORT")
    assert req.launch is not None
    culprit = ctx.diagnose(req.launch)
    if culprit is not None and culprit != req.id:
        raise Blocked(f"the app does not start as the pod runs it; root cause: {culprit}", blocked_by=culprit)
    raise Blocked(f"the app does not start as the pod runs it ({launch.ready_error}); see SP-FSGROUP",
                  blocked_by="SP-FSGROUP")


# -- SP-PORT -------------------------------------------------------------------------------------------


@check_kind("spaces-port")
def spaces_port(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    _need_image(ctx)
    port = int(params["port"])
    launch = _launch(ctx, req)
    if launch.ready_at is not None:
        addresses = launch.ready_detail.get("addresses") or []
        if addresses and all(_loopback(a.rsplit(":", 1)[0]) for a in addresses):
            raise ContractViolation(f"the app listening on port {port} on the pod's address (0.0.0.0)",
                                    f"it listens on {', '.join(addresses)} only: the workspace Service cannot "
                                    "reach it", launch_name=launch.plan.name)
        where = f" on {', '.join(addresses)}" if addresses else ""
        return f"the app listens on {port}{where} (after {launch.time_to_ready:.1f} s)"
    listening = [p for p in launch.ready_detail.get("listening") or [] if p != port]
    if listening and not exited(ctx, launch):
        raise ContractViolation(f"the app listening on port {port} (the Service and the idle probe use it)",
                                f"it listens on {', '.join(map(str, listening))} only",
                                launch_name=launch.plan.name)
    assert req.launch is not None
    culprit = ctx.diagnose(req.launch)
    if culprit is not None and culprit != req.id:
        raise Blocked(f"the app does not start as the pod runs it; root cause: {culprit}", blocked_by=culprit)
    raise Blocked(f"the app never listened on any port ({launch.ready_error}); see SP-FSGROUP",
                  blocked_by="SP-FSGROUP")


def _loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("0:0:0:0:0:0:0:1", "::1")


# -- SP-FSGROUP ---------------------------------------------------------------------------------------


def _fsgroup_probe(ctx: RunContext, mount_path: str) -> tuple[str, list[str]]:
    """The file the app's user creates in the volume (named by the run: nothing of the image's), and how."""
    target = f"{mount_path.rstrip('/')}/.smconform-fsgroup-{ctx.run_id.rsplit('-', 1)[-1]}"
    return target, ["sh", "-c", 'touch "$1" && id -u && rm -f "$1"', "sh", target]


@prewarm_for("spaces-fsgroup")
def fsgroup_probe_early(ctx: RunContext, req: Requirement) -> None:
    def probes(launch: Launch) -> object:
        return ctx.probe(launch.container_id, _fsgroup_probe(ctx, shape_for(ctx).mount_path)[1])

    when_ready(ctx, req, probes)


@prewarm_for("spaces-tools")
def tools_probe_early(ctx: RunContext, req: Requirement) -> None:
    tools = sorted({str(t) for group in req.params.get("groups") or [] for t in group})
    when_ready(ctx, req, lambda launch: tools_present(ctx, req, tools))


@check_kind("spaces-fsgroup")
def spaces_fsgroup(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    _need_image(ctx)
    port = int(params["port"])
    shape = shape_for(ctx)
    launch = _launch(ctx, req)
    how = (f"command {shape.command + (shape.args or []) if shape.command else '(the image ENTRYPOINT/CMD)'}, "
           f"fsGroup {shape.fs_group}, fresh volume at {shape.mount_path}")
    if launch.ready_at is None:
        others = [p for p in launch.ready_detail.get("listening") or [] if p != port]
        if others and not exited(ctx, launch):
            raise Blocked(f"the app started but listens on {others}, not {port}", blocked_by="SP-PORT")
        assert req.launch is not None
        culprit = ctx.diagnose(req.launch)
        cause = (" (it does start with the image's own files at the mount path: it needs content the fresh "
                 "volume hides)") if culprit == req.id else ""
        raise ContractViolation(f"the app starting when launched as the pod runs it ({how})",
                                f"{launch.ready_error}{cause}", launch_name=launch.plan.name)
    target, argv = _fsgroup_probe(ctx, shape.mount_path)
    code, output = ctx.probe(launch.container_id, argv)
    if code is None or (code in (126, 127) and any(s in output.lower() for s in NOT_FOUND)):
        raise Blocked(f"cannot run a shell in the container to test the volume: {output.strip()[:200]}")
    if code != 0:
        raise ContractViolation(f"the app's user can create files in {shape.mount_path} ({how})",
                                f"creating {target} failed (exit {code}): {output.strip()[:300]}",
                                launch_name=launch.plan.name)
    uid = output.strip().splitlines()[-1] if output.strip() else "?"
    return f"started with {how}; uid {uid} created a file there"


# -- SP-CURL, SP-REMOTE-DEPS ------------------------------------------------------------------------


def tools_present(ctx: RunContext, req: Requirement, tools: list[str]) -> dict[str, bool]:
    """Which tools the container can exec, as the operator's podExec probe would (PATH lookup by the runtime)."""
    with _TOOLS_LOCK:
        known = _TOOLS.setdefault(ctx.run_id, {})
        missing = [t for t in tools if t not in known]
    if missing:
        container = _exec_target(ctx, req)
        # One `docker exec` per tool, all at once (each is a round trip through the runtime).
        with ThreadPoolExecutor(max_workers=len(missing)) as pool:
            answers = list(pool.map(
                lambda tool: ctx.probe(container, [tool, "-v" if tool == "unzip" else "--version"], timeout=15),
                missing))
        for tool, (code, output) in zip(missing, answers, strict=True):
            if code is None and "is not running" in output:
                raise Blocked(f"the container stopped while its tools were probed: {output[:200]}")
            absent = code in (126, 127) or code is None or any(s in output.lower() for s in NOT_FOUND)
            with _TOOLS_LOCK:
                known[tool] = not absent
    with _TOOLS_LOCK:
        return {t: known[t] for t in tools}


def _exec_target(ctx: RunContext, req: Requirement) -> str:
    """The workspace container when it runs; otherwise a plain container of the image (tools only)."""
    launch = _launch(ctx, req)
    if not exited(ctx, launch):
        return launch.container_id
    with _TOOLS_LOCK:
        cached = _PROBES.get(ctx.run_id)
    if cached:
        return cached
    from ..engine.plan import LaunchPlan

    plan = LaunchPlan(name="spaces-tools", image=ctx.image_ref, entrypoint=["sleep"], command=["600"])
    probe = ctx.engine.start(plan)
    if probe.ready_error or exited(ctx, probe):
        ctx.engine.remove(probe)
        raise Blocked("the app container exited and a plain container of the image (sleep) would not start; "
                      "cannot probe its tools")
    with _TOOLS_LOCK:
        _PROBES[ctx.run_id] = probe.container_id
    return probe.container_id


_PROBES: dict[str, str] = {}


@check_kind("spaces-tools")
def spaces_tools(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    """Every group in `groups` needs one of its tools (e.g. [[curl, wget], [unzip], [tar], [gzip]])."""
    _need_image(ctx)
    if params.get("remote_access_only") and str(params.get("remote_access", "auto")).lower() == "false":
        raise NotApplicable("remote access is off (--smconform-option=remote_access=false)")
    groups = [[str(t) for t in group] for group in params["groups"]]
    present = tools_present(ctx, req, sorted({t for g in groups for t in g}))
    unmet = [g for g in groups if not any(present[t] for t in g)]
    if unmet:
        wanted = " and ".join(" or ".join(g) for g in groups)
        raise ContractViolation(f"{wanted} in the image", "missing: " + ", ".join(" or ".join(g) for g in unmet),
                                launch_name=req.launch)
    found = [t for t in sorted(present) if present[t]]
    return f"present: {', '.join(found)}"


# -- SP-IDLE-ENDPOINT --------------------------------------------------------------------------------


def curl_probe(ctx: RunContext, container: str, url: str, attempts: float) -> tuple[int | None, str, str]:
    """curl inside the container (like the operator's podExec): (HTTP status, body, problem)."""
    marker = "\n__smconform_status__:"
    deadline = time.monotonic() + attempts
    while True:
        code, output = ctx.engine.exec_run(container, ["curl", "-s", "-w", marker + "%{http_code}", url],
                                           timeout=20)
        if code == 7 and time.monotonic() < deadline:  # connection refused: the operator retries
            time.sleep(1.0)
            continue
        if code != 0 or marker not in output:
            return None, output, f"curl exited {code}: {output.strip()[:200]}"
        body, _, status = output.rpartition(marker)
        return int(status.strip() or 0), body, ""


@check_kind("spaces-idle-endpoint")
def spaces_idle_endpoint(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    _need_image(ctx)
    shape = shape_for(ctx)
    probe = shape.probe
    launch = ready_launch(ctx, req, int(params["port"]))
    url_path = probe.url_path(str(params["base_url"]))
    url = f"http://localhost:{probe.port}{url_path}"
    if shape.idle is not None and shape.idle.get("enabled") is False:
        note = " (idle shutdown is disabled in the documents; probed anyway)"
    else:
        note = ""
    last_problem = ""
    deadline = time.monotonic() + float(params.get("settle", 10))
    while True:
        status, body, problem = curl_probe(ctx, launch.container_id, url, attempts=5)
        if status is None:
            raise Blocked(f"could not run curl in the container: {problem}", blocked_by="SP-CURL")
        if status == 404:
            raise ContractViolation(
                f"GET {url_path} on port {probe.port} answering 200 with JSON {{\"{probe.body_path}\": ...}}",
                f"404: the operator stops polling and idle shutdown is silently disabled{note}",
                launch_name=launch.plan.name,
                details=[f"probe: curl {url} inside the container (transport podExec)",
                         f"body: {body.strip()[:200]}"])
        if status == 200:
            try:
                when = last_activity(body, probe)
            except TimestampError as exc:
                last_problem = f"200 but {exc}"
            else:
                now = datetime.now(timezone.utc)
                if when - now > timedelta(minutes=10):
                    raise ContractViolation(
                        "a last-activity time in the past", f"{when.isoformat()} is in the future: the operator "
                        "never finds the workspace idle", launch_name=launch.plan.name)
                return (f"GET {url_path} -> 200, {probe.body_path} = {when.isoformat()} "
                        f"(format {probe.format}){note}")
        else:
            last_problem = f"HTTP {status}: {body.strip()[:200]}"
        if time.monotonic() > deadline:
            raise ContractViolation(
                f"GET {url_path} on port {probe.port} answering 200 with a {probe.format} timestamp at "
                f"{probe.body_path!r}", f"{last_problem} (the operator retries forever: never idle){note}",
                launch_name=launch.plan.name, details=[f"probe: curl {url} inside the container"])
        time.sleep(1.0)


# -- SP-LIFECYCLE ---------------------------------------------------------------------------------------


@check_kind("spaces-lifecycle")
def spaces_lifecycle(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    shape = shape_for(ctx)
    scripts = shape.all_lifecycles or ([shape.lifecycle] if shape.lifecycle else [])
    if not scripts:
        raise NotApplicable("no lifecycle postStart script in the given templates or workspaces")
    limit = int(params.get("max_bytes", 1024))
    problems = [f"{item.source}: {p}" for item in scripts for p in lifecycle_problems(item, limit)]
    if problems:
        raise ContractViolation(f"bash start-up scripts of at most {limit} bytes (1 KB)",
                                f"{len(problems)} problem(s); first: {problems[0]}", details=problems)
    sizes = ", ".join(f"{item.size} bytes" for item in scripts)
    item = shape.lifecycle or scripts[0]
    if ctx.settings.image is None or item is None:
        return f"{len(scripts)} bash script(s) ({sizes}) within the limit (not run: no image given)"
    launch = ready_launch(ctx, req, int(params["port"]))
    code, output = ctx.engine.exec_run(launch.container_id, list(item.command),
                                       timeout=float(params.get("timeout", 60)))
    if code != 0:
        raise ContractViolation("the start-up script exits 0 in the image",
                                f"exit {code}: {output.strip()[-300:]}", launch_name=launch.plan.name,
                                details=[f"from {item.source}", f"command: {list(item.command)}"])
    return f"bash script(s) within the limit ({sizes}); the one of {item.source} ran in the image and exited 0"


# -- SP-SMD-VERSION -------------------------------------------------------------------------------------


def _version_tuple(text: str) -> tuple[int, ...] | None:
    match = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text.strip())
    if not match:
        return None
    return tuple(int(g) for g in match.groups() if g is not None)


@check_kind("spaces-smd-version")
def spaces_smd_version(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    _need_image(ctx)
    if str(params.get("remote_access", "auto")).lower() == "false":
        raise NotApplicable("remote access is off (--smconform-option=remote_access=false)")
    labels = ctx.image_config().get("Labels") or {}
    version = labels.get(SMD_LABEL)
    if version is None:
        raise NotApplicable(f"not a SageMaker Distribution image (no {SMD_LABEL} label)")
    minimum = str(params["min_version"])
    have, want = _version_tuple(str(version)), _version_tuple(minimum)
    if have is None or want is None:
        raise ContractViolation(f"a SageMaker Distribution version >= {minimum}",
                                f"unreadable version label {SMD_LABEL}={version!r}")
    if have < want:
        raise ContractViolation(f"SageMaker Distribution {minimum} or newer (remote access)",
                                f"version {version} ({SMD_LABEL})")
    return f"SageMaker Distribution {version} >= {minimum}"

