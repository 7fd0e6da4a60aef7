"""Static checks: the image config and every layer, without running anything."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..verdicts import ContractViolation
from . import check_kind
from .judge import content_under, fmt_list

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement


@check_kind("config-starts-app")
def config_starts_app(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    config = ctx.image_config()
    entrypoint, cmd = config.get("Entrypoint") or [], config.get("Cmd") or []
    if not entrypoint and not cmd:
        raise ContractViolation("ENTRYPOINT and/or CMD set in the image", "neither is set")
    return f"ENTRYPOINT {entrypoint or '(none)'}, CMD {cmd or '(none)'}"


@check_kind("workdir-under")
def workdir_under(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    root = str(params["path"]).rstrip("/")
    workdir = ctx.image_config().get("WorkingDir") or ""
    normalised = workdir.rstrip("/") or "/"
    if normalised != root and not normalised.startswith(root + "/"):
        raise ContractViolation(f"WORKDIR {root} or a directory below it", f"WORKDIR {workdir or '(unset: /)'}")
    return f"WORKDIR {workdir}"


@check_kind("no-content-under")
def no_content_under(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    paths = [str(p) for p in params["paths"]]
    found = content_under(ctx.layers().sorted_paths(), paths)
    if found:
        raise ContractViolation(f"nothing under {' or '.join(paths)}",
                                f"{len(found)} entries: {fmt_list(found)}")
    run_note = ""
    if params.get("diagnose") and req.launch:
        culprit = ctx.diagnose(req.launch) if not ctx.launch(req.launch).is_up else None
        if culprit == req.id:
            raise ContractViolation(
                f"the app starts with {paths[0]} mounted over by the platform",
                f"it starts only when {paths[0]} is left as the image has it",
                launch_name=req.launch)
        run_note = "; the app starts with it mounted over" if culprit is None else ""
    return f"nothing under {', '.join(paths)}{run_note}"


@check_kind("layer-ids-max")
def layer_ids_max(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    limit = int(params.get("max", 65535))
    scan = ctx.layers()
    bad = [f"layer {i + 1}: {e.path} ({e.uid}:{e.gid})" for i, e in scan.every_entry()
           if e.uid > limit or e.gid > limit]
    if bad:
        raise ContractViolation(f"no file in any layer with a UID or GID above {limit}",
                                f"{len(bad)} files: {fmt_list(bad)}")
    count = sum(len(layer.entries) for layer in scan.layers)
    return f"{count} entries in {len(scan.layers)} layers, all IDs <= {limit}"


@check_kind("image-platform")
def image_platform(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    image = ctx.image()
    want = f"{params.get('os', 'linux')}/{params.get('architecture', 'amd64')}"
    seen = f"{image.get('Os')}/{image.get('Architecture')}"
    if image.get("Variant"):
        seen += f"/{image['Variant']}"
    if seen != want:
        raise ContractViolation(f"platform {want}", f"platform {seen}")
    return f"platform {seen}"
