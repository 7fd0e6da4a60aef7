"""Figures for RELIABILITY.md: tests append one JSON line each when SMCONFORM_FIGURES names a file."""

from __future__ import annotations

import json
import os
from typing import Any


def record(kind: str, **data: Any) -> None:
    path = os.environ.get("SMCONFORM_FIGURES")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:  # one short line per write: no interleaving
        handle.write(json.dumps({"kind": kind, **data}) + "\n")
