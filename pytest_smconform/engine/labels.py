"""Labels that mark everything the suite creates, so a sweep can find and remove it."""

from __future__ import annotations

import os
import socket
import time
import uuid

RUN_LABEL = "io.smconform.run"
PID_LABEL = "io.smconform.pid"
HOST_LABEL = "io.smconform.host"


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"


def host_identity() -> str:
    """The host a run's resources are labelled with; a run sweeps only dead runs of its own host.

    $SMCONFORM_HOST overrides the host name: runs that share an engine from different machines
    (or containers) with the same host name must not sweep each other by pid.
    """
    name = os.environ.get("SMCONFORM_HOST") or socket.gethostname()
    # a valid label value for both Docker and Kubernetes: at most 63 characters of [A-Za-z0-9_.-]
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return name[:63].strip("-_.") or "unknown"


def labels_for(run_id: str) -> dict[str, str]:
    return {RUN_LABEL: run_id, PID_LABEL: str(os.getpid()), HOST_LABEL: host_identity()}


def owner_is_gone(labels: dict[str, str]) -> bool:
    """True when the run that created a resource was on this host and its process is dead."""
    if labels.get(HOST_LABEL) != host_identity():
        return False
    try:
        pid = int(labels.get(PID_LABEL, ""))
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet (an xdist worker under a live controller)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
