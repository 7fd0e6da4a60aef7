"""Find the image's kernelspecs the way Studio Classic's gateway does, inside the launched container.

The image's python (first `python3`, then `python` on the image's PATH, run as the declared
user) gives `sys.prefix`; its `share/jupyter`, the image's JUPYTER_PATH and the system
Jupyter directories are searched in that order; conda environments (a `conda-meta/`
directory) offer their kernels as `conda-env-<name>-<kernel>`. kernel.json files are read
from the running container, or, where it cannot differ from the image (`image_content`), from
the layer scan, which saves the engine a round trip between the container's start and its kernel.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..model.kernelgateway import (
    AppImageConfig,
    KernelLocation,
    KernelSpec,
    discovery_paths,
    locate_kernels,
    parse_kernelspec,
)
from ..platform.kernelgateway import declared_config

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch

_LOCK = threading.Lock()


@dataclass
class Discovery:
    python: str | None  # the python command that answered
    sys_prefix: str | None
    python_problem: str
    locations: list[KernelLocation] = field(default_factory=list)
    specs: dict[str, KernelSpec] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # name -> why its kernel.json is unusable

    def names(self) -> list[str]:
        return [loc.name for loc in self.locations]


def image_env(ctx: RunContext) -> dict[str, str]:
    env = {}
    for item in ctx.image_config().get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    return env


def find_sys_prefix(ctx: RunContext, launch: Launch, cfg: AppImageConfig) -> tuple[str | None, str | None, str]:
    problems = []
    for python in ("python3", "python"):
        code, output = ctx.engine.exec_run(launch.container_id, [python, "-c", "import sys; print(sys.prefix)"],
                                           user=f"{cfg.uid}:{cfg.gid}")
        lines = [line for line in output.strip().splitlines() if line.startswith("/")]
        if code == 0 and lines:
            return python, lines[-1].strip(), ""
        problems.append(f"`{python}`: {output.strip()[:120] or f'exit code {code}'}")
    return None, None, "; ".join(problems)


def locate(ctx: RunContext, launch: Launch) -> Discovery:
    """sys.prefix and the kernelspec directories of the launched container (computed once per launch;
    `discover` reads their kernel.json files)."""
    with _LOCK:
        cached = launch.ready_detail.get("kg_locations")
        if isinstance(cached, Discovery):
            return cached
        cfg = declared_config(ctx)
        python, prefix, problem = find_sys_prefix(ctx, launch, cfg)
        paths = discovery_paths(ctx.layers().final_tree())
        if any(vol.target == cfg.mount_path for vol in launch.plan.volumes):
            hidden = cfg.mount_path.rstrip("/") + "/"  # the platform's volume hides the image's files there
            paths = [p for p in paths if not p.startswith(hidden)]
        found = Discovery(python, prefix, problem)
        found.locations = locate_kernels(paths, image_env(ctx).get("JUPYTER_PATH", ""), prefix)
        launch.ready_detail["kg_locations"] = found
        return found


def read_kernelspecs(ctx: RunContext, launch: Launch, located: Discovery) -> None:
    """Start every kernel.json read at once (each is a round trip to the engine).

    Not before the declared kernels are started: the engine holds the container while it archives
    a file, so a read in flight makes a kernel's `docker exec` wait for it."""
    for loc in located.locations:
        _kernel_json(ctx, launch, loc)


def _kernel_json(ctx: RunContext, launch: Launch, loc: KernelLocation) -> Future[bytes | None]:
    path = f"{loc.directory}/kernel.json"
    as_built = image_content(ctx, launch, path)
    if as_built is not None:
        done: Future[bytes | None] = Future()
        done.set_result(as_built)
        return done
    return ctx.once(f"kg-kernel.json\0{launch.container_id}\0{path}",
                    lambda: ctx.engine.read_file(launch.container_id, path))


def image_content(ctx: RunContext, launch: Launch, path: str) -> bytes | None:
    """The file as the container has it, from the layer scan, when the container cannot differ from the
    image there: nothing of the image ran before the kernels (the platform replaces ENTRYPOINT and CMD),
    no volume of the launch covers the path, and the image's final entry is that very file (a regular
    file of the scanned size). Else None: the file is then read from the running container."""
    if not launch.plan.entrypoint or any(path.startswith(vol.target.rstrip("/") + "/") for vol in launch.plan.volumes):
        return None
    scan = ctx.layers()
    content, entry = scan.contents.get(path), scan.final_tree().get(path)
    if content is None or entry is None or entry.kind != "file" or entry.size != len(content):
        return None
    return content


def kernelspec(ctx: RunContext, launch: Launch, loc: KernelLocation) -> KernelSpec | str:
    """The parsed kernelspec at `loc`, or why its kernel.json is unusable (waits for that read only)."""
    raw = _kernel_json(ctx, launch, loc).result()
    if raw is None:
        return f"{loc.directory}/kernel.json cannot be read"
    try:
        return parse_kernelspec(loc, raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"{loc.directory}/kernel.json: {exc}"


def discover(ctx: RunContext, launch: Launch) -> Discovery:
    """Kernelspecs of the launched container, every kernel.json read (computed once per launch)."""
    located = locate(ctx, launch)
    with _LOCK:
        cached = launch.ready_detail.get("kg_discovery")
        if isinstance(cached, Discovery):
            return cached
        found = Discovery(located.python, located.sys_prefix, located.python_problem, list(located.locations))
        read_kernelspecs(ctx, launch, located)
        for loc in found.locations:
            spec = kernelspec(ctx, launch, loc)
            if isinstance(spec, str):
                found.broken[loc.name] = spec
            else:
                found.specs[loc.name] = spec
        launch.ready_detail["kg_discovery"] = found
        return found
