"""What a spec declares, after validation and inheritance: plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LEVELS = ("MUST", "SHOULD", "INFO")


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    type: str
    help: str
    origin: str


@dataclass(frozen=True)
class LaunchDecl:
    """A way the platform starts the image; many requirements can share one launch."""

    name: str
    platform: str
    params: dict[str, Any]
    origin: str


@dataclass(frozen=True)
class Case:
    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    rule: str
    how: tuple[str, ...]
    check: str
    params: dict[str, Any]
    origin: str
    source: str = ""
    launch: str | None = None
    needs: tuple[str, ...] = ()
    fix: str = ""
    cases: tuple[Case, ...] = ()
    fuzz_examples: int | None = None


@dataclass
class Profile:
    name: str
    description: str
    parameters: dict[str, Parameter]
    launches: dict[str, LaunchDecl]
    requirements: list[Requirement]
    files: list[str] = field(default_factory=list)
    image_optional: bool = False

    def requirement(self, req_id: str) -> Requirement:
        for req in self.requirements:
            if req.id == req_id:
                return req
        raise KeyError(req_id)
