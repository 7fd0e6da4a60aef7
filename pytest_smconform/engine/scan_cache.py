"""A cache of layer scans by image id, so an image's layers are read once, not once per run.

An image id is the digest of the image's config, which names its layers by content: the same
id always has the same files. A tox matrix, a re-run of failures or a second certification of
the same image then skips the walk over tens of thousands of files (a third of a second to
seconds, and CPU taken from the containers being judged). Entries are JSON lines (no code runs on
load), keyed also by the files whose content is kept and by the scanner's own source, and
pruned to the newest few. Any problem with the cache is a miss. `$SMCONFORM_SCAN_CACHE` moves
it; empty turns it off.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import cachefiles
from .layers import Entry, Layer, LayerScan

FORMAT = 2  # 2: a head line, then lines of entries
MAX_ENTRIES_CACHED = 400_000  # a scan bigger than this (an image of millions of files) is not kept
KEEP = 16  # entries kept; older ones are removed when a new one is written


def cache_dir() -> Path | None:
    return cachefiles.cache_dir("SMCONFORM_SCAN_CACHE", "layers")


def entry_key(image_id: str, wanted: set[str]) -> str:
    scanner = cachefiles.code_version(Path(__file__).parent, ("layers.py", "overlay.py", "scan_cache.py"))
    return cachefiles.key_of(str(FORMAT).encode(), scanner, image_id.encode(), "\0".join(sorted(wanted)).encode())


CHUNK = 2_000  # entries per line of an entry: each line is parsed, or written, in a few milliseconds


def load(directory: Path | None, key: str) -> LayerScan | None:
    """The cached scan, parsed a line at a time: one `json.loads` of the whole entry held the interpreter
    for 30 ms at once, while the launch's engine calls waited for it."""
    lines = cachefiles.read_lines(directory, key)
    try:
        head, chunks = json.loads(lines[0]), lines[1:]
        layers = [Layer(digest=str(item["digest"]), whiteouts=list(item["whiteouts"]),
                        opaque_dirs=list(item["opaque_dirs"])) for item in head["layers"]]
        for line in chunks:
            index, rows = json.loads(line)
            layers[index].entries.extend(map(Entry._make, rows))
        if [len(layer.entries) for layer in layers] != [int(item["count"]) for item in head["layers"]]:
            return None  # a truncated entry
        contents = {path: base64.b64decode(data) for path, data in head["contents"].items()}
        return LayerScan(layers=layers, contents=contents, config=dict(head["config"]))
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def store(directory: Path | None, key: str, scan: LayerScan) -> None:
    """Write the scan as a head line and lines of at most CHUNK entries (each a short `json.dumps`, so
    other threads get the interpreter in between)."""
    if sum(len(layer.entries) for layer in scan.layers) > MAX_ENTRIES_CACHED:
        return
    head: dict[str, Any] = {
        "layers": [{"digest": layer.digest, "count": len(layer.entries), "whiteouts": layer.whiteouts,
                    "opaque_dirs": layer.opaque_dirs} for layer in scan.layers],
        "contents": {path: base64.b64encode(data).decode("ascii") for path, data in scan.contents.items()},
        "config": scan.config,
    }
    try:
        lines = [json.dumps(head, separators=(",", ":"))]
        for index, layer in enumerate(scan.layers):
            for at in range(0, len(layer.entries), CHUNK):
                lines.append(json.dumps([index, layer.entries[at:at + CHUNK]], separators=(",", ":")))
    except (TypeError, ValueError):
        return
    cachefiles.write_entry(directory, key, "\n".join(lines), keep=KEEP)


def has_entry(image_id: str, wanted: set[str]) -> bool:
    """Whether a scan of the image is cached (it may still prove unreadable: then it is scanned)."""
    directory = cache_dir()
    return directory is not None and cachefiles.entry_path(directory, entry_key(image_id, wanted)).is_file()


def cached_scan(image_id: str, wanted: set[str], scan: Callable[[], LayerScan]) -> LayerScan:
    """The image's scan from the cache, else `scan()`, then kept for the next run.

    Kept by a thread of its own, so that the checks waiting for the scan do not also wait for it to be
    written (50 ms for an image of 36,000 files); not a daemon thread: the interpreter finishes the
    write before it exits, and an interrupted write leaves no entry (`cachefiles.write_entry`)."""
    directory, key = cache_dir(), entry_key(image_id, wanted)
    flush()  # an entry this process is still writing is read whole, and writes never overlap
    found = load(directory, key)
    if found is None:
        found = scan()
        writer = threading.Thread(target=store, args=(directory, key, found), name="smconform-scan-cache")
        with _WRITERS_LOCK:
            _WRITERS.append(writer)
        writer.start()
    return found


_WRITERS: list[threading.Thread] = []
_WRITERS_LOCK = threading.Lock()


def flush() -> None:
    """Wait for the entries this process is writing."""
    with _WRITERS_LOCK:
        pending, _WRITERS[:] = list(_WRITERS), []
    for writer in pending:
        writer.join()
