"""The JSON report (`smconform-report/1`): one entry per requirement id, and the verdict."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from .session import SmconformSession

SCHEMA = "smconform-report/1"
HOW_MEASURED = ("cluster", "run", "static", "model")


def _how(how: tuple[str, ...]) -> str:
    """The strongest evidence the check used: a real cluster, a real container, the image, a model."""
    for kind in HOW_MEASURED:
        if kind in how:
            return kind
    return how[0]


def compute_verdict(results: list[dict[str, Any]], strict_should: bool, interrupted: bool) -> str:
    counted = [r for r in results if r["level"] == "MUST" or (r["level"] == "SHOULD" and strict_should)]
    if any(r["outcome"] == "failed" for r in counted):
        return "not-conformant"
    if interrupted or any(
        r["outcome"] == "error" or (r["outcome"] == "skipped" and r.get("reason") != "not-applicable")
        for r in counted
    ):
        return "incomplete"
    return "conformant"


def build_report(state: SmconformSession) -> dict[str, Any]:
    ctx = state.ctx
    results = []
    for req in ctx.profile.requirements:
        verdict = state.aggregate(req)
        entry: dict[str, Any] = {
            "id": req.id, "level": req.level, "outcome": verdict.outcome, "how": _how(req.how),
            "message": verdict.message, "nodeids": state.nodeids_of(req.id),
            "rule": req.rule, "source": req.source,
        }
        if "reason" in verdict.extra:
            entry["reason"] = verdict.extra["reason"]
        if verdict.violation is not None:
            entry["expected"] = verdict.violation.expected
            entry["observed"] = verdict.violation.observed
            entry["fix"] = verdict.violation.fix or req.fix
        results.append(entry)
    image: dict[str, Any] = {"ref": state.settings.image, "id": None}
    try:
        image["id"] = ctx.image()["Id"] if state.fatal is None and state.settings.image else None
    except Exception:  # the report must be written even when the engine is gone
        image["id"] = None
    return {
        **ctx.report_sections,
        "schema": SCHEMA,
        "profile": state.settings.profile,
        "image": image,
        "results": results,
        "verdict": compute_verdict(results, state.settings.level == "should", bool(state.interrupted or state.fatal)),
        "suite": {"name": "pytest-smconform", "version": __version__, "spec_files": ctx.profile.files},
        "run": {"id": ctx.run_id, "seed": state.settings.seed, "level": state.settings.level,
                "interrupted": state.interrupted, "error": state.fatal},
        "launches": [
            {"name": r.name, "variant": r.variant, "time_to_ready": r.time_to_ready, "error": r.error,
             "reproduce": r.reproduce} for r in ctx.launch_records
        ],
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write atomically, so an interrupted run never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".smconform-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, sort_keys=False)
        handle.write("\n")
    os.replace(tmp, path)
