"""The one HostConfig every container of the suite is created with: the image under test is untrusted.

Not privileged, never the host's network, ports on 127.0.0.1 only, memory and process-count
limits, a bounded log (a flooding image cannot fill the disk or our memory through it).
"""

from __future__ import annotations

from typing import Any

DEFAULT_MEMORY = "4g"
# Threads count too. A fork bomb in each of a few launches must not exhaust the host (pid_max 32768 here).
DEFAULT_PIDS = 1024
LOG_MAX_SIZE = "10m"  # the engine keeps at most this much of a container's output
LOG_CONFIG = {"Type": "json-file", "Config": {"max-size": LOG_MAX_SIZE, "max-file": "1"}}
LOOPBACK = "127.0.0.1"


def contained_host_config(api: Any, *, ports: list[int] | None = None, mem_limit: str | None = None,
                          pids_limit: int | None = None, network_mode: str = "bridge",
                          **extra: Any) -> Any:
    """A HostConfig with the suite's limits; `extra` may add mounts, groups, DNS options, devices."""
    if network_mode == "host" or network_mode.startswith("container:"):
        raise ValueError(f"network mode {network_mode!r} would share a namespace the image must not have")
    for forbidden in ("privileged", "cap_add", "port_bindings", "log_config", "pid_mode", "ipc_mode",
                      "userns_mode", "security_opt"):
        if forbidden in extra:
            raise ValueError(f"{forbidden} is set by the containment policy, not by callers")
    return api.create_host_config(
        port_bindings={port: (LOOPBACK, None) for port in ports or []},
        mem_limit=mem_limit or DEFAULT_MEMORY,
        pids_limit=pids_limit or DEFAULT_PIDS,
        network_mode=network_mode,
        privileged=False,
        cap_drop=["NET_RAW"],
        log_config=LOG_CONFIG,
        **extra,
    )
