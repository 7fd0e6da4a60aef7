"""Everything a run was asked to do, gathered from options and ini keys, validated once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import redact
from .errors import UsageError
from .model.studio import ContainerConfig


@dataclass
class Settings:
    profile: str
    image: str | None
    report_path: Path | None = None
    options: dict[str, str] = field(default_factory=dict)
    level: str = "should"
    spec_files: list[Path] = field(default_factory=list)
    container_config: ContainerConfig | None = None
    seed: int | None = None
    images: list[str] = field(default_factory=list)  # every image of the run (a matrix if several)
    certify_dir: Path | None = None  # write a certification bundle there
    rerun_from: Path | None = None  # a bundle whose failed requirements this run repeats
    # Profile-specific inputs (each profile's checks read the ones they need).
    app_image_config: Path | None = None  # kernelgateway: AppImageConfig JSON
    allow_engine_socket: bool = False  # local-mode: hand the container a real engine socket
    docker_settings: Path | None = None  # local-mode: DockerSettings JSON
    templates: list[Path] = field(default_factory=list)  # spaces: WorkspaceTemplate documents
    workspaces: list[Path] = field(default_factory=list)  # spaces: Workspace documents
    prewarm: list[str] = field(default_factory=list)  # spaces: images for the pre-warm DaemonSet
    kubeconfig: Path | None = None  # live cluster checks: this kubeconfig (None: discovery)
    live: bool = False  # spaces: compare admission on a live cluster (SP-LIVE-AGREES)

    def counts_as_failure(self, level: str) -> bool:
        """SHOULD fails the run unless the user lowered the bar to MUST; INFO never fails."""
        if level == "MUST":
            return True
        return level == "SHOULD" and self.level == "should"


def parse_option_pairs(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--smconform-option expects KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def read_json_input(path: Path, option: str) -> Any:
    """A JSON file named on the command line; one clear line when it cannot be read or parsed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{option}: cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option}: {path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except ValueError as exc:  # not UTF-8
        raise UsageError(f"{option}: {path} is not JSON: {exc}") from None


def load_container_config(path: Path) -> ContainerConfig:
    doc = read_json_input(path, "--smconform-container-config")
    if isinstance(doc, dict) and "ContainerConfig" in doc:
        doc = doc["ContainerConfig"]
    if not isinstance(doc, dict):
        raise UsageError(f"--smconform-container-config: {path} must hold a JSON object")
    unknown = set(doc) - {"ContainerEntrypoint", "ContainerArguments", "ContainerEnvironmentVariables",
                          "ContainerEnvironment"}
    if unknown:
        raise UsageError(f"--smconform-container-config: {path}: unknown keys {sorted(unknown)}")
    for key in ("ContainerEntrypoint", "ContainerArguments"):
        value = doc.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
            raise UsageError(f"--smconform-container-config: {path}: {key} must be a list of strings")
    env = doc.get("ContainerEnvironmentVariables", doc.get("ContainerEnvironment"))
    if env is not None and not (isinstance(env, dict) and all(isinstance(v, str | int | float) for v in env.values())):
        raise UsageError(f"--smconform-container-config: {path}: ContainerEnvironmentVariables must map "
                         "names to strings")
    config = ContainerConfig.from_api(doc)
    redact.remember(config.environment)
    return config
