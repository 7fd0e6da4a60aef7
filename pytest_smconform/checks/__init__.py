"""Check kinds: named functions that judge one requirement from what the run observed.

A spec requirement names its kind (`check:`) and parameters (`with:`). A check returns a
one-line description of what passed, or raises ContractViolation / Blocked / NotApplicable.
"""

from __future__ import annotations

from collections.abc import Callable
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
    _load_builtins()
    return PREWARM.get(name)


def kind(name: str) -> CheckFn:
    _load_builtins()
    return _KINDS[name]


def known_kinds() -> set[str]:
    _load_builtins()
    return set(_KINDS)


def _load_builtins() -> None:
    """Import every module of this package once: each registers its kinds with @check_kind."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
