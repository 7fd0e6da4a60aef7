"""`--smconform-rerun-failed=DIR`: repeat what did not pass in a bundle, with its seed, on the same image."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..report import image_sections
from ..settings import read_json_input
from . import layout


@dataclass
class RerunPlan:
    source: Path
    profile: str
    seed: int | None
    level: str | None
    options: dict[str, str]
    image_ids: dict[str, str | None] = field(default_factory=dict)  # ref -> id the bundle checked
    again: dict[str, set[str]] = field(default_factory=dict)  # ref -> ids to run again


def _needs_again(entry: dict[str, Any]) -> bool:
    """Failed or errored, or never judged because something else failed first."""
    return entry["outcome"] in ("failed", "error") or entry.get("reason") == "blocked"


def load_plan(path: Path) -> RerunPlan:
    report_path = path / layout.REPORT if path.is_dir() else path
    report = read_json_input(report_path, "--smconform-rerun-failed")
    if not isinstance(report, dict) or "profile" not in report:
        raise UsageError(f"--smconform-rerun-failed: {report_path} is not an smconform report")
    env_path = report_path.parent / layout.ENVIRONMENT
    options = {}
    if env_path.is_file():
        options = {str(k): str(v) for k, v in (json.loads(env_path.read_text(encoding="utf-8")).get("options")
                                                 or {}).items()}
    run = report.get("run", {})
    plan = RerunPlan(source=path, profile=str(report["profile"]), seed=run.get("seed"), level=run.get("level"),
                     options=options)
    for section in image_sections(report):
        ref = section["image"]["ref"]
        plan.image_ids[ref] = section["image"].get("id")
        plan.again[ref] = {entry["id"] for entry in section["results"] if _needs_again(entry)}
    return plan


def reconcile(plan: RerunPlan, profile: str | None, images: list[str], seed: int | None) -> tuple[str, list[str], int]:
    """The run's profile, images and seed: the bundle's; what the user gave must agree with them."""
    if profile and profile != plan.profile:
        raise UsageError(f"--smconform-rerun-failed: the bundle is for profile {plan.profile!r}, not {profile!r}")
    if plan.seed is None:
        raise UsageError(f"--smconform-rerun-failed: {plan.source} records no seed")
    if seed is not None and seed != plan.seed:
        raise UsageError(f"--smconform-rerun-failed: the bundle ran with seed {plan.seed}; "
                         f"--smconform-seed {seed} would not repeat it")
    unknown = [ref for ref in images if ref not in plan.image_ids]
    if unknown:
        raise UsageError(f"--smconform-rerun-failed: {unknown[0]} is not an image of the bundle "
                         f"({', '.join(plan.image_ids)})")
    chosen = images or [ref for ref in plan.image_ids if plan.again[ref]]
    return plan.profile, chosen, plan.seed


def check_same_image(plan: RerunPlan, ref: str, image_id: str) -> None:
    recorded = plan.image_ids.get(ref)
    if recorded and recorded != image_id:
        raise UsageError(f"--smconform-rerun-failed: {ref} is now {image_id}, but the bundle checked {recorded}; "
                         f"a re-run must use the same image (rebuild it or certify anew)")


def apply_plan(plan: RerunPlan, settings: Any, user_seed: int | None) -> None:
    """Point the run's settings at the bundle: its profile, images, seed, options and level."""
    profile, images, seed = reconcile(plan, settings.profile, list(settings.images), user_seed)
    settings.profile = profile
    settings.images = images
    settings.image = images[0] if images else None
    settings.seed = seed
    settings.options = {**plan.options, **settings.options}
    settings.level = plan.level or settings.level
    settings.rerun_from = plan.source


def selected(plan: RerunPlan, ref: str | None, req_id: str) -> bool:
    return req_id in plan.again.get(str(ref), set())
