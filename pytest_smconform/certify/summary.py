"""The human summary of a report, as Markdown and as one self-contained HTML page.

Both are rendered from the same blocks, so they say the same thing: the verdict, the image,
and one row per requirement (outcome, and the reason when it did not pass).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from ..report import image_sections

VERDICT_COLOURS = {"conformant": "#1a7f37", "not-conformant": "#cf222e", "incomplete": "#9a6700"}
OUTCOME_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#cf222e", "skipped": "#6e7781"}


@dataclass
class Block:
    kind: str  # title | verdict | heading | para | table
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _reason(entry: dict[str, Any]) -> str:
    if entry["outcome"] == "passed":
        return str(entry["message"])
    if "expected" in entry:
        text = f"expected {entry['expected']}; observed {entry['observed']}"
        return str(text + (f". Fix: {entry['fix']}" if entry.get("fix") else ""))
    return str(entry["message"])


def blocks(report: dict[str, Any], environment: dict[str, Any] | None = None) -> list[Block]:
    sections = image_sections(report)
    out = [Block("title", f"SageMaker conformance: profile {report['profile']}"),
           Block("verdict", str(report["verdict"]))]
    run = report.get("run", {})
    seeds = sorted({str(s.get("run", {}).get("seed", run.get("seed"))) for s in sections})
    out.append(Block("para", f"Suite pytest-smconform {report.get('suite', {}).get('version')}; "
                             f"level {run.get('level') or sections[0].get('run', {}).get('level')}; "
                             f"Hypothesis seed {', '.join(seeds)}; {len(sections)} image(s)."))
    if environment and environment.get("engine"):
        engine = environment["engine"]
        out.append(Block("para", f"Docker engine {engine.get('Version')} (API {engine.get('ApiVersion')}, "
                                 f"{engine.get('Os')}/{engine.get('Arch')})."))
    for section in sections:
        image = section["image"]
        out.append(Block("heading", f"Image {image['ref']}: {section['verdict']}"))
        out.append(Block("para", f"Image id {image.get('id') or 'unknown'}."))
        counts = {o: sum(1 for r in section["results"] if r["outcome"] == o)
                  for o in ("passed", "failed", "error", "skipped")}
        out.append(Block("para", ", ".join(f"{n} {o}" for o, n in counts.items()) + "."))
        out.append(Block("table", header=["Requirement", "Level", "Outcome", "Rule", "Result or reason"],
                         rows=[[r["id"], r["level"], r["outcome"], r["rule"], _reason(r)]
                               for r in section["results"]]))
        launches = [[f"{launch['name']} ({launch['variant']})",
                     f"ready after {launch['time_to_ready']:.2f} s" if launch["time_to_ready"] is not None
                     else f"not ready: {launch['error']}"] for launch in section.get("launches", [])]
        if launches:
            out.append(Block("table", header=["Launch", "Time to ready"], rows=launches))
    comparison = report.get("comparison")
    if comparison:
        out.append(Block("heading", "Comparison between images"))
        changed = comparison["changed"]
        out.append(Block("para", f"{len(changed)} requirement(s) changed verdict between images"
                                 + (": " + ", ".join(changed) if changed else "") + "."))
        out.append(Block("table", header=["Requirement", "Level", *comparison["images"]],
                         rows=[[row["id"] + (" (changed)" if row["changed"] else ""), row["level"],
                                *(row["outcomes"][ref] for ref in comparison["images"])]
                               for row in comparison["rows"]]))
    return out


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def to_markdown(items: list[Block]) -> str:
    lines: list[str] = []
    for block in items:
        if block.kind == "title":
            lines += [f"# {block.text}", ""]
        elif block.kind == "verdict":
            lines += [f"**Verdict: {block.text.upper()}**", ""]
        elif block.kind == "heading":
            lines += [f"## {block.text}", ""]
        elif block.kind == "para":
            lines += [block.text, ""]
        else:
            lines.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            lines.append("")
    return "\n".join(lines)


_CSS = """
body { font-family: sans-serif; margin: 2em; color: #1f2328; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td:first-child { white-space: nowrap; }
.verdict { color: #fff; font-size: 2em; font-weight: bold; padding: 0.5em 1em; }
"""


def to_html(items: list[Block]) -> str:
    title = next((b.text for b in items if b.kind == "title"), "smconform")
    body: list[str] = []
    for block in items:
        text = html.escape(block.text)
        if block.kind == "title":
            body.append(f"<h1>{text}</h1>")
        elif block.kind == "verdict":
            colour = VERDICT_COLOURS.get(block.text, "#6e7781")
            body.append(f'<div class="verdict" id="verdict" style="background:{colour}">'
                        f"Verdict: {html.escape(block.text.upper())}</div>")
        elif block.kind == "heading":
            body.append(f"<h2>{text}</h2>")
        elif block.kind == "para":
            body.append(f"<p>{text}</p>")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
            rows = []
            for row in block.rows:
                cells = []
                for cell in row:
                    colour = OUTCOME_COLOURS.get(cell, "")
                    style = f' style="color:{colour};font-weight:bold"' if colour else ""
                    cells.append(f"<td{style}>{html.escape(str(cell))}</td>")
                rows.append("<tr>" + "".join(cells) + "</tr>")
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")
