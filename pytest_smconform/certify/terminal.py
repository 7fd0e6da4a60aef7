"""The end-of-run table: a row per requirement, each launch's time to ready, and the comparison."""

from __future__ import annotations

from typing import Any

from ..report import image_sections

MESSAGE_WIDTH = 100


def section_lines(section: dict[str, Any]) -> list[str]:
    lines = []
    for entry in section["results"]:
        lines.append(f"{entry['outcome'].upper():8} {entry['level']:6} {entry['id']:24} "
                     f"{entry['message'][:MESSAGE_WIDTH]}")
    for launch in section.get("launches", []):
        ready = (f"ready after {launch['time_to_ready']:.2f} s" if launch["time_to_ready"] is not None
                 else f"not ready: {launch['error']}")
        lines.append(f"launch {launch['name']} ({launch['variant']}): {ready}")
    return lines


def comparison_lines(comparison: dict[str, Any]) -> list[str]:
    refs = comparison["images"]
    if not comparison["changed"]:
        return [f"comparison: every requirement has the same outcome on all {len(refs)} images"]
    width = max(len(row["id"]) for row in comparison["rows"])
    lines = [f"comparison: {len(comparison['changed'])} requirement(s) changed verdict between images"]
    for index, ref in enumerate(refs, 1):
        lines.append(f"  [{index}] {ref}")
    lines.append("  " + f"{'requirement':{width}}  " + "  ".join(f"[{i}]".ljust(9) for i in range(1, len(refs) + 1)))
    for row in comparison["rows"]:
        if row["changed"]:
            cells = "  ".join(row["outcomes"][ref].ljust(9) for ref in refs)
            lines.append(f"  {row['id']:{width}}  {cells}")
    return lines


def summary_lines(report: dict[str, Any]) -> list[str]:
    sections = image_sections(report)
    if len(sections) == 1:
        return [*section_lines(sections[0]), f"verdict: {report['verdict']}"]
    lines = []
    for section in sections:
        lines.append(f"--- image {section['image']['ref']}: {section['verdict']}")
        lines += section_lines(section)
    lines += comparison_lines(report["comparison"])
    lines.append(f"verdict over all images: {report['verdict']}")
    return lines
