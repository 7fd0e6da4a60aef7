"""LaunchPlan: everything needed to start one container, and the `docker run` line that reproduces it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from .. import redact
from .containment import DEFAULT_MEMORY, DEFAULT_PIDS


@dataclass(frozen=True)
class FileDrop:
    """A file the platform provides inside the container (copied in before start)."""

    path: str
    content: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class VolumeMount:
    """A fresh volume the platform mounts; `owner` makes it an empty tmpfs owned by uid:gid."""

    target: str
    owner: tuple[int, int] | None = None
    size: str = "2g"
    read_only: bool = False
    mode: int | None = None  # of the tmpfs root (e.g. 0o2775 for a Kubernetes fsGroup volume)

    def tmpfs_options(self) -> str:
        assert self.owner is not None
        uid, gid = self.owner
        mode = "" if self.mode is None else f",mode={self.mode:o}"
        return f"size={self.size},uid={uid},gid={gid}{mode}"


@dataclass(frozen=True)
class BindMount:
    """A host path mounted into the container as it is (read-write)."""

    source: str
    target: str


@dataclass
class LaunchPlan:
    name: str
    image: str
    entrypoint: list[str] | None = None
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    ports: list[int] = field(default_factory=list)
    volumes: list[VolumeMount] = field(default_factory=list)
    files: list[FileDrop] = field(default_factory=list)
    hostname: str | None = None
    network: str | None = None
    network_aliases: list[str] = field(default_factory=list)
    mem_limit: str = DEFAULT_MEMORY
    pids_limit: int = DEFAULT_PIDS
    cpu_shares: int | None = None  # relative CPU weight under contention (engine default 1024)
    stop_timeout: int = 10
    labels: dict[str, str] = field(default_factory=dict)
    binds: list[BindMount] = field(default_factory=list)  # host paths (local-mode: the engine's socket)
    group_add: list[str] = field(default_factory=list)  # supplementary groups (e.g. the socket's group)

    def docker_run_line(self) -> str:
        """The `docker create/run` command a person can paste to start the same container."""
        parts = ["docker", "create"] if self.files else ["docker", "run", "-d"]
        for key in sorted(self.env):
            parts += ["-e", f"{key}={redact.shown_value(key, self.env[key])}"]
        parts += [f"--mount={_mount_spec(vol)}" for vol in self.volumes]
        parts += [f"--mount=type=bind,src={bind.source},dst={bind.target}" for bind in self.binds]
        parts += [f"--group-add={group}" for group in self.group_add]
        for port in self.ports:
            parts += ["-p", f"127.0.0.1::{port}"]
        for flag, value in (("--user", self.user), ("-w", self.working_dir),
                            ("--hostname", self.hostname), ("--network", self.network)):
            if value:
                parts += [flag, value]
        parts += ["--memory", self.mem_limit, "--pids-limit", str(self.pids_limit)]
        if self.entrypoint is not None:
            parts.append(f"--entrypoint={self.entrypoint[0] if self.entrypoint else ''}")
        parts.append(self.image)
        parts += (self.entrypoint or [])[1:] + (self.command or [])
        return " ".join(shlex.quote(p) for p in parts)

    def reproduce(self) -> str:
        """A shell snippet that starts this container by hand, platform files included."""
        line = self.docker_run_line()
        if not self.files:
            return line
        steps = [f"cid=$({line})", "stage=$(mktemp -d)"]
        for drop in self.files:
            rel = drop.path.lstrip("/")
            steps.append(f"mkdir -p \"$stage/{shlex.quote(rel).rsplit('/', 1)[0]}\"")
            steps.append(
                f"printf %s {shlex.quote(drop.content.decode('utf-8', 'replace'))} > \"$stage\"/{shlex.quote(rel)}"
            )
        steps += ['tar -C "$stage" -c . | docker cp - "$cid":/', 'docker start "$cid"']
        return "\n".join(steps)


def _mount_spec(vol: VolumeMount) -> str:
    base = f"type=volume,dst={vol.target},volume-nocopy=true"
    if vol.read_only:
        base += ",readonly"
    if vol.owner is None:
        return base
    return (f"{base},volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"
            f'"volume-opt=o={vol.tmpfs_options()}"')
