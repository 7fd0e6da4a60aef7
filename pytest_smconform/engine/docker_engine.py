"""Start, observe and remove containers on a real Docker engine; everything carries the run's label."""

from __future__ import annotations

import contextlib
import io
import posixpath
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import requests

from .. import redact
from ..errors import EngineError, ImageNotFound
from .containment import contained_host_config
from .labels import RUN_LABEL, labels_for, owner_is_gone
from .plan import FileDrop, LaunchPlan

LOG_TAIL_LINES = 40
PING_TIMEOUT = 10  # seconds the engine has to answer its first request
LOG_LINE_MAX = 400


@dataclass
class Launch:
    """One container started from a plan, and what became of it."""

    plan: LaunchPlan
    container_id: str
    host_ports: dict[int, int] = field(default_factory=dict)
    started_at: float = 0.0
    ready_at: float | None = None
    answered_at: float | None = None  # the app answered at all (any HTTP status)
    ready_error: str | None = None
    ready_detail: dict[str, Any] = field(default_factory=dict)
    volume_names: list[str] = field(default_factory=list)

    @property
    def is_up(self) -> bool:
        """Running and observable: ready, or at least answering (e.g. 403 while auth is on)."""
        return self.ready_at is not None or self.answered_at is not None

    @property
    def time_to_ready(self) -> float | None:
        return None if self.ready_at is None else self.ready_at - self.started_at

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{self.host_ports[port]}{path}"


POOL_SIZE = 64


class DockerEngine:
    """A connection to one engine for one run; owns every resource it creates."""

    def __init__(self, run_id: str, timeout: int = 60) -> None:
        self.run_id = run_id
        self.labels = labels_for(run_id)
        self._lock = threading.Lock()
        try:
            # A hung engine must not hold the run for the whole request timeout: the ping gets less.
            # Room for a blocking wait per running job container beside the other requests (default 10).
            self.client = docker.from_env(timeout=PING_TIMEOUT, max_pool_size=POOL_SIZE)
            self.client.ping()
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise EngineError(f"cannot reach the Docker engine ({_first_line(exc)}); "
                              "start dockerd or set DOCKER_HOST") from None
        self.client.api.timeout = timeout
        # The SDK's bundled hints disagree with its documented call forms; use it untyped.
        self.api: Any = self.client.api

    # -- images -------------------------------------------------------------------------

    def inspect_image(self, ref: str) -> dict[str, Any]:
        try:
            info: dict[str, Any] = self.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            raise ImageNotFound(
                f"image {ref!r} is not on the engine; build or load it first "
                "(the suite never pulls: it checks exactly the image you have)") from None
        except docker.errors.APIError as exc:
            raise EngineError(f"inspecting image {ref!r}: {_first_line(exc)}") from None
        return info

    def image_tar_stream(self, ref: str) -> Iterator[bytes]:
        """`docker save` of one image, streamed in chunks (never held whole in memory)."""
        try:
            stream: Iterator[bytes] = self.api.get_image(ref, chunk_size=1 << 20)
        except docker.errors.APIError as exc:
            raise EngineError(f"saving image {ref!r}: {_first_line(exc)}") from None
        return stream

    def engine_version(self) -> dict[str, Any]:
        version: dict[str, Any] = self.api.version()
        return version

    # -- containers ---------------------------------------------------------------------

    def start(self, plan: LaunchPlan, starting: Callable[[], None] | None = None) -> Launch:
        """Create and start the plan's container; `starting` is called as the engine is asked to start
        it (the engine then works for a while, and this process is free to)."""
        volume_names = [self._create_volume(plan, i) for i in range(len(plan.volumes))]
        mounts = [
            docker.types.Mount(target=vol.target, source=name, type="volume", no_copy=True,
                               read_only=vol.read_only)
            for vol, name in zip(plan.volumes, volume_names, strict=True)
        ]
        mounts += [docker.types.Mount(target=bind.target, source=bind.source, type="bind") for bind in plan.binds]
        host_config = contained_host_config(
            self.api, ports=plan.ports, mem_limit=plan.mem_limit, pids_limit=plan.pids_limit,
            network_mode=plan.network or "bridge",
            mounts=mounts, group_add=plan.group_add or None, cpu_shares=plan.cpu_shares,
        )
        redact.remember(plan.env)
        networking = None
        if plan.network and plan.network_aliases:
            networking = self.api.create_networking_config(
                {plan.network: self.api.create_endpoint_config(aliases=plan.network_aliases)})
        try:
            created = self.api.create_container(
                image=plan.image,
                entrypoint=plan.entrypoint,
                command=plan.command,
                environment=plan.env,
                user=plan.user or "",
                working_dir=plan.working_dir,
                hostname=plan.hostname,
                ports=plan.ports,
                labels={**self.labels, **plan.labels},
                host_config=host_config,
                networking_config=networking,
                stop_timeout=plan.stop_timeout,
                detach=True,
            )
        except docker.errors.APIError as exc:
            self._remove_volumes(volume_names)
            raise EngineError(f"creating the {plan.name!r} container: {_first_line(exc)}") from None
        launch = Launch(plan=plan, container_id=created["Id"], volume_names=volume_names)
        try:
            if plan.files:
                self._copy_in(launch.container_id, plan.files, [v.target for v in plan.volumes])
            launch.started_at = time.monotonic()
            if starting is not None:
                starting()
            self.api.start(launch.container_id)
            launch.host_ports = self._host_ports(launch.container_id, plan.ports)
        except docker.errors.APIError as exc:
            launch.ready_error = f"the engine refused to start the container: {_first_line(exc)}"
        return launch

    def _create_volume(self, plan: LaunchPlan, index: int) -> str:
        vol = plan.volumes[index]
        opts: dict[str, str] = {}
        if vol.owner is not None:
            opts = {"type": "tmpfs", "device": "tmpfs", "o": vol.tmpfs_options()}
        created = self.api.create_volume(driver="local", driver_opts=opts or None, labels=self.labels)
        return str(created["Name"])

    def _copy_in(self, container_id: str, files: list[FileDrop], mount_targets: list[str]) -> None:
        """Copy platform files in before start, all in one archive (each copy is a round trip that holds
        the container).

        The archive names no directory at or above the volume (or existing directory) that holds a
        file, so the image's own directories keep their modes: a 0700 /opt must stay 0700. Only the
        directories below it are created (0755).
        """
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            added: set[str] = set()
            for drop in files:
                base = _holding_root(drop.path, mount_targets).rstrip("/")
                relative = drop.path[len(base):].strip("/").split("/")
                for depth in range(1, len(relative)):
                    directory = "/".join([base.lstrip("/"), *relative[:depth]]).lstrip("/")
                    if directory not in added:
                        added.add(directory)
                        info = tarfile.TarInfo(directory)
                        info.type, info.mode = tarfile.DIRTYPE, 0o755
                        tar.addfile(info)
                info = tarfile.TarInfo(drop.path.lstrip("/"))
                info.size, info.mode, info.uid, info.gid = len(drop.content), drop.mode, drop.uid, drop.gid
                tar.addfile(info, io.BytesIO(drop.content))
        self.api.put_archive(container_id, "/", buffer.getvalue())

    def _host_ports(self, container_id: str, ports: list[int]) -> dict[int, int]:
        info = self.api.inspect_container(container_id)
        bound = info["NetworkSettings"]["Ports"] or {}
        out = {}
        for port in ports:
            bindings = bound.get(f"{port}/tcp") or []
            for binding in bindings:
                if binding.get("HostIp") in ("127.0.0.1", ""):
                    out[port] = int(binding["HostPort"])
        return out

    def state(self, container_id: str) -> dict[str, Any]:
        try:
            state: dict[str, Any] = self.api.inspect_container(container_id)["State"]
        except docker.errors.NotFound:
            return {"Status": "removed", "Running": False, "ExitCode": None}
        return state

    def is_running(self, container_id: str) -> bool:
        return bool(self.state(container_id).get("Running"))

    def top_pids(self, container_id: str) -> list[int]:
        """Host PIDs of every process in the container."""
        try:
            top = self.api.top(container_id, ps_args="-o pid")
        except docker.errors.APIError:
            return []
        return [int(row[0]) for row in top.get("Processes") or [] if row and row[0].isdigit()]

    def exec_run(self, container_id: str, argv: list[str], user: str = "",
                 timeout: float = 30.0) -> tuple[int | None, str]:
        """Run a command inside the container; output is capped so a flood cannot hurt us."""
        try:
            exec_id = self.api.exec_create(container_id, argv, user=user, stdout=True, stderr=True)
            chunks: list[bytes] = []
            size = 0
            deadline = time.monotonic() + timeout
            for chunk in self.api.exec_start(exec_id, stream=True):
                if size < 64 * 1024:
                    chunks.append(chunk)
                    size += len(chunk)
                if time.monotonic() > deadline:
                    break
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError as exc:
            return None, _first_line(exc)
        return code, b"".join(chunks).decode("utf-8", "replace")

    def log_tail(self, container_id: str, lines: int = LOG_TAIL_LINES) -> list[str]:
        try:
            raw = self.api.logs(container_id, stdout=True, stderr=True, tail=lines)
        except docker.errors.APIError:
            return []
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return [line[:LOG_LINE_MAX] for line in text.splitlines()[-lines:]]

    def stop(self, container_id: str, timeout: int) -> None:
        self.api.stop(container_id, timeout=timeout)

    def kill(self, container_id: str, signal: str) -> None:
        self.api.kill(container_id, signal=signal)

    def remove_container(self, container_id: str) -> bool:
        """Force-remove a container by id (one the image started itself, e.g. through the engine socket)."""
        return bool(_quietly(self.api.remove_container, container_id, force=True, v=True))

    def remove(self, launch: Launch) -> None:
        try:
            self.api.remove_container(launch.container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError:
            return
        self._remove_volumes(launch.volume_names)

    def _remove_volumes(self, names: list[str]) -> None:
        for name in names:
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_volume(name, force=True)

    # -- sweeps -------------------------------------------------------------------------

    def sweep(self, stale: bool = False) -> int:
        """Remove what this run created, or (stale=True) what dead runs on this host left behind.

        Containers go first (in parallel: each removal is a round trip that may wait for a
        kill), then networks and volumes, which a container may still have held.
        """
        label_filter = RUN_LABEL if stale else f"{RUN_LABEL}={self.run_id}"

        def mine(labels: dict[str, str] | None) -> bool:
            return not stale or owner_is_gone(labels or {})

        containers = [c["Id"] for c in self.api.containers(all=True, filters={"label": label_filter})
                      if mine(c.get("Labels"))]
        with ThreadPoolExecutor(max_workers=4) as pool:
            removed = sum(pool.map(lambda cid: _quietly(self.api.remove_container, cid, force=True, v=True),
                                   containers))
        for network in self.api.networks(filters={"label": label_filter}):
            if mine(network.get("Labels")):
                removed += _quietly(self.api.remove_network, network["Id"])
        for volume in (self.api.volumes(filters={"label": label_filter}) or {}).get("Volumes") or []:
            if mine(volume.get("Labels")):
                removed += _quietly(self.api.remove_volume, volume["Name"], force=True)
        return removed

    def sweep_stale(self) -> int:
        return self.sweep(stale=True)

    def create_network(self, name: str) -> str:
        created = self.api.create_network(name, driver="bridge", internal=True, labels=self.labels)
        return str(created["Id"])

    def remove_network(self, name: str) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self.api.remove_network(name)

    # -- exec in the background, files in and out (kernelgateway) ---------------------------

    def exec_stream(self, container_id: str, argv: list[str], user: str = "", workdir: str | None = None,
                    environment: dict[str, str] | None = None) -> tuple[str, Iterator[bytes]]:
        """Start a long-running command; returns its exec id and its output stream (read it in a thread)."""
        try:
            exec_id = self.api.exec_create(container_id, argv, user=user, stdout=True, stderr=True,
                                           workdir=workdir, environment=environment or None)["Id"]
            stream: Iterator[bytes] = self.api.exec_start(exec_id, stream=True)
        except docker.errors.APIError as exc:
            raise EngineError(f"exec {argv[:1]} in the container: {_first_line(exc)}") from None
        return str(exec_id), stream

    def exec_state(self, exec_id: str) -> dict[str, Any]:
        """Running, ExitCode and Pid (a host PID) of an exec."""
        try:
            state: dict[str, Any] = self.api.exec_inspect(exec_id)
        except docker.errors.APIError:
            return {"Running": False, "ExitCode": None, "Pid": 0}
        return state

    def run_once(self, image: str, argv: list[str], device_requests: list[dict[str, Any]] | None = None,
                 timeout: float = 60) -> tuple[int | None, str]:
        """Run `argv` (as the entrypoint) in a throw-away container of `image`; (exit code, output)."""
        requests_ = [docker.types.DeviceRequest(
            driver=r.get("Driver", ""), count=r.get("Count", 0), device_ids=r.get("DeviceIDs") or [],
            capabilities=r.get("Capabilities") or [], options=r.get("Options") or {}) for r in device_requests or []]
        try:
            created = self.api.create_container(
                image=image, entrypoint=argv[:1], command=argv[1:], labels=self.labels, detach=True,
                host_config=contained_host_config(self.api, device_requests=requests_ or None, network_mode="none"))
        except docker.errors.APIError as exc:
            return None, _first_line(exc)
        try:
            self.api.start(created["Id"])
            code = self.api.wait(created["Id"], timeout=timeout).get("StatusCode")
            return code, "\n".join(self.log_tail(created["Id"], 200))
        except (docker.errors.APIError, requests.RequestException) as exc:
            return None, _first_line(exc)
        finally:
            _quietly(self.api.remove_container, created["Id"], force=True, v=True)

    def info(self) -> dict[str, Any]:
        """`docker info` of the engine (runtimes, devices, ...)."""
        info: dict[str, Any] = self.api.info()
        return info

    def read_file(self, container_id: str, path: str, limit: int = 1 << 20) -> bytes | None:
        """The content of one regular file of the container (None: missing, not a file or too big)."""
        try:
            stream, stat = self.api.get_archive(container_id, path)
        except docker.errors.APIError:
            return None
        if stat.get("size", 0) > limit:
            return None
        raw = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            member = next((m for m in tar.getmembers() if m.isfile()), None)
            handle = tar.extractfile(member) if member is not None else None
            return handle.read() if handle is not None else None


def _holding_root(path: str, mount_targets: list[str]) -> str:
    """The deepest mount target above `path`, else the file's own directory."""
    holders = [t for t in mount_targets if path.startswith(t.rstrip("/") + "/")]
    return max(holders, key=len) if holders else posixpath.dirname(path)


def _quietly(action: Any, *args: Any, **kwargs: Any) -> int:
    """1 when the engine removed it, 0 when it was already gone or refused (never raises)."""
    try:
        action(*args, **kwargs)
    except docker.errors.APIError:
        return 0
    return 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
