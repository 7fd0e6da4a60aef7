"""`smconform compare REPORT...`: one comparison table from the reports of separate runs (a tox matrix)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import UsageError
from ..settings import read_json_input
from .compare import compare_reports
from .summary import blocks, to_html, to_markdown
from .terminal import comparison_lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smconform compare",
                                     description="compare the reports of runs on several images (tags)")
    parser.add_argument("reports", nargs="+", type=Path, help="JSON reports (--smconform-report) of the runs")
    parser.add_argument("--markdown", type=Path, help="also write the summary with the table as Markdown")
    parser.add_argument("--html", type=Path, help="also write it as an HTML page")
    args = parser.parse_args(argv)
    if len(args.reports) < 2:
        parser.error("give at least two reports")
    try:
        reports = [read_json_input(path, "smconform compare") for path in args.reports]
    except UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    matrix = compare_reports(reports)
    refs = list(matrix["comparison"]["images"])
    if len(set(refs)) != len(refs):
        print(f"ERROR: smconform compare: an image appears twice: {', '.join(refs)}", file=sys.stderr)
        return 2
    for line in comparison_lines(matrix["comparison"]):
        print(line)
    for section in matrix["images"]:
        print(f"{section['image']['ref']}: {section['verdict']}")
    if args.markdown:
        args.markdown.write_text(to_markdown(blocks(matrix)), encoding="utf-8")
    if args.html:
        args.html.write_text(to_html(blocks(matrix)), encoding="utf-8")
    return 0
