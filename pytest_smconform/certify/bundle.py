"""Write a certification bundle: the results, the evidence behind them, a summary, and a manifest."""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from .. import __version__
from ..errors import UsageError
from ..report import EVIDENCE, image_sections, strip_extras
from . import layout
from .junit import to_junit
from .summary import blocks, to_html, to_markdown


def check_target(directory: Path) -> None:
    """A bundle goes into an empty (or new) directory, or replaces an earlier bundle there."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--smconform-certify: {directory} is a file, not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / layout.MANIFEST).is_file():
        raise UsageError(f"--smconform-certify: {directory} is not empty and holds no bundle; give a new directory")


def _clear_previous(directory: Path) -> None:
    for name in (*layout.FIXED_FILES, layout.MANIFEST):
        (directory / name).unlink(missing_ok=True)
    for sub in (layout.IMAGES_DIR, layout.LOGS_DIR, layout.SPECS_DIR):
        shutil.rmtree(directory / sub, ignore_errors=True)


def _write(directory: Path, rel: str, text: str) -> None:
    path = directory / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _log_text(entry: dict[str, Any]) -> str:
    head = [f"# launch {entry['launch']}, container {entry['container']}", "# started as:"]
    head += [f"#   {line}" for line in str(entry["command"]).splitlines()]
    return "\n".join([*head, *entry["lines"]]) + "\n"


def environment(report: dict[str, Any], spec_entries: list[dict[str, str]], options: dict[str, str],
                evidence: dict[str, Any], images: list[dict[str, Any]]) -> dict[str, Any]:
    run = report.get("run", {})
    return {
        "schema": layout.BUNDLE_SCHEMA,
        "suite": {"name": "pytest-smconform", "version": __version__},
        "python": sys.version.split()[0], "pytest": pytest.__version__, "host": platform.platform(),
        "command": list(sys.argv),
        "profile": report["profile"], "level": run.get("level"), "options": options, "seed": run.get("seed"),
        "hypothesis": evidence.get("hypothesis"),
        "engine": evidence.get("engine"),
        "spec_files": spec_entries,
        "images": images,
    }


def write_bundle(directory: Path, report: dict[str, Any], spec_files: list[str], options: dict[str, str]) -> str:
    """Write every file, then the manifest; returns the manifest's own SHA-256 (quote it to the reader)."""
    directory.mkdir(parents=True, exist_ok=True)
    _clear_previous(directory)
    spec_entries = []
    for index, origin in enumerate(spec_files, 1):
        rel = f"{layout.SPECS_DIR}/{index}-{Path(origin).name}"
        (directory / layout.SPECS_DIR).mkdir(exist_ok=True)
        shutil.copyfile(origin, directory / rel)
        spec_entries.append({"file": rel, "origin": str(origin), "sha256": layout.sha256_of(directory / rel)})
    images = []
    first_evidence: dict[str, Any] = {}
    for index, section in enumerate(image_sections(report), 1):
        evidence = section.get(EVIDENCE, {})
        first_evidence = first_evidence or evidence
        image_rel = layout.image_file(index, section["image"]["ref"])
        _write(directory, image_rel, json.dumps(evidence.get("image", {}), indent=2) + "\n")
        logs = []
        for number, entry in enumerate(evidence.get("logs", []), 1):
            rel = f"{layout.LOGS_DIR}/{index}-{layout.slug(str(section['image']['ref']))}/" \
                  f"{number:02d}-{layout.slug(entry['launch'])}-{entry['container']}.log"
            _write(directory, rel, _log_text(entry))
            logs.append(rel)
        images.append({"ref": section["image"]["ref"], "id": section["image"]["id"], "facts": image_rel,
                       "logs": logs, "engine": evidence.get("engine"), "evidence_error": evidence.get("error")})
    clean = strip_extras(report)
    _write(directory, layout.REPORT, json.dumps(clean, indent=2) + "\n")
    _write(directory, layout.JUNIT, to_junit(clean))
    env = environment(clean, spec_entries, options, first_evidence, images)
    _write(directory, layout.ENVIRONMENT, json.dumps(env, indent=2) + "\n")
    summary = blocks(clean, env)
    _write(directory, layout.SUMMARY_MD, to_markdown(summary))
    _write(directory, layout.SUMMARY_HTML, to_html(summary))
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != layout.MANIFEST)
    manifest = "".join(f"{layout.sha256_of(p)}  {p.relative_to(directory).as_posix()}\n" for p in files)
    _write(directory, layout.MANIFEST, manifest)
    return layout.sha256_of(directory / layout.MANIFEST)
