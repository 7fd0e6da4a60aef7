"""Load YAML while remembering the line of every node, so errors can point at file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .located import JsonPath, Located, YamlSyntaxError, line_in

__all__ = ["JsonPath", "Located", "YamlSyntaxError", "line_in", "load_located", "load_located_text"]


def load_located(path: Path, trusted: bool = False) -> Located:
    """Parse one YAML file; a syntax error becomes a single `file:line: message`.

    `trusted`: a file of the suite's own (its shipped specs), parsed with libyaml when PyYAML has it:
    ten times faster, the same nodes and lines (tests/test_spec_loader.py compares them). Anyone
    else's file goes through the pure-Python parser, whose nesting limit turns into a clean error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlSyntaxError(f"{path}: cannot read: {exc}") from None
    return load_located_text(text, path, trusted)


MAX_NODES = 100_000  # after alias expansion: a "billion laughs" document stops here
MAX_DEPTH = 200  # nesting; deeper is no spec, and Python's recursion ends near 1000


class YamlShapeError(yaml.YAMLError):
    """Valid YAML that is no document of ours: recursive or exploding aliases, too deep, odd keys."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_located_text(text: str, path: Path, trusted: bool = False) -> Located:
    located = Located(path=path, data=None)
    try:
        node = compose_bounded(text, trusted)
        if node is not None:
            located.data = _convert(node, (), located.lines)
    except YamlShapeError as exc:
        raise YamlSyntaxError(f"{path}:{exc.line}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(f"{path}:{line}: YAML syntax: {exc.problem or exc}") from None
    except yaml.reader.ReaderError as exc:
        raise YamlSyntaxError(f"{path}:{reader_error_line(text, exc)}: YAML: {reader_error_message(exc)}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"{path}:1: YAML: {str(exc).splitlines()[0]}") from None
    if node is None:
        located.lines[()] = 1
    return located


def reader_error_line(text: str, exc: yaml.reader.ReaderError) -> int:
    """The 1-based line of a character the YAML reader refused."""
    return text[:max(0, int(exc.position))].count("\n") + 1


def reader_error_message(exc: yaml.reader.ReaderError) -> str:
    return f"character #x{exc.character if isinstance(exc.character, int) else ord(exc.character):04x} " \
           "is not allowed in YAML"


def compose_bounded(text: str, trusted: bool = False) -> yaml.Node | None:
    """`yaml.compose`, with nesting too deep for the parser's recursion turned into a YAML error."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if trusted else yaml.SafeLoader
    try:
        return yaml.compose(text, Loader=loader)
    except RecursionError:
        raise YamlShapeError(1, f"YAML nested deeper than {MAX_DEPTH} levels") from None


def compose_all_bounded(text: str) -> list[yaml.Node]:
    try:
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except RecursionError:
        raise YamlShapeError(1, f"YAML nested deeper than {MAX_DEPTH} levels") from None


def _convert(node: yaml.Node, at: JsonPath, lines: dict[JsonPath, int],
             budget: list[int] | None = None, active: frozenset[int] = frozenset(),
             constructor: yaml.constructor.SafeConstructor | None = None) -> Any:
    """Plain data from a node, recording lines; aliases are expanded within a budget, never in a cycle."""
    budget = [MAX_NODES] if budget is None else budget
    # One constructor per document: a loader made per scalar was half of a cold spec parse (13 ms of 30).
    constructor = yaml.constructor.SafeConstructor() if constructor is None else constructor
    line = node.start_mark.line + 1
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlShapeError(line, f"more than {MAX_NODES} values once aliases are expanded")
    if id(node) in active:
        raise YamlShapeError(line, "an alias refers to a node that contains it (recursive YAML)")
    if len(at) > MAX_DEPTH:
        raise YamlShapeError(line, f"YAML nested deeper than {MAX_DEPTH} levels")
    lines[at] = line
    inner = active | {id(node)}
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlShapeError(key_node.start_mark.line + 1, "a mapping key must be a plain value")
            key = constructor.construct_object(key_node, deep=True)
            # A duplicate key silently overriding its twin is a classic spec bug: keep both lines.
            out[key] = _convert(value_node, (*at, str(key)), lines, budget, inner, constructor)
            lines[(*at, str(key))] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, (*at, i), lines, budget, inner, constructor) for i, child in enumerate(node.value)]
    return constructor.construct_object(node, deep=True)
