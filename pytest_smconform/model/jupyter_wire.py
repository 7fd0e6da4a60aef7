"""The Jupyter messaging protocol over ZMTP 3.0 (NULL security), as bytes in and bytes out. No I/O.

Enough of ZeroMQ's wire protocol (RFC 23) to be a DEALER talking to a kernel's ROUTER
shell socket, and enough of the Jupyter wire format (signed multipart messages) to send
`kernel_info_request` / `execute_request` and read the replies. The suite needs no pyzmq.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

GREETING_SIZE = 64
DELIMITER = b"<IDS|MSG>"
PROTOCOL_VERSION = "5.3"
FLAG_MORE, FLAG_LONG, FLAG_COMMAND = 0x01, 0x02, 0x04


class WireError(ValueError):
    """The peer does not speak ZMTP 3 or the Jupyter wire format as expected."""


def greeting(as_server: bool = False) -> bytes:
    """ZMTP 3.0 greeting: signature, version 3.0, mechanism NULL, as-server flag, filler."""
    return (b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([3, 0]) + b"NULL".ljust(20, b"\x00")
            + bytes([1 if as_server else 0]) + b"\x00" * 31)


def check_greeting(data: bytes) -> tuple[int, int, str]:
    """(major, minor, mechanism) of a peer's 64-byte greeting; WireError when it is not ZMTP 3."""
    if len(data) < GREETING_SIZE or data[0] != 0xFF or data[9] & 0x01 != 0x01:
        raise WireError(f"not a ZMTP greeting: {data[:16]!r}")
    major, minor = data[10], data[11]
    mechanism = data[12:32].rstrip(b"\x00").decode("ascii", "replace")
    if major < 3:
        raise WireError(f"ZMTP {major}.{minor} is too old (need 3.x)")
    if mechanism != "NULL":
        raise WireError(f"the peer wants security mechanism {mechanism}, not NULL")
    return major, minor, mechanism


def frame(body: bytes, more: bool = False, command: bool = False) -> bytes:
    flags = (FLAG_MORE if more else 0) | (FLAG_COMMAND if command else 0)
    if len(body) > 255:
        return bytes([flags | FLAG_LONG]) + len(body).to_bytes(8, "big") + body
    return bytes([flags, len(body)]) + body


def ready_command(socket_type: str) -> bytes:
    """The READY command a socket sends after the greeting (metadata: Socket-Type, Identity)."""
    props = b""
    for name, value in ((b"Socket-Type", socket_type.encode()), (b"Identity", b"")):
        props += bytes([len(name)]) + name + len(value).to_bytes(4, "big") + value
    return frame(b"\x05READY" + props, command=True)


def multipart(parts: list[bytes]) -> bytes:
    return b"".join(frame(p, more=i < len(parts) - 1) for i, p in enumerate(parts))


@dataclass
class FrameReader:
    """Incremental frame decoder: feed bytes, take complete frames as (flags, body)."""

    buffer: bytes = b""
    frames: list[tuple[int, bytes]] = field(default_factory=list)

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if len(self.buffer) < 2:
                return
            flags = self.buffer[0]
            if flags & ~(FLAG_MORE | FLAG_LONG | FLAG_COMMAND):
                raise WireError(f"bad frame flags {flags:#x}")
            if flags & FLAG_LONG:
                if len(self.buffer) < 9:
                    return
                size, start = int.from_bytes(self.buffer[1:9], "big"), 9
            else:
                size, start = self.buffer[1], 2
            if len(self.buffer) < start + size:
                return
            self.frames.append((flags, self.buffer[start:start + size]))
            self.buffer = self.buffer[start + size:]

    def take_message(self) -> tuple[str, list[bytes]] | None:
        """('command', [body]) or ('message', parts) when one is complete, else None."""
        if not self.frames:
            return None
        flags, body = self.frames[0]
        if flags & FLAG_COMMAND:
            self.frames.pop(0)
            return "command", [body]
        for index, (f, _) in enumerate(self.frames):
            if not f & FLAG_MORE:
                parts = [b for _, b in self.frames[:index + 1]]
                del self.frames[:index + 1]
                return "message", parts
        return None


def command_name(body: bytes) -> str:
    return body[1:1 + body[0]].decode("ascii", "replace") if body else ""


# -- Jupyter messages --------------------------------------------------------------------------


def sign(key: bytes, parts: list[bytes]) -> bytes:
    if not key:
        return b""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.hexdigest().encode()


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def request(key: bytes, session: str, msg_type: str, content: dict[str, Any],
            username: str = "smconform") -> tuple[str, list[bytes]]:
    """(msg_id, frames) of a signed request from a DEALER (no routing identities)."""
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "session": session, "username": username, "msg_type": msg_type,
              "date": datetime.now(timezone.utc).isoformat(), "version": PROTOCOL_VERSION}
    body = [_dump(header), _dump({}), _dump({}), _dump(content)]
    return msg_id, [DELIMITER, sign(key, body), *body]


@dataclass(frozen=True)
class Message:
    header: dict[str, Any]
    parent_header: dict[str, Any]
    content: dict[str, Any]

    @property
    def msg_type(self) -> str:
        return str(self.header.get("msg_type", ""))

    def replies_to(self, msg_id: str) -> bool:
        return self.parent_header.get("msg_id") == msg_id


def parse(key: bytes, parts: list[bytes]) -> Message:
    """A received multipart message, its signature checked; WireError when it is malformed."""
    if DELIMITER not in parts:
        raise WireError("no <IDS|MSG> delimiter in the message")
    at = parts.index(DELIMITER)
    if len(parts) < at + 6:
        raise WireError(f"{len(parts) - at - 1} frames after the delimiter (need 5)")
    signature, body = parts[at + 1], parts[at + 2:at + 6]
    if key and not hmac.compare_digest(signature, sign(key, body)):
        raise WireError("the reply's HMAC signature does not match the connection key")
    try:
        header, parent, _metadata, content = (json.loads(p) for p in body)
    except ValueError as exc:
        raise WireError(f"a message part is not JSON: {exc}") from None
    return Message(header, parent, content)


def connection_info(key: str, ports: dict[str, int], ip: str = "0.0.0.0") -> dict[str, Any]:
    """A kernel connection file's content (TCP transport, HMAC-SHA256 signatures)."""
    return {"transport": "tcp", "ip": ip, "key": key, "signature_scheme": "hmac-sha256",
            "kernel_name": "", **{f"{name}_port": port for name, port in ports.items()}}


CHANNELS = ("shell", "iopub", "stdin", "control", "hb")
