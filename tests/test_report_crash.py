"""A requirement whose xdist worker died under it never reads as passed in the report."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_smconform.report import mark_crashed

pytestmark = pytest.mark.unit


def _section(*outcomes: tuple[str, str, str]) -> dict[str, Any]:
    results = [{"id": rid, "level": level, "outcome": outcome, "message": "ok",
                "nodeids": [f"smconform-jupyterlab::{rid}"]} for rid, level, outcome in outcomes]
    return {"results": results, "verdict": "conformant", "run": {"interrupted": None, "error": None}}


def test_the_crashed_requirement_is_an_error_and_the_run_incomplete() -> None:
    section = _section(("JL-UID", "MUST", "passed"), ("JL-PORT", "MUST", "passed"))
    marked = mark_crashed(section, {"smconform-jupyterlab::JL-PORT": "worker 'gw0' crashed while running"}, False)
    assert [(r["id"], r["outcome"]) for r in marked["results"]] == [("JL-UID", "passed"), ("JL-PORT", "error")]
    assert marked["results"][1]["message"] == "no verdict: worker 'gw0' crashed while running"
    assert marked["verdict"] == "incomplete"


def test_a_failure_elsewhere_still_decides_the_verdict() -> None:
    section = _section(("JL-UID", "MUST", "failed"), ("JL-PORT", "MUST", "passed"))
    marked = mark_crashed(section, {"smconform-jupyterlab::JL-PORT": "crashed"}, False)
    assert marked["verdict"] == "not-conformant"


def test_a_crash_under_another_node_changes_nothing() -> None:
    section = _section(("JL-UID", "MUST", "passed"))
    marked = mark_crashed(section, {"smconform-jupyterlab::JL-OTHER": "crashed"}, False)
    assert marked["results"] == section["results"] and marked["verdict"] == "conformant"
