"""JUnit XML of a report: a testcase per requirement and image, titled by its rule, with properties.

CI systems show the title; the properties (requirement, level, source seed, how) let a reader
map every testcase back to the requirement list.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ..report import image_sections

_TAGS = {"failed": "failure", "error": "error", "skipped": "skipped"}


def title(entry: dict[str, Any]) -> str:
    return f"{entry['id']} ({entry['level']}): {entry['rule']}"


def _text(entry: dict[str, Any]) -> str:
    lines = [f"expected: {entry['expected']}", f"observed: {entry['observed']}"] if "expected" in entry \
        else [entry["message"]]
    if entry.get("fix"):
        lines.append(f"how to fix: {entry['fix']}")
    lines += entry.get("details", [])
    return "\n".join(lines)


def testsuite(report: dict[str, Any], section: dict[str, Any]) -> ET.Element:
    results = section["results"]
    ref = str(section["image"]["ref"])
    suite = ET.Element("testsuite", {
        "name": f"smconform {report['profile']} on {ref}",
        "tests": str(len(results)),
        "failures": str(sum(r["outcome"] == "failed" for r in results)),
        "errors": str(sum(r["outcome"] == "error" for r in results)),
        "skipped": str(sum(r["outcome"] == "skipped" for r in results)),
    })
    props = ET.SubElement(suite, "properties")
    for name, value in (("image", ref), ("image_id", section["image"].get("id") or ""),
                        ("verdict", section["verdict"]), ("seed", str(section["run"].get("seed")))):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for entry in results:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"smconform.{report['profile']}.{ref}", "name": title(entry)})
        case_props = ET.SubElement(case, "properties")
        for name, value in (("requirement", entry["id"]), ("level", entry["level"]),
                            ("source", f"seed {entry['source']}" if entry["source"] else ""),
                            ("how", entry["how"]), ("outcome", entry["outcome"])):
            ET.SubElement(case_props, "property", {"name": name, "value": value})
        tag = _TAGS.get(entry["outcome"])
        if tag == "skipped":
            ET.SubElement(case, tag, {"message": entry["message"]})
        elif tag is not None:
            ET.SubElement(case, tag, {"message": entry["message"]}).text = _text(entry)
        elif entry["outcome"] == "passed":
            ET.SubElement(case, "system-out").text = entry["message"]
    return suite


def to_junit(report: dict[str, Any]) -> str:
    root = ET.Element("testsuites", {"name": f"smconform {report['profile']}"})
    for section in image_sections(report):
        root.append(testsuite(report, section))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def outcomes_in(xml_text: str) -> dict[tuple[str, str], str]:
    """(image ref, requirement id) -> outcome, read back from a JUnit file this module wrote."""
    root = ET.fromstring(xml_text)
    out = {}
    for suite in root.iter("testsuite"):
        ref = next((p.get("value", "") for p in suite.iter("property") if p.get("name") == "image"), "")
        for case in suite.iter("testcase"):
            props = {p.get("name"): p.get("value", "") for p in case.iter("property")}
            tag = next((t for t in ("failure", "error", "skipped") if case.find(t) is not None), None)
            outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(tag or "", "passed")
            out[(ref, str(props.get("requirement")))] = outcome
    return out
