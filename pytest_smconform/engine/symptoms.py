"""What a misbehaving container is doing, in words: a flood, a fork bomb, a full disk, a wrong port.

Read when a launch never gets ready, so its failure names the problem instead of a bare
time-out. Every read is bounded: a tail of the log (read again, at most a few times, while a
running container's comes back short), the pids cgroup or one stats sample, one inspect.
"""

from __future__ import annotations

import shlex
import time
from datetime import datetime
from typing import Any

import docker.errors
import requests

from . import procfs
from .containment import LOG_MAX_SIZE

FLOOD_LINES = 200  # log lines sampled; a flood writes these within a blink
FLOOD_SPAN = 1.0  # seconds: faster than this is a flood
FLOOD_READS = 5  # tail reads of a running container: one can land just after the engine truncated its log
FLOOD_PAUSE = 0.02  # seconds between those reads
FORK_SHARE = 0.25  # of the process-count limit: more processes than this in an app not yet up is a fork bomb
DISK_NOTICE = 256 * 1024 * 1024  # bytes written into the container layer worth a mention


def describe(api: Any, container_id: str, port: int | None = None, disk_note: str | None = None) -> list[str]:
    """Short phrases, each naming one thing the container does wrong (empty: nothing stands out)."""
    try:
        info = api.inspect_container(container_id)
        rows = api.containers(all=True, filters={"id": container_id}, size=True)
    except (docker.errors.APIError, requests.RequestException):
        return []
    written = int(rows[0].get("SizeRw") or 0) if rows else 0
    state = info.get("State") or {}
    host = info.get("HostConfig") or {}
    found: list[str] = []
    if disk_note:
        found.append(disk_note)
    elif written >= DISK_NOTICE:
        found.append(f"it wrote {human_bytes(written)} into its own file system")
    if state.get("OOMKilled"):
        found.append(f"it was killed for exceeding its memory limit ({human_bytes(int(host.get('Memory') or 0))})")
    flood = _flood(api, container_id, FLOOD_READS if state.get("Running") else 1)
    if flood:
        found.append(flood)
    if state.get("Running"):
        forks = _forks(api, container_id, int(host.get("PidsLimit") or 0))
        if forks:
            found.append(forks)
        found += _listening(int(state.get("Pid") or 0), port)
    argv = [str(info.get("Path") or ""), *[str(a) for a in info.get("Args") or []]]
    if found or state.get("Running"):
        found.append(f"its PID 1 runs {shlex.join(a for a in argv if a)[:120]!r}")
    return found


def _flood(api: Any, container_id: str, reads: int = 1) -> str | None:
    # The engine truncates a full log (max-file 1), so a flood's tail is short for a moment
    # after each truncation; a running container's tail is read again until it is full.
    for attempt in range(reads):
        if attempt:
            time.sleep(FLOOD_PAUSE)
        lines = _tail(api, container_id)
        if lines is None:
            return None
        if len(lines) >= FLOOD_LINES:
            break
    else:
        return None
    first, last = _stamp(lines[0]), _stamp(lines[-1])
    if first is None or last is None or last - first > FLOOD_SPAN:
        return None
    return (f"it floods its output ({FLOOD_LINES} lines within {max(last - first, 0.0) * 1000:.0f} ms; "
            f"the engine keeps only the last {LOG_MAX_SIZE} of it)")


def _tail(api: Any, container_id: str) -> list[str] | None:
    try:
        raw = api.logs(container_id, stdout=True, stderr=True, tail=FLOOD_LINES, timestamps=True)
    except (docker.errors.APIError, requests.RequestException):
        return None
    return raw.decode("utf-8", "replace").splitlines() if isinstance(raw, bytes) else []


def _stamp(line: str) -> float | None:
    text = line.split(" ", 1)[0]
    head, _, frac = text.rstrip("Z").partition(".")
    try:
        return datetime.fromisoformat(head + "+00:00").timestamp() + float(f"0.{frac or 0}")
    except ValueError:
        return None


def _forks(api: Any, container_id: str, limit: int) -> str | None:
    if limit <= 0:
        return None
    current = _pids_current(api, container_id)
    refused = _refused_forks(container_id)
    if current < FORK_SHARE * limit and not refused:
        return None
    more = f"; {refused} forks refused" if refused else ""
    return f"it forks without end ({current} processes; the limit is {limit}{more})"


# Where the engine's host keeps a container's pids controller (cgroup v1 and v2, both drivers).
_PIDS_DIRS = ("/sys/fs/cgroup/pids/docker/{id}",
              "/sys/fs/cgroup/pids/system.slice/docker-{id}.scope",
              "/sys/fs/cgroup/system.slice/docker-{id}.scope",
              "/sys/fs/cgroup/docker/{id}")


def _pids_file(container_id: str, name: str) -> str | None:
    """The text of the container's pids controller file `name` (None when the engine is not on this host)."""
    for template in _PIDS_DIRS:
        try:
            with open(f"{template.format(id=container_id)}/{name}", encoding="ascii") as handle:
                return handle.read()
        except OSError:
            continue
    return None


def _pids_current(api: Any, container_id: str) -> int:
    # The cgroup file is instant; the engine's stats wait for its next one-second sample.
    text = _pids_file(container_id, "pids.current")
    if text is not None and text.strip().isdigit():
        return int(text)
    try:
        stats = api.stats(container_id, stream=False, one_shot=True)
    except (docker.errors.APIError, requests.RequestException):
        return 0
    return int((stats.get("pids_stats") or {}).get("current") or 0)


def _refused_forks(container_id: str) -> int:
    """How often the process-count limit refused a fork (0 when the engine is not on this host)."""
    for line in (_pids_file(container_id, "pids.events") or "").splitlines():
        key, _, value = line.partition(" ")
        if key == "max" and value.strip().isdigit():
            return int(value)
    return 0


def _listening(pid1: int, port: int | None) -> list[str]:
    if port is None or not pid1 or procfs.proc_info(pid1) is None:
        return []
    ports = sorted({lst.port for lst in procfs.listeners(pid1)})
    if port in ports:
        return []
    if ports:
        return [f"it listens on port {', '.join(map(str, ports))}, not on {port}"]
    return [f"no process in it listens on any port (port {port} never opened)"]


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"
