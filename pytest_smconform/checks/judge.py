"""Pure helpers that turn observations into verdict text; no I/O."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence


def fmt_list(items: Iterable[str], most: int = 8) -> str:
    listed = list(items)
    head = ", ".join(listed[:most])
    return head + (f", … ({len(listed) - most} more)" if len(listed) > most else "")


def content_under(sorted_paths: Sequence[str], roots: list[str]) -> list[str]:
    """Paths strictly below any of `roots` (an empty directory at the root itself is fine), from the
    tree's paths in sorted order: each root is a bisection, not a test of every path (tens of thousands)."""
    out: list[str] = []
    for root in roots:
        prefix = root.rstrip("/") + "/"
        start = bisect.bisect_left(sorted_paths, prefix)
        end = bisect.bisect_left(sorted_paths, prefix[:-1] + chr(ord("/") + 1), lo=start)  # "/" + 1 is "0"
        out += sorted_paths[start:end]
    return out


def cors_allows(header: str | None, origin: str) -> bool:
    return header is not None and header.strip() in ("*", origin)
