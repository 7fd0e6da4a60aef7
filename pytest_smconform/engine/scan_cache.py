"""A cache of layer scans by image id, so an image's layers are read once, not once per run.

An image id is the digest of the image's config, which names its layers by content: the same
id always has the same files. A tox matrix, a re-run of failures or a second certification of
the same image then skips the walk over tens of thousands of files (a third of a second to
seconds, and CPU taken from the containers being judged). An entry is a JSON head line and each
layer's fields as columns of text and numbers (no code runs on load), keyed also by the files whose
content is kept and by the scanner's own source, and pruned to the newest few. Any problem with the
cache is a miss. `$SMCONFORM_SCAN_CACHE` moves it; empty turns it off.
"""

from __future__ import annotations

import array
import base64
import itertools
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import cachefiles
from .layers import Entry, Layer, LayerScan

FORMAT = 3  # 3: a head line, then each layer's entries as columns
MAX_ENTRIES_CACHED = 400_000  # a scan bigger than this (an image of millions of files) is not kept
KEEP = 16  # entries kept; older ones are removed when a new one is written


def cache_dir() -> Path | None:
    return cachefiles.cache_dir("SMCONFORM_SCAN_CACHE", "layers")


def entry_key(image_id: str, wanted: set[str]) -> str:
    scanner = cachefiles.code_version(Path(__file__).parent, ("layers.py", "overlay.py", "scan_cache.py"))
    return cachefiles.key_of(str(FORMAT).encode(), scanner, image_id.encode(), "\0".join(sorted(wanted)).encode())


SUFFIX = ".scan"
CHUNK = 20_000  # entries built or taken apart per call: each call holds the interpreter a few milliseconds
_KIND_CODES = {"file": "f", "dir": "d", "symlink": "l", "other": "o"}
_KIND_OF_CODE = {code: kind for kind, code in _KIND_CODES.items()}
# Per layer, its entries' fields as columns: paths and link targets joined by NUL (no name holds one),
# kinds one letter each, then the numbers as machine arrays. Nothing in it is parsed entry by entry,
# which JSON rows were (40 ms to write and as much to read for 36,000 files; 10 ms each this way).
_TEXT_COLUMNS = 3  # paths, kinds, links
_NUMBER_TYPES = ("I", "I", "I", "Q")  # uid, gid, mode, size


def load(directory: Path | None, key: str) -> LayerScan | None:
    """The cached scan; None on any miss (absent, cut short, or not in this layout)."""
    raw = cachefiles.read_bytes(directory, key, SUFFIX)
    if raw is None:
        return None
    try:
        end_of_head = raw.index(b"\n")
        head = json.loads(raw[:end_of_head])
        if head["byteorder"] != sys.byteorder:
            return None
        view, at = memoryview(raw), end_of_head + 1
        layers = []
        for item in head["layers"]:
            sections = []
            for length in item["sections"]:
                sections.append(view[at:at + int(length)])
                at += int(length)
            layer = Layer(digest=str(item["digest"]), whiteouts=list(item["whiteouts"]),
                          opaque_dirs=list(item["opaque_dirs"]))
            _fill(layer, int(item["count"]), sections)
            layers.append(layer)
        if at != len(raw):
            return None  # cut short, or more than was written
        contents = {path: base64.b64decode(data) for path, data in head["contents"].items()}
        return LayerScan(layers=layers, contents=contents, config=dict(head["config"]))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def _fill(layer: Layer, count: int, sections: list[memoryview]) -> None:
    """The layer's entries from its columns; ValueError if any column is not `count` long."""
    if len(sections) != _TEXT_COLUMNS + len(_NUMBER_TYPES):
        raise ValueError("not this layout's columns")
    texts = [bytes(section).decode("utf-8", "surrogateescape") for section in sections[:_TEXT_COLUMNS]]
    paths, links = (texts[0].split("\0"), texts[2].split("\0")) if count else ([], [])
    kinds = list(map(_KIND_OF_CODE.__getitem__, texts[1]))
    numbers: list[array.array[int]] = []
    for typecode, section in zip(_NUMBER_TYPES, sections[_TEXT_COLUMNS:], strict=True):
        column = array.array(typecode)
        column.frombytes(section)
        numbers.append(column)
    if any(len(column) != count for column in (paths, kinds, links)) or any(len(n) != count for n in numbers):
        raise ValueError("columns of different lengths")
    rows = zip(paths, *numbers, kinds, links, strict=True)
    new_entry, entries = tuple.__new__, layer.entries
    for _ in range(0, count, CHUNK):
        entries.extend(map(new_entry, itertools.repeat(Entry), itertools.islice(rows, CHUNK)))


def _columns(entries: list[Entry]) -> list[bytes]:
    """A layer's entries as the sections `_fill` reads back."""
    if not entries:
        return [b""] * (_TEXT_COLUMNS + len(_NUMBER_TYPES))
    fields: list[list[Any]] = [[] for _ in Entry._fields]
    for at in range(0, len(entries), CHUNK):
        for column, values in zip(fields, zip(*entries[at:at + CHUNK], strict=True), strict=True):
            column.extend(values)
    paths, uids, gids, modes, sizes, kinds, links = fields
    texts = ["\0".join(paths), "".join(map(_KIND_CODES.__getitem__, kinds)), "\0".join(links)]
    if texts[0].count("\0") != len(paths) - 1 or texts[2].count("\0") != len(links) - 1:
        raise ValueError("a name with a NUL in it")  # (a crafted archive's): it would not split back
    numbers = zip(_NUMBER_TYPES, (uids, gids, modes, sizes), strict=True)
    return [*(text.encode("utf-8", "surrogateescape") for text in texts),
            *(array.array(typecode, column).tobytes() for typecode, column in numbers)]


def store(directory: Path | None, key: str, scan: LayerScan) -> None:
    """Write the scan: a JSON head line, then each layer's columns."""
    if sum(len(layer.entries) for layer in scan.layers) > MAX_ENTRIES_CACHED:
        return
    try:
        columns = [_columns(layer.entries) for layer in scan.layers]
        head: dict[str, Any] = {
            "byteorder": sys.byteorder,
            "layers": [{"digest": layer.digest, "count": len(layer.entries), "whiteouts": layer.whiteouts,
                        "opaque_dirs": layer.opaque_dirs, "sections": [len(section) for section in sections]}
                       for layer, sections in zip(scan.layers, columns, strict=True)],
            "contents": {path: base64.b64encode(data).decode("ascii") for path, data in scan.contents.items()},
            "config": scan.config,
        }
        data = b"".join([json.dumps(head, separators=(",", ":")).encode("utf-8"), b"\n",
                         *(section for sections in columns for section in sections)])
    except (TypeError, ValueError, KeyError, OverflowError, UnicodeError):
        return  # a scan that does not fit the layout (a negative size?) is simply not kept
    cachefiles.write_entry(directory, key, data, keep=KEEP, suffix=SUFFIX, obsolete=".json")


def has_entry(image_id: str, wanted: set[str]) -> bool:
    """Whether a scan of the image is cached (it may still prove unreadable: then it is scanned)."""
    directory = cache_dir()
    return directory is not None and cachefiles.entry_path(directory, entry_key(image_id, wanted), SUFFIX).is_file()


def cached_scan(image_id: str, wanted: set[str], scan: Callable[[], LayerScan]) -> LayerScan:
    """The image's scan from the cache, else `scan()`, then kept for the next run.

    Kept by a thread of its own, so that the checks waiting for the scan do not also wait for it to be
    written (20 ms for an image of 36,000 files); not a daemon thread: the interpreter finishes the
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
