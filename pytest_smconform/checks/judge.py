"""Pure helpers that turn observations into verdict text; no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def fmt_list(items: Iterable[str], most: int = 8) -> str:
    listed = list(items)
    head = ", ".join(listed[:most])
    return head + (f", … ({len(listed) - most} more)" if len(listed) > most else "")


def content_under(tree: Mapping[str, Any], roots: list[str]) -> list[str]:
    """Paths strictly below any of `roots` (an empty directory at the root itself is fine)."""
    out = []
    for root in roots:
        prefix = root.rstrip("/") + "/"
        out += sorted(p for p in tree if p.startswith(prefix))
    return out


def cors_allows(header: str | None, origin: str) -> bool:
    return header is not None and header.strip() in ("*", origin)
