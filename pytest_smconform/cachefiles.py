"""The suite's on-disk caches (parsed specs, layer scans): where they live, how entries are written.

Entries are files named by a key (JSON, or the layer scan's own layout), written to a temporary name
and renamed, so a concurrent run (xdist workers, a tox matrix) reads a whole entry or none. Every
failure is a miss.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def cache_dir(variable: str, name: str) -> Path | None:
    """`$variable` (empty: no cache), else `<user cache>/pytest-smconform/<name>`."""
    chosen = os.environ.get(variable)
    if chosen is not None:
        return Path(chosen) if chosen else None
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "pytest-smconform" / name


def key_of(*parts: bytes) -> str:
    """SHA-256 over length-prefixed parts (no two different part lists collide by concatenation)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@functools.cache
def code_version(directory: Path, names: tuple[str, ...]) -> bytes:
    """The digest of the source files that produce an entry (read once per process): a change to
    that code must never hit an entry the old code wrote."""
    return key_of(*((directory / name).read_bytes() for name in names)).encode()


def entry_path(directory: Path, key: str, suffix: str = ".json") -> Path:
    return directory / f"{key}{suffix}"


def read_bytes(directory: Path | None, key: str, suffix: str = ".json") -> bytes | None:
    """The entry's bytes, or None (no cache, no entry, unreadable)."""
    if directory is None:
        return None
    try:
        return entry_path(directory, key, suffix).read_bytes()
    except OSError:
        return None


def read_entry(directory: Path | None, key: str) -> Any:
    """The entry's JSON, or None (no cache, no entry, unreadable, not JSON)."""
    raw = read_bytes(directory, key)
    try:
        return None if raw is None else json.loads(raw)
    except ValueError:
        return None


def write_entry(directory: Path | None, key: str, data: str | bytes, keep: int | None = None,
                suffix: str = ".json", obsolete: str | None = None) -> None:
    """Write an entry whole or not at all; with `keep`, remove all but the newest `keep` entries (and
    every file named `*obsolete`: entries of an earlier layout, which nothing reads any more)."""
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".entry-", suffix=".tmp")
    except OSError:
        return
    replaced = False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, entry_path(directory, key, suffix))
        replaced = True
    except OSError:
        return
    finally:
        if not replaced:  # also on Ctrl-C in the middle of the write
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    if keep is not None:
        _prune(directory, keep, suffix, obsolete)


STALE_TEMPORARY = 600.0  # seconds: a temporary entry this old belongs to a run that was killed


def _prune(directory: Path, keep: int, suffix: str, obsolete: str | None) -> None:
    """All but the newest `keep` entries go, and temporary files that killed runs left behind."""
    with contextlib.suppress(OSError):
        entries = sorted(directory.glob(f"*{suffix}"), key=lambda p: p.stat().st_mtime, reverse=True)
        now = time.time()
        stale = [t for t in directory.glob(".entry-*.tmp") if now - t.stat().st_mtime > STALE_TEMPORARY]
        gone = list(directory.glob(f"*{obsolete}")) if obsolete else []
        for old in [*entries[keep:], *stale, *gone]:
            with contextlib.suppress(OSError):
                old.unlink()
