"""Discover fixture images and the requirement each mutant breaks, from fixtures/images/."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

IMAGES = Path(__file__).resolve().parent.parent / "fixtures" / "images"
_MUTANT = re.compile(r"^#\s*mutant:\s*([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)")


@dataclass(frozen=True)
class Mutant:
    profile: str
    name: str
    requirement: str
    suite_args: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


def _declared_id(directory: Path) -> str | None:
    for candidate in ("Dockerfile", "transform.json", "MUTANT"):
        path = directory / candidate
        if path.exists():
            for line in path.read_text().splitlines()[:5]:
                match = _MUTANT.match(line.strip()) or _MUTANT.match("# " + line.strip().strip('"{},'))
                if match:
                    return match.group(1)
    return None


def suite_args(directory: Path) -> tuple[str, ...]:
    """Extra suite arguments a fixture needs (file `smconform-args`, one per line, {here} = its folder)."""
    path = directory / "smconform-args"
    if not path.exists():
        return ()
    lines = [line.strip() for line in path.read_text().splitlines()]
    return tuple(line.replace("{here}", str(directory)) for line in lines if line and not line.startswith("#"))


def mutants(profile: str) -> list[Mutant]:
    root = IMAGES / profile
    out = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []:
        req = _declared_id(directory)
        if req is not None:
            out.append(Mutant(profile, directory.name, req, suite_args(directory)))
    return out


@dataclass(frozen=True)
class Sample:
    """A real-world image (e.g. a documentation sample) and the requirements it must fail."""

    profile: str
    name: str
    failed: frozenset[str]

    def __str__(self) -> str:
        return self.name


def samples(profile: str) -> list[Sample]:
    import json

    root = IMAGES / profile
    out = []
    for expected in sorted(root.glob("*/expected.json")) if root.exists() else []:
        data = json.loads(expected.read_text())
        out.append(Sample(profile, expected.parent.name, frozenset(data["failed"])))
    return out
