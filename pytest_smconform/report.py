"""The JSON report (`smconform-report/1`): one entry per requirement id, and the verdict."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .redact import redact_tree

if TYPE_CHECKING:
    from .context import RunContext
    from .session import SmconformSession

SCHEMA = "smconform-report/1"
HOW_MEASURED = ("cluster", "run", "static", "model")
EVIDENCE = "evidence"  # a section's key for what only a certification bundle keeps


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


# The phase pytest-xdist gives the report of an item whose worker died while running it.
WORKER_CRASH_PHASE = "???"


def mark_crashed(section: dict[str, Any], crashed: dict[str, str], strict_should: bool) -> dict[str, Any]:
    """A requirement whose xdist worker died under it has no verdict: an error, never a pass.

    The dead worker's verdicts never reach the controller; the worker that replaces it runs only
    the items not yet started, so the section could otherwise claim a conformance nobody saw.
    """
    results = []
    for result in section["results"]:
        why = next((crashed[n] for n in result.get("nodeids", []) if n in crashed), None)
        if why is not None:
            result = {**result, "outcome": "error", "message": f"no verdict: {why}"}
        results.append(result)
    interrupted = bool(section.get("run", {}).get("interrupted") or section.get("run", {}).get("error"))
    return {**section, "results": results, "verdict": compute_verdict(results, strict_should, interrupted)}


def build_section(state: SmconformSession, ctx: RunContext, evidence: dict[str, Any]) -> dict[str, Any]:
    """Everything about one image: its results, verdict, launches (and a bundle's evidence)."""
    results = []
    for req in ctx.profile.requirements:
        verdict = state.aggregate(ctx, req)
        entry: dict[str, Any] = {
            "id": req.id, "level": req.level, "outcome": verdict.outcome, "how": _how(req.how),
            "message": verdict.message, "nodeids": state.nodeids_of(ctx, req.id),
            "rule": req.rule, "source": req.source,
        }
        if "reason" in verdict.extra:
            entry["reason"] = verdict.extra["reason"]
        if verdict.violation is not None:
            entry["expected"] = verdict.violation.expected
            entry["observed"] = verdict.violation.observed
            entry["fix"] = verdict.violation.fix or req.fix
            if verdict.violation.details:
                entry["details"] = list(verdict.violation.details)
        results.append(entry)
    image: dict[str, Any] = {"ref": ctx.settings.image, "id": None}
    try:
        image["id"] = ctx.image()["Id"] if state.fatal is None and ctx.settings.image else None
    except Exception:  # the report must be written even when the engine is gone
        image["id"] = None
    section = {
        **ctx.report_sections,
        "image": image,
        "results": results,
        "verdict": compute_verdict(results, state.settings.level == "should", bool(state.interrupted or state.fatal)),
        "run": {"id": ctx.run_id, "seed": state.settings.seed, "level": state.settings.level,
                "interrupted": state.interrupted, "error": state.fatal},
        "launches": [
            {"name": r.name, "variant": r.variant, "time_to_ready": r.time_to_ready, "error": r.error,
             "reproduce": r.reproduce} for r in ctx.launch_records
        ],
    }
    if evidence:
        section[EVIDENCE] = evidence
    return section


def compose_report(state: SmconformSession, sections: list[dict[str, Any]]) -> dict[str, Any]:
    """One image: its section is the report. Several: a section each and a comparison table."""
    head = {"schema": SCHEMA, "profile": state.settings.profile}
    suite = {"name": "pytest-smconform", "version": __version__, "spec_files": state.ctx.profile.files}
    if len(sections) == 1:
        section = sections[0]
        return {**head, **section, "suite": suite}
    from .certify.compare import comparison, overall_verdict

    return {
        **head,
        "images": sections,
        "comparison": comparison(sections),
        "verdict": overall_verdict([s["verdict"] for s in sections]),
        "suite": suite,
        "run": {"seed": state.settings.seed, "level": state.settings.level,
                "interrupted": state.interrupted, "error": state.fatal},
    }


def image_sections(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-image parts of a report, whether it covers one image or several."""
    sections: list[dict[str, Any]] = report.get("images", [report])
    return sections


def strip_extras(report: dict[str, Any]) -> dict[str, Any]:
    """The report without evidence (logs, image config): a bundle keeps those in files of their own."""
    def clean(section: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in section.items() if k != EVIDENCE}

    if "images" in report:
        return {**report, "images": [clean(s) for s in report["images"]]}
    return clean(report)


def unusable_run_report(profile: str, image: str | None, error: str) -> dict[str, Any]:
    """The report of a run that could not start (bad input): no results, verdict incomplete."""
    report: dict[str, Any] = redact_tree({
        "schema": SCHEMA, "profile": profile, "image": {"ref": image, "id": None}, "results": [],
        "verdict": "incomplete", "suite": {"name": "pytest-smconform", "version": __version__, "spec_files": []},
        "run": {"id": None, "seed": None, "level": None, "interrupted": None, "error": error},
        "launches": [],
    })
    return report


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write atomically, so an interrupted run never leaves half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".smconform-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(redact_tree(report), handle, indent=2, sort_keys=False)  # no secret in any report
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:  # interrupted mid-write (a second Ctrl-C): no half report left beside it
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
