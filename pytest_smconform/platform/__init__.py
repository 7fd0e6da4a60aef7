"""How the platform starts an image: one module per way of launching, registered by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..engine.plan import LaunchPlan
    from ..spec.model import LaunchDecl


@dataclass(frozen=True)
class Variant:
    """A deliberate change to the platform's launch, for fuzzing or for finding a root cause."""

    home: str = "empty"  # empty: a fresh volume as the platform mounts; image: the image's own
    optml: str = "platform"  # platform: /opt/ml mounted over, metadata inside; none: untouched
    use_config: bool = True  # False: ignore the declared ContainerConfig
    extra_env: tuple[tuple[str, str], ...] = ()
    # ready: the platform's health check; listening: a process owns the port; app-exec: the
    # process that serves the app in the platform's own launch has been exec'd (no start-up wait)
    wait: str = "ready"
    own_start: bool = False  # kernelgateway: keep the image's ENTRYPOINT/CMD (do kernels need its start-up?)

    def describe(self) -> str:
        parts = []
        if self.home != "empty":
            parts.append("home from the image")
        if self.optml != "platform":
            parts.append("/opt/ml not mounted")
        if not self.use_config:
            parts.append("no ContainerConfig")
        if self.extra_env:
            parts.append(f"{len(self.extra_env)} ContainerEnvironment variables")
        if self.own_start:
            parts.append("the image's own ENTRYPOINT/CMD")
        return ", ".join(parts) or "as the platform launches it"


@dataclass(frozen=True)
class PlatformLauncher:
    name: str
    plan: Callable[[RunContext, LaunchDecl, Variant], LaunchPlan]
    wait_ready: Callable[[RunContext, Launch, LaunchDecl, Variant], None]


_REGISTRY: dict[str, PlatformLauncher] = {}


def register(launcher: PlatformLauncher) -> PlatformLauncher:
    _REGISTRY[launcher.name] = launcher
    return launcher


# The built-in platforms and the module that registers each: a run imports only those its profile
# launches (the others' models cost every run milliseconds). tests/test_platform_registry.py keeps this
# table and the modules' own register() calls in agreement.
BUILTIN_MODULES = {"kernelgateway": "kernelgateway", "local-mode": "localmode", "spaces": "spaces",
                   "studio": "studio"}


def launcher(name: str) -> PlatformLauncher:
    if name not in _REGISTRY:
        if name in BUILTIN_MODULES:
            import importlib

            importlib.import_module(f"{__name__}.{BUILTIN_MODULES[name]}")
        else:
            _load_builtins()
    return _REGISTRY[name]


def known_platforms() -> set[str]:
    return set(BUILTIN_MODULES) | set(_REGISTRY)


def _load_builtins() -> None:
    """Import every module of this package once: each registers its launcher."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def param(decl: LaunchDecl, ctx: RunContext, key: str) -> Any:
    """A launch setting: the launch's own `with`, else the profile parameter of that name."""
    if key in decl.params:
        return decl.params[key]
    return ctx.param(key)
