"""The shipped spec files, parsed ahead of time: a first run on a new machine does not parse them.

Parsing the six shipped files (and importing the YAML parser) is 40 ms of a first run's start, on
its critical path: nothing starts before the profile is known. `compiled.json`, shipped beside
them, holds each file's parsed document and lines under the same key the user's spec cache uses
(the file's bytes, the schema's and the parser's source): a file or parser changed since it was
written simply misses, and is parsed. `python -m pytest_smconform.spec.compiled` writes it again;
tests/test_spec_compiled.py fails while it is out of date.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from . import cache as spec_cache
from .located import Located

FORMAT = 1
NAME = "compiled.json"


def lookup(path: Path, key: str) -> Located | None:
    """The shipped file's document if it was compiled from exactly these bytes by this parser."""
    entry = _entries().get(path.name)
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    return spec_cache.from_entry(entry, path)


@functools.cache
def _entries() -> dict[str, Any]:
    try:
        raw = json.loads(resources.files("pytest_smconform.specs").joinpath(NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    files = raw.get("files") if isinstance(raw, dict) and raw.get("format") == FORMAT else None
    return files if isinstance(files, dict) else {}


def build() -> str:
    """The text of `compiled.json` for the shipped files as they are now (each validated first)."""
    from ..errors import SpecError
    from .loader import parse_shipped_checked

    lines = []
    for path, key, located in parse_shipped_checked():
        entry = spec_cache.to_entry(located)
        if entry is None:
            raise SpecError([f"{path}: not representable as JSON"])
        lines.append(f"{json.dumps(path.name)}:{json.dumps({'key': key, **entry}, separators=(',', ':'))}")
    body = ",\n".join(lines)
    return f'{{"format":{FORMAT},"files":{{\n{body}\n}}}}\n'


def main() -> None:
    target = Path(str(resources.files("pytest_smconform.specs").joinpath(NAME)))
    target.write_text(build(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
