"""Check kinds: named functions that judge one requirement from what the run observed.

A spec requirement names its kind (`check:`) and parameters (`with:`). A check returns a
one-line description of what passed, or raises ContractViolation / Blocked / NotApplicable.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement

CheckFn = Callable[["RunContext", "Requirement", dict[str, Any]], str]

_KINDS: dict[str, CheckFn] = {}
# Checks that change their launch (stop it): they run after every other check that shares it.
DESTRUCTIVE: set[str] = set()


def check_kind(name: str, destructive: bool = False) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        _KINDS[name] = fn
        if destructive:
            DESTRUCTIVE.add(name)
        return fn

    return register


PrewarmFn = Callable[["RunContext", "Requirement"], None]
# Work a check kind can start as soon as collection ends (e.g. its extra launches), concurrently.
PREWARM: dict[str, PrewarmFn] = {}


def prewarm_for(name: str) -> Callable[[PrewarmFn], PrewarmFn]:
    def register(fn: PrewarmFn) -> PrewarmFn:
        PREWARM[name] = fn
        return fn

    return register


def prewarm_hook(name: str) -> PrewarmFn | None:
    module = _scan()[2].get(name)
    if module is not None:
        importlib.import_module(f"{__name__}.{module}")
    return PREWARM.get(name)


def kind(name: str) -> CheckFn:
    _load_module_of(name)
    return _KINDS[name]


def known_kinds() -> set[str]:
    return set(_index())


def is_destructive(name: str) -> bool:
    return name in _destructive_index()


# The modules of this package are read as text to learn which kinds each registers, and a
# module is imported only when one of its kinds is used: a profile pays for its own checks
# (and their imports, Hypothesis among them), not for every profile's.
_DECORATOR = re.compile(r'^@(check_kind|prewarm_for)\("([a-z0-9-]+)"(, destructive=True)?\)', re.MULTILINE)


@functools.cache
def _scan() -> tuple[dict[str, str], frozenset[str], dict[str, str]]:
    modules: dict[str, str] = {}
    destructive: set[str] = set()
    prewarms: dict[str, str] = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for match in _DECORATOR.finditer(path.read_text(encoding="utf-8")):
            if match.group(1) == "check_kind":
                modules[match.group(2)] = path.stem
                if match.group(3):
                    destructive.add(match.group(2))
            else:
                prewarms[match.group(2)] = path.stem
    return modules, frozenset(destructive), prewarms


def _index() -> dict[str, str]:
    return _scan()[0]


def _destructive_index() -> frozenset[str]:
    return _scan()[1]


def _load_module_of(name: str) -> None:
    module = _index().get(name)
    if module is not None:
        importlib.import_module(f"{__name__}.{module}")
