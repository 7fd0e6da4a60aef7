"""Load YAML while remembering the line of every node, so errors can point at file:line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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


def load_located(path: Path) -> Located:
    """Parse one YAML file; a syntax error becomes a single `file:line: message`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSyntaxError(f"{path}: cannot read: {exc}") from None
    return load_located_text(text, path)


def load_located_text(text: str, path: Path) -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(f"{path}:{line}: YAML syntax: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"{path}: YAML: {exc}") from None
    located = Located(path=path, data=None)
    if node is None:
        located.lines[()] = 1
        return located
    located.data = _convert(node, (), located.lines)
    return located


def _convert(node: yaml.Node, at: JsonPath, lines: dict[JsonPath, int]) -> Any:
    lines[at] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            # A duplicate key silently overriding its twin is a classic spec bug: keep both lines.
            out[key] = _convert(value_node, (*at, str(key)), lines)
            lines[(*at, str(key))] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, (*at, i), lines) for i, child in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return yaml.safe_load(yaml.serialize(node))
    constructor = yaml.SafeLoader(node.value)
    try:
        return constructor.construct_object(node, deep=True)
    finally:
        constructor.dispose()
