"""Read a container's processes from the host's /proc: no tool inside the image is needed.

Docker's `top` gives host PIDs; with a local engine (the usual case, and CI's) the host's
/proc shows their identity, environment and the sockets of their network namespace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    uid: int
    euid: int
    gid: int
    egid: int
    groups: tuple[int, ...]
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    inode: int
    family: str


def visible(pids: list[int]) -> bool:
    return bool(pids) and all(Path(f"/proc/{pid}/status").exists() for pid in pids)


def descendants(pid: int) -> list[int] | None:
    """Host PIDs of every process below `pid` (from /proc/PID/task/*/children), None when unreadable.

    For the processes a container's first process started, without asking the engine (`docker top`
    runs `ps` on every call).
    """
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            if current == pid:
                return None
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            except OSError:
                if current == pid:
                    return None
                continue
            for child in children:
                found.append(int(child))
                todo.append(int(child))
    return found


def proc_info(pid: int) -> ProcInfo | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        raw_argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uids = fields.get("Uid", "").split()
    gids = fields.get("Gid", "").split()
    groups = tuple(int(g) for g in fields.get("Groups", "").split())
    argv = tuple(a.decode("utf-8", "replace") for a in raw_argv.split(b"\0") if a)
    return ProcInfo(pid=pid, ppid=int(fields.get("PPid", "0").strip() or 0),
                    uid=int(uids[0]), euid=int(uids[1]), gid=int(gids[0]), egid=int(gids[1]),
                    groups=groups, argv=argv)


def environ(pid: int) -> dict[str, str] | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    out = {}
    for entry in raw.split(b"\0"):
        if b"=" in entry:
            key, _, value = entry.partition(b"=")
            out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return out


def listeners(pid: int) -> list[Listener]:
    """TCP sockets in LISTEN state in the network namespace of `pid`."""
    out = []
    for family in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{family}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10 or cols[3] != _LISTEN:
                continue
            host_hex, port_hex = cols[1].split(":")
            out.append(Listener(_address(host_hex), int(port_hex, 16), int(cols[9]), family))
    return out


def socket_inodes(pid: int) -> set[int]:
    out: set[int] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


def _address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return ".".join(str(b) for b in reversed(raw))
    # /proc prints IPv6 as four host-order 32-bit words.
    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
    full = b"".join(words)
    if full[:12] == b"\0" * 10 + b"\xff\xff":
        return ".".join(str(b) for b in full[12:])
    groups = [full[i:i + 2].hex() for i in range(0, 16, 2)]
    return ":".join(g.lstrip("0") or "0" for g in groups)


def is_wildcard(address: str) -> bool:
    return address in ("0.0.0.0", "0:0:0:0:0:0:0:0", "::")
