"""The idle endpoint contract as the jupyter-k8s operator reads it, and lifecycle-script limits.

The operator's podExec probe runs curl inside the container against
`http://localhost:<port><applicationBasePath + httpGet.path>`, reads the JSON value at a dot path
(default `lastActiveTimestamp`) and parses it as RFC 3339 after upper-casing it (so a lowercase `z`
and fractional seconds pass), or as unix epoch seconds when the format says `unix`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

DEFAULT_BODY_PATH = "lastActiveTimestamp"
DEFAULT_IDLE_PATH = "/api/idle"
DEFAULT_PORT = 8888
LIFECYCLE_MAX_BYTES = 1024
SHELLS = ("bash", "sh")

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-](\d{2}):(\d{2}))$")


class TimestampError(ValueError):
    """The value would make the operator retry forever (the workspace is never found idle)."""


@dataclass(frozen=True)
class Probe:
    """Where and how the operator asks for the last activity."""

    port: int = DEFAULT_PORT
    path: str = DEFAULT_IDLE_PATH
    body_path: str = DEFAULT_BODY_PATH
    format: str = "RFC3339"

    def url_path(self, base: str) -> str:
        return join_base(base, self.path)


def join_base(base: str, path: str) -> str:
    """`status.applicationBasePath` joined with `httpGet.path`."""
    base = "/" + base.strip("/") if base.strip("/") else ""
    return f"{base}/{path.lstrip('/')}"


def probe_from_idle(idle: dict[str, Any] | None, default_port: int = DEFAULT_PORT) -> Probe:
    """The probe an IdleShutdownSpec describes (operator defaults for what it leaves out)."""
    found = _dig(idle, "detection", "httpGet")
    http: dict[str, Any] = found if isinstance(found, dict) else {}
    port = http.get("port", default_port)
    stamp_found = http.get("lastActivityTimestamp")
    stamp: dict[str, Any] = stamp_found if isinstance(stamp_found, dict) else {}
    return Probe(port=int(port) if isinstance(port, int) or str(port).isdigit() else default_port,
                 path=str(http.get("path") or DEFAULT_IDLE_PATH),
                 body_path=str(stamp.get("responseBodyPath") or DEFAULT_BODY_PATH),
                 format=str(stamp.get("format") or "RFC3339"))


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def parse_rfc3339(text: str) -> datetime:
    """Go's time.Parse(time.RFC3339, strings.ToUpper(text))."""
    match = _RFC3339.match(text.upper())
    if not match:
        raise TimestampError(f"{text!r} is not an RFC 3339 timestamp (e.g. 2026-01-02T03:04:05.123Z)")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or "").ljust(9, "0")
    tz = timezone.utc
    if match.group(8) != "Z":
        sign = 1 if match.group(8)[0] == "+" else -1
        hours, minutes = int(match.group(9)), int(match.group(10))
        if hours > 23 or minutes > 59:
            raise TimestampError(f"{text!r}: bad time zone offset")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(year, month, day, hour, minute, second, int(fraction[:6]), tzinfo=tz)
    except ValueError as exc:
        raise TimestampError(f"{text!r}: {exc}") from None


def parse_unix(value: Any) -> datetime:
    if isinstance(value, bool):
        raise TimestampError(f"{value!r} is not unix seconds")
    try:
        seconds = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    except ValueError:
        raise TimestampError(f"{value!r} is not unix epoch seconds") from None
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise TimestampError(f"{value!r}: {exc}") from None


def value_at(body: Any, dot_path: str) -> Any:
    """The value at a dot path in a decoded JSON body (None when absent)."""
    node = body
    for part in dot_path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def last_activity(body_text: str, probe: Probe) -> datetime:
    """What the operator reads from a 200 answer; TimestampError when it would retry forever."""
    try:
        body = json.loads(body_text)
    except ValueError:
        raise TimestampError(f"the body is not JSON: {body_text[:120]!r}") from None
    value = value_at(body, probe.body_path)
    if value is None or value == "":
        raise TimestampError(f"the JSON has no {probe.body_path!r} value: {body_text[:120]!r}")
    if isinstance(value, (dict, list)):
        raise TimestampError(f"{probe.body_path!r} is {type(value).__name__}, not a timestamp")
    if probe.format == "unix":
        return parse_unix(value)
    if not isinstance(value, str):
        raise TimestampError(f"{probe.body_path!r} is {value!r}, not an RFC 3339 string (format RFC3339)")
    return parse_rfc3339(value)


# -- lifecycle start-up scripts ----------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleScript:
    command: tuple[str, ...]
    script: str | None  # the text after `bash -c`, when the command is one
    source: str  # where it came from

    @property
    def size(self) -> int:
        return len((self.script if self.script is not None else " ".join(self.command)).encode("utf-8"))


def lifecycle_script(lifecycle: Any, source: str) -> LifecycleScript | None:
    """The postStart exec command of a Kubernetes Lifecycle, if it has one."""
    command = _dig(lifecycle, "postStart", "exec", "command")
    if not isinstance(command, list) or not command:
        return None
    argv = tuple(str(c) for c in command)
    script = None
    if len(argv) >= 3 and argv[0].rsplit("/", 1)[-1] in SHELLS and argv[1] in ("-c", "-lc", "-ec", "-xc"):
        script = argv[2]
    return LifecycleScript(argv, script, source)


def lifecycle_problems(item: LifecycleScript, max_bytes: int = LIFECYCLE_MAX_BYTES) -> list[str]:
    """The model half of SP-LIFECYCLE: a bash script, at most 1 KB."""
    problems = []
    shell = item.command[0].rsplit("/", 1)[-1]
    if shell != "bash":
        problems.append(f"the start-up command runs {item.command[0]!r}, not bash "
                        "(write it as [\"/bin/bash\", \"-c\", \"<script>\"])")
    if item.size > max_bytes:
        problems.append(f"the script is {item.size} bytes; at most {max_bytes} (1 KB): put a longer script "
                        "in the image and call it from the lifecycle configuration")
    return problems
