"""What a certification bundle records about an image and its containers, gathered during the run."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..errors import SmconformError

if TYPE_CHECKING:
    from ..context import RunContext
    from ..engine.docker_engine import Launch

LOG_LINES = 200
_DISCARDED = "certify.discarded-logs"


def keep_discarded_logs(ctx: RunContext) -> None:
    """One-off launches (fuzz examples, variants) are removed early: keep their log tails first."""
    kept: list[dict[str, Any]] = ctx.memo.setdefault(_DISCARDED, [])
    lock = threading.Lock()

    def remember(launch: Launch) -> None:
        entry = _log_entry(ctx, launch)
        with lock:
            kept.append(entry)

    ctx.on_discard = remember


def _log_entry(ctx: RunContext, launch: Launch) -> dict[str, Any]:
    return {"launch": launch.plan.name, "container": launch.container_id[:12], "command": launch.plan.reproduce(),
            "lines": ctx.engine.log_tail(launch.container_id, LOG_LINES)}


def image_facts(ctx: RunContext) -> dict[str, Any]:
    """The image as the engine knows it: id, digests, platform, size, config."""
    if ctx.settings.image is None:
        return {}
    inspected = ctx.image()
    return {
        "ref": ctx.settings.image,
        "id": inspected.get("Id"),
        "repo_tags": inspected.get("RepoTags") or [],
        "repo_digests": inspected.get("RepoDigests") or [],
        "platform": f"{inspected.get('Os')}/{inspected.get('Architecture')}"
                    + (f"/{inspected['Variant']}" if inspected.get("Variant") else ""),
        "size": inspected.get("Size"),
        "created": inspected.get("Created"),
        "config": inspected.get("Config") or {},
        "layers": (inspected.get("RootFS") or {}).get("Layers") or [],
    }


def hypothesis_settings(seed: int | None) -> dict[str, Any]:
    import hypothesis

    return {"version": hypothesis.__version__, "seed": seed, "database": None, "derandomize": False,
            "phases": ["explicit", "generate"], "deadline": None,
            "note": "fuzzed requirements draw their examples from @seed(seed); --smconform-seed repeats them"}


def gather(ctx: RunContext) -> dict[str, Any]:
    """Evidence of one image's run; called before its containers are removed."""
    out: dict[str, Any] = {"hypothesis": hypothesis_settings(ctx.settings.seed)}
    try:
        out["image"] = image_facts(ctx)
        version = ctx.engine.engine_version()
        out["engine"] = {k: version.get(k) for k in ("Version", "ApiVersion", "Os", "Arch", "KernelVersion")}
        kept = {entry["container"] for entry in ctx.memo.get(_DISCARDED, [])}
        live = [_log_entry(ctx, launch) for launch in ctx.started_launches() if launch.container_id[:12] not in kept]
    except SmconformError as exc:
        out["error"] = str(exc)
        live = []
    out["logs"] = [*ctx.memo.get(_DISCARDED, []), *live, *_job_logs(ctx)]
    return out


def _job_logs(ctx: RunContext) -> list[dict[str, Any]]:
    """The containers of processing jobs (run and removed by the job emulator, not launches): their
    log tails as the job observed them, secrets masked, with the commands that reproduce the job."""
    out = []
    for job in list(ctx.report_sections.get("jobs") or []):
        for container in job.get("containers") or []:
            out.append({"launch": f"job {job.get('scenario')} {container.get('host')}",
                        "container": container.get("container") or str(job.get("job_name"))[-12:],
                        "command": job.get("reproduce") or "", "lines": list(container.get("log_tail") or [])})
    return out
