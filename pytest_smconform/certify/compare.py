"""Several images in one run: which requirement changed verdict between them."""

from __future__ import annotations

from typing import Any

_VERDICT_ORDER = ("not-conformant", "incomplete", "conformant")


def overall_verdict(verdicts: list[str]) -> str:
    """The worst verdict over the images: one non-conformant tag makes the matrix non-conformant."""
    for verdict in _VERDICT_ORDER:
        if verdict in verdicts:
            return verdict
    return "incomplete"


def comparison(sections: list[dict[str, Any]]) -> dict[str, Any]:
    """A row per requirement with each image's outcome; `changed` lists the ids whose outcome differs."""
    refs = [str(s["image"]["ref"]) for s in sections]
    by_image = [{r["id"]: r for r in s["results"]} for s in sections]
    ids = list(dict.fromkeys(r["id"] for s in sections for r in s["results"]))
    rows = []
    for req_id in ids:
        entries = [results.get(req_id) for results in by_image]
        outcomes = [e["outcome"] if e else "absent" for e in entries]
        level = next((e["level"] for e in entries if e), "")
        rows.append({"id": req_id, "level": level, "outcomes": dict(zip(refs, outcomes, strict=True)),
                     "changed": len(set(outcomes)) > 1})
    return {"images": refs, "rows": rows, "changed": [row["id"] for row in rows if row["changed"]]}


def compare_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Reports of separate runs (e.g. one tox environment per tag) as one matrix report."""
    from ..report import image_sections

    sections = [section for report in reports for section in image_sections(report)]
    profiles = sorted({str(report.get("profile")) for report in reports})
    return {"profile": ", ".join(profiles), "images": sections, "comparison": comparison(sections),
            "verdict": overall_verdict([str(s.get("verdict")) for s in sections]),
            "suite": reports[0].get("suite", {}), "run": {}}
