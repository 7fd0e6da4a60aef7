"""The files of a certification bundle, named once for the writer and the verifier."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

BUNDLE_SCHEMA = "smconform-bundle/1"
REPORT = "report.json"
JUNIT = "junit.xml"
ENVIRONMENT = "environment.json"
SUMMARY_MD = "summary.md"
SUMMARY_HTML = "summary.html"
MANIFEST = "MANIFEST.sha256"  # `sha256sum -c MANIFEST.sha256` checks it too
FIXED_FILES = (REPORT, JUNIT, ENVIRONMENT, SUMMARY_MD, SUMMARY_HTML)
IMAGES_DIR = "images"
LOGS_DIR = "logs"
SPECS_DIR = "specs"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "image"


def image_file(index: int, ref: str | None) -> str:
    return f"{IMAGES_DIR}/{index}-{slug(str(ref))}.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_manifest(text: str) -> dict[str, str]:
    """`<sha256>  <path>` lines -> {path: sha256}; malformed lines raise ValueError."""
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9a-f]{64})  (\S.*)", line)
        if match is None:
            raise ValueError(f"line {number} is not '<sha256>  <path>'")
        out[match.group(2)] = match.group(1)
    return out
