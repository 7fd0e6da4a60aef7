"""A cache of spec files already parsed and found valid, so a run does not parse them again.

Parsing the shipped specs and validating them against the schema (and importing the
validator) is a tenth of a second of every run's start; the specs change only when the suite
or the user's files do. An entry is keyed by the SHA-256 of the file's bytes, the schema's
bytes and the parser's own source, so a changed file, schema or parser never hits. Only valid
documents are stored, as JSON (no code runs on load). Any problem with the cache directory
(missing, read-only, corrupt entries) is a miss: the file is then parsed and validated as
if there were no cache. `$SMCONFORM_SPEC_CACHE` moves it; empty turns it off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import cachefiles
from .located import JsonPath, Located

FORMAT = 1  # bump when the entry layout changes


def cache_dir() -> Path | None:
    return cachefiles.cache_dir("SMCONFORM_SPEC_CACHE", "specs")


def entry_key(text: bytes, schema: bytes) -> str:
    parser = cachefiles.code_version(Path(__file__).parent, ("yamlpos.py", "located.py", "cache.py"))
    return cachefiles.key_of(str(FORMAT).encode(), parser, schema, text)


def load(directory: Path | None, key: str, path: Path) -> Located | None:
    """The cached document for `key`, located at `path`; None on any miss."""
    return from_entry(cachefiles.read_entry(directory, key), path)


def from_entry(raw: Any, path: Path) -> Located | None:
    """A document from its stored form (`to_entry`), located at `path`; None if the form is not right."""
    try:
        lines: dict[JsonPath, int] = {tuple(entry[:-1]): int(entry[-1]) for entry in raw["lines"]}
        return Located(path=path, data=raw["data"], lines=lines)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def to_entry(located: Located) -> dict[str, Any] | None:
    """A valid document's stored form; None unless JSON gives back exactly what YAML gave (no dates, no
    int keys)."""
    stored = _stored(located)
    return None if stored is None else stored[0]


def store(directory: Path | None, key: str, located: Located) -> None:
    """Keep a valid document (when it has a stored form)."""
    stored = _stored(located)
    if stored is not None:
        cachefiles.write_entry(directory, key, stored[1])


def _stored(located: Located) -> tuple[dict[str, Any], str] | None:
    """The stored form and its JSON text (serialised once: the round trip is checked on that text)."""
    try:
        entry = {"data": located.data, "lines": [[*path, line] for path, line in located.lines.items()]}
        text = json.dumps(entry, separators=(",", ":"))
        if json.loads(text)["data"] != located.data:
            return None
    except (TypeError, ValueError):
        return None
    return entry, text
