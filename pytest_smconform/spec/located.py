"""A parsed spec document with the line of each of its nodes (no YAML parser needed to use one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JsonPath = tuple[str | int, ...]


@dataclass
class Located:
    """A parsed document and the 1-based line of each path inside it."""

    path: Path
    data: Any
    lines: dict[JsonPath, int] = field(default_factory=dict)

    def line_of(self, json_path: JsonPath) -> int:
        return line_in(self.lines, json_path)

    def where(self, json_path: JsonPath) -> str:
        return f"{self.path}:{self.line_of(json_path)}"


def line_in(lines: dict[JsonPath, int], json_path: JsonPath) -> int:
    """Line of the deepest recorded node on `json_path` (falls back to its parents)."""
    probe = tuple(json_path)
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe[:-1]
    return lines.get((), 1)


class YamlSyntaxError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
