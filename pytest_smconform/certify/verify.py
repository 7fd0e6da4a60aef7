"""`smconform verify DIR`: check a certification bundle offline and say what is wrong with it.

Complete (every file the bundle names is there, nothing unlisted), consistent (each file has
the SHA-256 the manifest records; the JUnit file and the image facts agree with the report),
every MUST requirement of the profile (resolved from the bundle's own copies of the specs)
present and passed on every image, and each verdict equal to the one recomputed from the results.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import SmconformError
from ..report import SCHEMA, compute_verdict, image_sections
from . import layout
from .compare import overall_verdict
from .junit import outcomes_in

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def _manifest_problems(directory: Path) -> tuple[list[str], dict[str, str]]:
    path = directory / layout.MANIFEST
    if not path.is_file():
        return [f"missing {layout.MANIFEST}: cannot check any hash"], {}
    try:
        listed = layout.parse_manifest(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return [f"{layout.MANIFEST}: {exc}"], {}
    problems = []
    for rel, digest in listed.items():
        target = directory / rel
        if not target.is_file():
            problems.append(f"missing file {rel} (listed in {layout.MANIFEST})")
        elif layout.sha256_of(target) != digest:
            problems.append(f"hash mismatch: {rel} was changed after the bundle was written")
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    for rel in sorted(present - set(listed) - {layout.MANIFEST}):
        problems.append(f"unlisted file {rel} (not in {layout.MANIFEST})")
    return problems, listed


def _load_json(directory: Path, rel: str, problems: list[str]) -> Any:
    try:
        return json.loads((directory / rel).read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"missing file {rel}")
    except ValueError as exc:
        problems.append(f"{rel} is not JSON: {exc}")
    return None


def _must_ids(directory: Path, env: dict[str, Any], problems: list[str]) -> list[str] | None:
    """The profile's MUST ids, from the specs the run used (copied into the bundle)."""
    from ..checks import known_kinds
    from ..platform import known_platforms
    from ..spec.loader import SpecSet

    files = []
    for entry in env.get("spec_files", []):
        path = directory / entry["file"]
        if not path.is_file():
            problems.append(f"missing file {entry['file']} (a spec the run used)")
            return None
        if layout.sha256_of(path) != entry.get("sha256"):
            problems.append(f"hash mismatch: {entry['file']} differs from the spec the run used")
        files.append(path)
    try:
        profile = SpecSet(files).resolve(env["profile"], env.get("options") or {}, known_kinds(), known_platforms())
    except (SmconformError, KeyError) as exc:
        problems.append(f"cannot resolve profile {env.get('profile')!r} from the bundle's specs: {exc}")
        return None
    return [req.id for req in profile.requirements if req.level == "MUST"]


def _section_problems(directory: Path, report: dict[str, Any], section: dict[str, Any], index: int,
                      must: list[str] | None, junit: dict[tuple[str, str], str] | None) -> list[str]:
    ref = section.get("image", {}).get("ref")
    where = f"image {ref}"
    problems = []
    results = {r["id"]: r for r in section.get("results", [])}
    for req_id in must or []:
        entry = results.get(req_id)
        if entry is None:
            problems.append(f"{where}: MUST requirement {req_id} is not in the results")
        elif entry["outcome"] == "skipped" and entry.get("reason") == "not-applicable":
            continue
        elif entry["outcome"] != "passed":
            problems.append(f"{where}: MUST requirement {req_id} {entry['outcome']}: {entry['message']}")
    run = section.get("run") or report.get("run") or {}
    recomputed = compute_verdict(list(results.values()), run.get("level") == "should",
                                 bool(run.get("interrupted") or run.get("error")))
    if recomputed != section.get("verdict"):
        problems.append(f"{where}: recorded verdict {section.get('verdict')!r} but the results give {recomputed!r}")
    if junit is not None:
        for req_id, entry in results.items():
            seen = junit.get((str(ref), req_id))
            if seen != entry["outcome"]:
                problems.append(f"{where}: {req_id} is {entry['outcome']} in {layout.REPORT} "
                                f"but {seen or 'absent'} in {layout.JUNIT}")
    facts_rel = layout.image_file(index, ref)
    facts = _load_json(directory, facts_rel, problems) if (directory / facts_rel).exists() else None
    if facts is None:
        problems.append(f"{where}: missing file {facts_rel} (image id, digests, platform, size, config)")
    elif facts.get("id") != section["image"].get("id"):
        problems.append(f"{where}: image id {section['image'].get('id')} in {layout.REPORT} "
                        f"but {facts.get('id')} in {facts_rel}")
    return problems


def verify(directory: Path) -> tuple[list[str], dict[str, Any] | None]:
    """Every problem found (empty: the bundle verifies), and the report when it could be read."""
    problems, _ = _manifest_problems(directory)
    for name in layout.FIXED_FILES:
        if not (directory / name).is_file() and f"missing file {name} (listed in {layout.MANIFEST})" not in problems:
            problems.append(f"missing file {name}")
    report = _load_json(directory, layout.REPORT, []) if (directory / layout.REPORT).is_file() else None
    env = _load_json(directory, layout.ENVIRONMENT, []) if (directory / layout.ENVIRONMENT).is_file() else None
    if report is None or env is None:
        return problems, report
    if report.get("schema") != SCHEMA or env.get("schema") != layout.BUNDLE_SCHEMA:
        problems.append(f"unknown schema: report {report.get('schema')!r}, bundle {env.get('schema')!r}")
        return problems, report
    must = _must_ids(directory, env, problems)
    junit = None
    if (directory / layout.JUNIT).is_file():
        try:
            junit = outcomes_in((directory / layout.JUNIT).read_text(encoding="utf-8"))
        except Exception as exc:  # any parse failure: the file is damaged
            problems.append(f"{layout.JUNIT} cannot be read: {exc}")
    sections = image_sections(report)
    for index, section in enumerate(sections, 1):
        problems += _section_problems(directory, report, section, index, must, junit)
    if len(sections) > 1 and overall_verdict([s.get("verdict", "") for s in sections]) != report.get("verdict"):
        problems.append(f"recorded overall verdict {report.get('verdict')!r} does not follow from the images' verdicts")
    return problems, report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smconform verify", description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("bundle", type=Path, help="the directory --smconform-certify wrote")
    args = parser.parse_args(argv)
    if not args.bundle.is_dir():
        print(f"ERROR: smconform verify: {args.bundle}: no such directory", file=sys.stderr)
        return EXIT_USAGE
    problems, report = verify(args.bundle)
    for problem in problems:
        print(f"REFUSED: {problem}")
    if problems:
        print(f"smconform verify: {args.bundle}: refused ({len(problems)} problem(s))")
        return EXIT_REFUSED
    assert report is not None
    refs = ", ".join(str(s["image"]["ref"]) for s in image_sections(report))
    print(f"smconform verify: {args.bundle}: verified; profile {report['profile']}, {refs}: {report['verdict']}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
