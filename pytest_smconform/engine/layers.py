"""Scan every layer of an image from one streamed `docker save`, deleted files included."""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
CONTENT_LIMIT = 256 * 1024


class ScanCancelled(Exception):
    """The run ended before the layer scan did (the scan stops instead of holding up the run's exit)."""


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ScanCancelled("the run ended before the layer scan did")


def until_cancelled(chunks: Iterable[bytes], cancel: threading.Event | None) -> Iterator[bytes]:
    """`chunks`, stopping with ScanCancelled once `cancel` is set."""
    for chunk in chunks:
        check_cancel(cancel)
        yield chunk


class Entry(NamedTuple):
    """One file of a layer. A tuple, not a dataclass: an image has tens of thousands of them, and a
    tuple is built in a third of the time."""

    path: str  # absolute, normalised: "/opt/ml/x"
    uid: int
    gid: int
    mode: int  # permission bits (0o7777)
    size: int
    kind: str  # "file", "dir", "symlink", "other"
    link: str = ""


@dataclass
class Layer:
    digest: str
    entries: list[Entry] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)  # paths removed by this layer
    opaque_dirs: list[str] = field(default_factory=list)


@dataclass
class LayerScan:
    layers: list[Layer]
    contents: dict[str, bytes]  # final content of the small files that were asked for
    config: dict[str, Any]
    _final: dict[str, Entry] | None = field(default=None, repr=False, compare=False)
    _sorted: list[str] | None = field(default=None, repr=False, compare=False)

    def every_entry(self) -> Iterator[tuple[int, Entry]]:
        """Every file of every layer, including those a later layer deletes."""
        for index, layer in enumerate(self.layers):
            for entry in layer.entries:
                yield index, entry

    def final_tree(self) -> dict[str, Entry]:
        """The file system a container sees: layers applied in order, whiteouts honoured (memoised)."""
        if self._final is None:
            self._final = self._apply_layers()
        return self._final

    def sorted_paths(self) -> list[str]:
        """The final tree's paths in sorted order (memoised), for questions about whole subtrees."""
        if self._sorted is None:
            self._sorted = sorted(self.final_tree())
        return self._sorted

    def _apply_layers(self) -> dict[str, Entry]:
        tree: dict[str, Entry] = {}
        for layer in self.layers:
            for opaque in layer.opaque_dirs:
                _drop_below(tree, opaque, keep_self=True)
            for gone in layer.whiteouts:
                _drop_below(tree, gone, keep_self=False)
            for entry in layer.entries:
                if entry.kind != "dir":
                    below = tree.get(entry.path)
                    if below is not None and below.kind == "dir":
                        _drop_below(tree, entry.path, keep_self=True)  # a file over a directory hides it whole
                tree[entry.path] = entry
        return tree


def _drop_below(tree: dict[str, Entry], path: str, keep_self: bool) -> None:
    prefix = path.rstrip("/") + "/"
    for key in [k for k in tree if k.startswith(prefix) or (k == path and not keep_self)]:
        del tree[key]


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks, for tarfile's streaming mode."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class Wanted:
    """Which files' content a scan keeps: exact paths, and `*SUFFIX` entries for every path ending so
    (`*/kernel.json`: each kernelspec, wherever it is)."""

    def __init__(self, want: set[str]) -> None:
        self.exact = frozenset(w for w in want if not w.startswith("*"))
        self.suffixes = tuple(w[1:] for w in want if w.startswith("*"))

    def __contains__(self, path: object) -> bool:
        return path in self.exact or (bool(self.suffixes) and isinstance(path, str) and path.endswith(self.suffixes))


def scan_image_stream(chunks: Iterable[bytes], want_content: set[str]) -> LayerScan:
    """Read a `docker save` stream once; works for the legacy and the OCI layout."""
    raw = io.BufferedReader(_ChunkReader(chunks), buffer_size=1 << 20)
    layers_by_name: dict[str, Layer] = {}
    contents_by_name: dict[str, dict[str, bytes]] = {}
    small_json: dict[str, Any] = {}
    with tarfile.open(fileobj=raw, mode="r|") as outer:
        for member in outer:
            if not member.isfile():
                continue
            handle = outer.extractfile(member)
            if handle is None:
                continue
            if member.size < 4 * 1024 * 1024 and not member.name.endswith("layer.tar"):
                data = handle.read()
                try:
                    small_json[member.name] = json.loads(data)
                    continue
                except (ValueError, UnicodeDecodeError):
                    handle = io.BytesIO(data)
            parsed = _scan_layer(handle, member.name, Wanted(want_content))
            if parsed is not None:
                layers_by_name[member.name], contents_by_name[member.name] = parsed
    return _assemble(layers_by_name, contents_by_name, small_json)


def _assemble(layers_by_name: dict[str, Layer], contents_by_name: dict[str, dict[str, bytes]],
              small_json: dict[str, Any]) -> LayerScan:
    manifest = small_json.get("manifest.json")
    if not isinstance(manifest, list) or not manifest:
        raise ValueError("the image archive has no manifest.json")
    order: list[str] = manifest[0]["Layers"]
    config = small_json.get(manifest[0]["Config"], {})
    layers = []
    contents: dict[str, bytes] = {}
    for name in order:
        layer = layers_by_name.get(name)
        if layer is None:
            # An empty layer (e.g. from ENV) may be stored as a tiny non-tar blob.
            layers.append(Layer(digest=name))
            continue
        layers.append(layer)
        for path in layer.whiteouts:
            for key in [k for k in contents if k == path or k.startswith(path + "/")]:
                del contents[key]
        contents.update(contents_by_name[name])
    return LayerScan(layers=layers, contents=contents, config=config)


def _scan_layer(handle: IO[bytes], name: str, want: Wanted) -> tuple[Layer, dict[str, bytes]] | None:
    layer = Layer(digest=name)
    contents: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=handle, mode="r|*") as tar:
            for info in tar:
                _record(layer, info, tar, want, contents)
    except tarfile.ReadError:
        return None
    return layer, contents


def _record(layer: Layer, info: tarfile.TarInfo, tar: tarfile.TarFile, want: Wanted,
            contents: dict[str, bytes]) -> None:
    path = "/" + posixpath.normpath(info.name.lstrip("./") or ".").lstrip("/")
    path = "/" if path == "/." else path
    base = posixpath.basename(path)
    parent = posixpath.dirname(path)
    if base == OPAQUE:
        layer.opaque_dirs.append(parent)
        return
    if base.startswith(WHITEOUT):
        layer.whiteouts.append(posixpath.join(parent, base[len(WHITEOUT):]))
        return
    # A hard link is a regular file in the container (and in the engine's layer directories).
    kind = ("file" if info.isfile() or info.islnk() else "dir" if info.isdir() else "symlink" if info.issym()
            else "other")
    # Permission bits only, as the overlay reader gives them (the engine's tar headers also carry the type's).
    layer.entries.append(Entry(path, info.uid, info.gid, info.mode & 0o7777, info.size, kind, info.linkname))
    if path in want and info.isfile() and info.size <= CONTENT_LIMIT:
        handle = tar.extractfile(info)
        if handle is not None:
            contents[path] = handle.read()
