"""Build a bench image with `docker import` of a tar written as it is made (never held whole)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import IO


def docker_import(tag: str, label: str, write_tar: Callable[[IO[bytes]], None]) -> str:
    """`write_tar(sink)` streams the image's one layer into `docker import`; the image is labelled `label`."""
    proc = subprocess.Popen(["docker", "import", "-c", f"LABEL {label}", "-", tag], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)
    assert proc.stdin is not None
    write_tar(proc.stdin)
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"docker import of {tag} failed")
    return tag
