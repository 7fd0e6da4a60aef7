"""Check kinds of the local-mode profile (Docker inside Studio, seed 001)."""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..model.docker_settings import check_docker_settings, parse_os_release, unwrap
from ..platform.localmode import engine_socket
from ..platform.readiness import poll
from ..verdicts import Blocked, ContractViolation, NotApplicable
from . import check_kind, prewarm_for
from .judge import fmt_list

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import Requirement

GATEWAY_PROBE = "lm-rootless-gateway.probe"
VERSION = re.compile(r"version\s+v?(\d+)\.(\d+)\.([0-9A-Za-z.+~-]+)", re.IGNORECASE)
# What the seed says local mode does not need (Docker's packages), and Debian's names for the same.
ENGINE_PACKAGES = ("containerd.io", "docker-ce", "docker-buildx-plugin", "docker.io", "containerd", "runc")
ENGINE_FILES = ("/usr/bin/dockerd", "/usr/sbin/dockerd", "/usr/bin/containerd", "/usr/sbin/containerd",
                "/usr/libexec/docker/cli-plugins/docker-buildx", "/usr/lib/docker/cli-plugins/docker-buildx")


def lm_launch(ctx: RunContext, req: Requirement) -> Launch:
    assert req.launch is not None, f"{req.id} has no launch in its spec"
    launch = ctx.launch(req.launch)
    if launch.ready_at is None:
        raise Blocked(f"the image does not run in a container ({launch.ready_error})")
    return launch


def needs_socket(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> Launch:
    """The launch with a real engine socket at /docker/proxy.sock, only when the user opted in."""
    if not ctx.settings.allow_engine_socket:
        raise NotApplicable("needs a real engine socket at /docker/proxy.sock: give --smconform-allow-engine-socket "
                            "(it hands the container this engine)")
    path, why = engine_socket()
    if path is None:
        raise NotApplicable(f"no local engine socket to mount: {why}")
    return lm_launch(ctx, req)


def cli(ctx: RunContext, launch: Launch, args: list[str], timeout: float = 60) -> tuple[int | None, str]:
    """The image's own `docker` CLI, as the image's user, with the image's environment."""
    return ctx.engine.exec_run(launch.container_id, ["docker", *args], timeout=timeout)


def _missing(code: int | None, output: str) -> bool:
    return code in (None, 126, 127) and ("not found" in output or "no such file" in output.lower()
                                         or "executable file" in output)


@check_kind("lm-docker-cli")
def lm_docker_cli(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    want = str(params["version"])
    launch = lm_launch(ctx, req)
    code, output = cli(ctx, launch, ["--version"])
    if _missing(code, output):
        raise ContractViolation(f"a Docker CLI {want}.x on the image user's PATH",
                                f"no `docker` command ({output.strip()[:160]})", launch_name=req.launch)
    match = VERSION.search(output)
    if code != 0 or match is None:
        raise ContractViolation(f"`docker --version` reports {want}.x", f"exit {code}: {output.strip()[:200]}",
                                launch_name=req.launch)
    seen = f"{match.group(1)}.{match.group(2)}.{match.group(3)}"
    if f"{match.group(1)}.{match.group(2)}" != want:
        raise ContractViolation(f"Docker CLI {want}.x (the only version Studio supports)", f"Docker CLI {seen}",
                                launch_name=req.launch)
    return f"`docker --version`: {output.strip()[:100]}"


@check_kind("lm-api")
def lm_api(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    api, socket = str(params["api_version"]), str(params["docker_host"])
    launch = needs_socket(ctx, req, params)
    code, output = cli(ctx, launch, ["-H", socket, "version", "--format", "{{json .}}"])
    lines = [line for line in output.strip().splitlines() if line.startswith("{")]
    try:
        info = json.loads(lines[-1]) if lines else {}
    except ValueError:
        info = {}
    client = (info.get("Client") or {}).get("ApiVersion")
    server = (info.get("Server") or {}).get("ApiVersion")
    if code != 0 or not server:
        said = " ".join(line for line in output.strip().splitlines() if not line.startswith("{"))
        raise ContractViolation(f"`docker -H {socket} version` answered by the engine with API {api}",
                                f"exit {code} with client API {client}: {(said or output.strip())[-300:]}",
                                launch_name=req.launch)
    if client != api:
        raise ContractViolation(f"the CLI talks Engine API {api} (the Studio proxy speaks only {api})",
                                f"it uses API {client} (server {server})", launch_name=req.launch)
    code, listing = cli(ctx, launch, ["-H", socket, "ps", "--quiet", "--no-trunc"])
    if code != 0:
        raise ContractViolation(f"`docker -H {socket} ps` works with API {api}",
                                f"exit {code}: {listing.strip()[-300:]}", launch_name=req.launch)
    return f"client API {client} against the engine (server API {server}) through {socket}; `docker ps` works"


@check_kind("lm-docker-host")
def lm_docker_host(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    want = str(params["docker_host"])
    env = dict(str(item).partition("=")[::2] for item in ctx.image_config().get("Env") or [])
    if env.get("DOCKER_HOST") == want:
        return f"ENV DOCKER_HOST={want} in the image"
    launch = lm_launch(ctx, req)
    code, output = ctx.engine.exec_run(launch.container_id, ["sh", "-lc", 'printf "%s" "$DOCKER_HOST"'])
    seen = output.strip() if code == 0 else None
    if seen == want:
        return f"DOCKER_HOST={want} in the default user's login shell (not in the image's ENV)"
    observed = f"image ENV DOCKER_HOST={env['DOCKER_HOST']!r}" if "DOCKER_HOST" in env else "no DOCKER_HOST in ENV"
    if seen:
        observed += f"; the login shell has {seen!r}"
    raise ContractViolation(f"DOCKER_HOST={want} for the default user", observed, launch_name=req.launch)


@check_kind("lm-no-engine")
def lm_no_engine(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    launch = lm_launch(ctx, req)
    status = ctx.engine.read_file(launch.container_id, "/var/lib/dpkg/status", limit=64 << 20) or b""
    installed = []
    for stanza in status.decode("utf-8", "replace").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace())
        if fields.get("Package") in ENGINE_PACKAGES and fields.get("Status", "").endswith(" installed"):
            installed.append(f"{fields['Package']} {fields.get('Version', '')}".strip())
    tree = ctx.layers().final_tree()
    files = [path for path in ENGINE_FILES if path in tree]
    if installed or files:
        found = installed + [f"file {f}" for f in files]
        raise ContractViolation("no Docker engine packages (containerd.io, docker-ce, docker-buildx-plugin)",
                                f"present: {fmt_list(found)}", launch_name=req.launch,
                                fix="Install only docker-ce-cli (and docker-compose-plugin): the engine runs on "
                                    "the host, and these packages only make the image bigger.")
    return "no engine packages or binaries (dpkg status and the usual paths checked)"


@check_kind("lm-compose")
def lm_compose(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    launch = lm_launch(ctx, req)
    code, output = cli(ctx, launch, ["compose", "version"])
    if code != 0:
        raise ContractViolation("the compose plugin: `docker compose version` works",
                                f"exit {code}: {output.strip()[:200]}", launch_name=req.launch)
    return f"`docker compose version`: {output.strip().splitlines()[0][:100] if output.strip() else '(no output)'}"


@check_kind("lm-os-release")
def lm_os_release(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    path = "/etc/os-release"
    tree = ctx.layers().final_tree()
    entry = tree.get(path)
    hops = 0
    while entry is not None and entry.kind == "symlink" and hops < 8:
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), entry.link))
        entry, hops = tree.get(path), hops + 1
    if entry is None:
        raise ContractViolation("/etc/os-release present (Studio's Docker install steps start with it)",
                                "no /etc/os-release" + (f" (its link leads to missing {path})" if hops else ""))
    raw = ctx.layers().contents.get(path)
    if raw is None:
        raise Blocked(f"{path} is not one of the files the layer scan keeps")
    fields, problems = parse_os_release(raw.decode("utf-8", "replace"))
    if problems:
        raise ContractViolation("/etc/os-release in os-release(5) form", "; ".join(problems[:4]))
    name = fields.get("PRETTY_NAME") or fields["ID"]
    return f"{name} (ID={fields['ID']}, VERSION_ID={fields.get('VERSION_ID', '-')})"


@check_kind("lm-domain-settings")
def lm_domain_settings(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    path = ctx.settings.docker_settings
    if path is None:
        raise NotApplicable("no DockerSettings document given (--smconform-docker-settings PATH)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractViolation("a DockerSettings JSON document", f"{path}: {exc}") from None
    found = check_docker_settings(unwrap(doc) if isinstance(doc, dict) else doc)
    if found.problems:
        raise ContractViolation("a DockerSettings document the API accepts", "; ".join(found.problems),
                                details=[f"warning: {w}" for w in found.warnings])
    warned = "; warning: " + "; warning: ".join(found.warnings) if found.warnings else ""
    return f"{found.summary}{warned}"


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def _proxy_env(ctx: RunContext) -> dict[str, str]:
    env = dict(str(item).partition("=")[::2] for item in ctx.image_config().get("Env") or [])
    return {k: v for k, v in env.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}


@prewarm_for("lm-rootless-gateway")
def start_gateway_probe(ctx: RunContext, req: Requirement) -> None:
    """Start the throw-away container from inside as soon as the app runs, beside the other checks."""
    def start() -> None:
        launch = needs_socket(ctx, req, req.params)
        ctx.once(GATEWAY_PROBE, lambda: _gateway_probe(ctx, req, req.params, launch))

    ctx.background(start)


@check_kind("lm-rootless-gateway")
def lm_rootless_gateway(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    launch = needs_socket(ctx, req, params)
    return ctx.once(GATEWAY_PROBE, lambda: _gateway_probe(ctx, req, params, launch)).result()


def _gateway_probe(ctx: RunContext, req: Requirement, params: dict[str, Any], launch: Launch) -> str:
    socket, gateway, port = str(params["docker_host"]), str(params["gateway"]), int(params["port"])
    labels = [arg for key, value in ctx.engine.labels.items() for arg in ("--label", f"{key}={value}")]
    image = str(ctx.image()["Id"])
    # Published on the gateway address only (not on every interface of this host) for the few seconds it lives.
    code, output = cli(ctx, launch, ["-H", socket, "run", "-d", *labels, "-p", f"{gateway}::{port}",
                                     "--entrypoint", "python3", image, "-m", "http.server", str(port)])
    inner = output.strip().splitlines()[-1] if code == 0 and output.strip() else ""
    if code != 0 or not re.fullmatch(r"[0-9a-f]{64}", inner):
        raise Blocked(f"starting a container through the image's CLI failed (exit {code}): {output.strip()[-200:]}")
    try:
        code, mapping = cli(ctx, launch, ["-H", socket, "port", inner, f"{port}/tcp"])
        published = re.search(r":(\d+)\s*$", mapping.strip().splitlines()[0]) if code == 0 and mapping.strip() else None
        if published is None:
            raise Blocked(f"`docker port` gave no published port: {mapping.strip()[:200]}")
        host_port = published.group(1)
        probe = ("import sys, urllib.request\n"
                 "urllib.request.urlopen('http://%s:%s/' % (sys.argv[1], sys.argv[2]), timeout=3).read(1)")
        results: dict[str, tuple[int | None, str]] = {}

        def reach(address: str) -> bool:
            results[address] = ctx.engine.exec_run(launch.container_id, ["python3", "-c", probe, address, host_port])
            return results[address][0] == 0

        # The throw-away server is up once this host reaches it; then the app's side is asked, at the
        # gateway and (at the same time: each is a `docker exec`) at localhost.
        if not poll(lambda: _answers(f"http://{gateway}:{host_port}/"), float(params.get("timeout", 30)), 0.2, 1.0):
            raise Blocked(f"the container started through the image's CLI never served on port {host_port}")
        with ThreadPoolExecutor(max_workers=1) as other:
            localhost = other.submit(reach, "127.0.0.1")
            poll(lambda: reach(gateway), timeout=5, first=0.5, most=1.0)
            localhost.result()
    finally:
        # Removed by id through the engine's API: a fraction of a `docker exec` of the image's CLI, and
        # independent of whether that CLI passed our labels on (the run's sweep goes by labels).
        ctx.engine.remove_container(inner)
    if results[gateway][0] != 0:
        said = results[gateway][1].strip().splitlines()
        raise ContractViolation(
            f"a port published by a container started from inside is reached at {gateway}:{host_port}",
            f"the app's side cannot reach it: {said[-1][:200] if said else 'no output'}", launch_name=req.launch,
            details=[f"{k}={v}" for k, v in sorted(_proxy_env(ctx).items())])
    local = "also" if results["127.0.0.1"][0] == 0 else "not"
    return (f"`docker run -p {gateway}::{port}` from inside: reached at {gateway}:{host_port}, {local} at localhost "
            f"(as under rootless Docker); {shlex.quote(inner[:12])} removed")
