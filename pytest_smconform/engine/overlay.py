"""Fast path for the layer scan: read an overlay2 image's layer directories on the engine's host.

`docker save` makes the daemon tar every layer (seconds for a few hundred MB); when the engine
is local and uses overlay2, the same information is in its layer directories and a walk with
lstat takes a fraction of that. Whiteouts there are 0:0 character devices; an opaque directory
carries the `trusted.overlay.opaque` attribute. Anything unexpected returns None, and the
caller falls back to `docker save`.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .layers import CONTENT_LIMIT, Entry, Layer, LayerScan, Wanted, check_cancel


def layer_dirs(image: dict[str, Any]) -> list[Path] | None:
    """The image's layer directories, bottom first, if readable here; else None."""
    driver = image.get("GraphDriver") or {}
    if driver.get("Name") != "overlay2":
        return None
    data = driver.get("Data") or {}
    lower = [Path(p) for p in str(data.get("LowerDir") or "").split(":") if p]
    upper = data.get("UpperDir")
    dirs = [*reversed(lower), *([Path(upper)] if upper else [])]
    if not dirs or not all(os.access(d, os.R_OK | os.X_OK) for d in dirs):
        return None
    return dirs


def scan_overlay(image: dict[str, Any], want_content: set[str],
                 cancel: threading.Event | None = None) -> LayerScan | None:
    """The image's layers from their directories here (None: not readable here); stops with ScanCancelled
    once `cancel` is set (an image of millions of files takes many seconds)."""
    dirs = layer_dirs(image)
    if dirs is None:
        return None
    layers = []
    contents: dict[str, bytes] = {}
    try:
        for directory in dirs:
            layer, found = _scan_dir(directory, Wanted(want_content), cancel)
            for gone in layer.whiteouts:
                for key in [k for k in contents if k == gone or k.startswith(gone + "/")]:
                    del contents[key]
            for opaque in layer.opaque_dirs:
                for key in [k for k in contents if k.startswith(opaque.rstrip("/") + "/")]:
                    del contents[key]
            contents.update(found)
            layers.append(layer)
    except OSError:
        return None
    return LayerScan(layers=layers, contents=contents, config={})


# The kind of an entry by its file type bits (one lookup per file instead of a test per kind).
_KINDS = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink"}


# Directories are opened relative to the layer's own, and their entries looked at relative to them: a
# stat by full path made the kernel walk every component of it again for each of tens of thousands of
# files (a walk of 36,000 files: 0.15 s of system time, against 0.08 s this way).
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _scan_dir(root: Path, want: Wanted, cancel: threading.Event | None = None) -> tuple[Layer, dict[str, bytes]]:
    """One layer directory, every entry. Runs once per layer and file of an image not scanned before, on
    the way to the first kernel: names are bound locally, and a layer entry is built without the
    NamedTuple's own (Python) constructor."""
    layer = Layer(digest=root.parent.name)
    contents: dict[str, bytes] = {}
    exact, suffixes = want.exact, want.suffixes
    new_entry, kinds, file_type, permissions = tuple.__new__, _KINDS.get, stat.S_IFMT, stat.S_IMODE
    entries, whiteouts, readlink = layer.entries, layer.whiteouts, os.readlink
    root_fd = os.open(root, _DIRECTORY)
    try:
        stack = [""]  # directories still to read, by their path in the image ("" is the layer's root)
        while stack:
            check_cancel(cancel)
            virtual = stack.pop()
            fd = os.open(virtual[1:], _DIRECTORY, dir_fd=root_fd) if virtual else root_fd
            try:
                if virtual and _is_opaque(fd):
                    layer.opaque_dirs.append(virtual)
                with os.scandir(fd) as it:
                    for item in it:
                        info = item.stat(follow_symlinks=False)
                        name = item.name
                        path = f"{virtual}/{name}"
                        mode = info.st_mode
                        kind = kinds(file_type(mode), "other")
                        if kind == "other" and file_type(mode) == stat.S_IFCHR and info.st_rdev == 0:
                            whiteouts.append(path)
                            continue
                        if kind == "file":
                            entries.append(new_entry(Entry, (path, info.st_uid, info.st_gid, permissions(mode),
                                                             info.st_size, "file", "")))
                            # `path in want`, inlined: a method call per file was 30 ms of a 36,000-file walk
                            if ((path in exact or (suffixes and path.endswith(suffixes)))
                                    and info.st_size <= CONTENT_LIMIT):
                                contents[path] = _read_at(fd, name)
                            continue
                        link = readlink(name, dir_fd=fd) if kind == "symlink" else ""
                        entries.append(new_entry(Entry, (path, info.st_uid, info.st_gid, permissions(mode), 0, kind,
                                                         link)))
                        if kind == "dir":
                            stack.append(path)
            finally:
                if fd != root_fd:
                    os.close(fd)
    finally:
        os.close(root_fd)
    return layer, contents


def _read_at(directory_fd: int, name: str) -> bytes:
    with os.fdopen(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory_fd), "rb") as handle:
        return handle.read(CONTENT_LIMIT + 1)


def _is_opaque(directory: str | int) -> bool:
    """Whether the directory (a path, never followed if a link, or an open descriptor) is opaque."""
    try:
        if isinstance(directory, int):
            return os.getxattr(directory, "trusted.overlay.opaque") == b"y"
        return os.getxattr(directory, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


class OverlayLookup(Mapping[str, tuple[str, str]]):
    """The image's final tree, path by path, looked up in its layer directories on demand.

    For a question about a few paths (is there a /bin/sh?) without the whole scan: `get(path)` is
    (kind, link) as the full scan's final tree would give it, or missing. Not iterable.
    """

    def __init__(self, dirs: list[Path]) -> None:
        self._top_first = list(reversed(dirs))

    def __getitem__(self, path: str) -> tuple[str, str]:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return "dir", ""
        for layer in self._top_first:
            hides_lower = False
            # Component by component, so that no symbolic link in the layer is ever followed.
            for depth in range(1, len(parts) + 1):
                here = layer.joinpath(*parts[:depth])
                found = _lstat(here)
                if found is None:
                    break  # not in this layer
                mode = found.st_mode
                if stat.S_ISCHR(mode) and found.st_rdev == 0:
                    raise KeyError(path)  # whited out here
                if depth == len(parts):
                    kind = ("dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode)
                            else "symlink" if stat.S_ISLNK(mode) else "other")
                    return kind, os.readlink(here) if kind == "symlink" else ""
                if not stat.S_ISDIR(mode):
                    raise KeyError(path)  # a file or a link over the lower layers' directory
                hides_lower = hides_lower or _is_opaque(str(here))
            if hides_lower:
                raise KeyError(path)
        raise KeyError(path)

    def __iter__(self) -> Iterator[str]:
        raise TypeError("an OverlayLookup answers for single paths only")

    def __len__(self) -> int:
        raise TypeError("an OverlayLookup answers for single paths only")


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
