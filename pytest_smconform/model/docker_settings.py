"""Studio domain DockerSettings (local mode, seed 001): what the API accepts. No I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STATES = ("ENABLED", "DISABLED")
KNOWN_KEYS = ("EnableDockerAccess", "VpcOnlyTrustedAccounts", "RootlessDocker")
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")


@dataclass(frozen=True)
class DockerSettingsFindings:
    problems: list[str] = field(default_factory=list)  # the API would refuse the document
    warnings: list[str] = field(default_factory=list)  # accepted, but not what the user may think
    summary: str = ""


def unwrap(doc: Mapping[str, Any]) -> Any:
    """Accept DockerSettings itself, {"DockerSettings": ...}, or DomainSettings(ForUpdate) around it."""
    for outer in ("DomainSettings", "DomainSettingsForUpdate"):
        if outer in doc and isinstance(doc[outer], Mapping):
            doc = doc[outer]
    return doc.get("DockerSettings", doc)


def check_docker_settings(doc: Any) -> DockerSettingsFindings:
    """Problems and warnings of one DockerSettings document."""
    if not isinstance(doc, Mapping):
        return DockerSettingsFindings([f"DockerSettings must be a JSON object, got {type(doc).__name__}"])
    problems: list[str] = []
    warnings: list[str] = []
    unknown = sorted(set(doc) - set(KNOWN_KEYS))
    if unknown:
        problems.append(f"unknown keys {unknown} (known: {', '.join(KNOWN_KEYS)})")
    for key in ("EnableDockerAccess", "RootlessDocker"):
        if key in doc and doc[key] not in STATES:
            problems.append(f"{key} is {doc[key]!r}; it must be ENABLED or DISABLED")
    accounts = doc.get("VpcOnlyTrustedAccounts")
    if accounts is not None:
        if not isinstance(accounts, list):
            problems.append(f"VpcOnlyTrustedAccounts must be a list of account ids, got {type(accounts).__name__}")
        else:
            bad = [a for a in accounts if not isinstance(a, str) or not ACCOUNT_ID.match(a)]
            if bad:
                problems.append(f"VpcOnlyTrustedAccounts holds {', '.join(repr(b) for b in bad[:5])}: "
                                "each must be a 12-digit AWS account id (a string)")
            if len(set(map(str, accounts))) != len(accounts):
                warnings.append("VpcOnlyTrustedAccounts lists an account more than once")
    enabled = doc.get("EnableDockerAccess") == "ENABLED"
    rootless = doc.get("RootlessDocker") == "ENABLED"
    if rootless and accounts:
        warnings.append("VpcOnlyTrustedAccounts is ignored when RootlessDocker is ENABLED: Docker traffic "
                        "goes through your VPC's configuration instead")
    if rootless and not enabled:
        warnings.append("RootlessDocker ENABLED has no effect unless EnableDockerAccess is ENABLED too")
    if not enabled and not problems:
        warnings.append("EnableDockerAccess is not ENABLED: local mode and Docker are off in the domain's apps")
    summary = (f"EnableDockerAccess {doc.get('EnableDockerAccess', '(unset: DISABLED)')}, "
               f"RootlessDocker {doc.get('RootlessDocker', '(unset: DISABLED)')}, "
               f"{len(accounts) if isinstance(accounts, list) else 0} trusted accounts")
    return DockerSettingsFindings(problems, warnings, summary)


def parse_os_release(text: str) -> tuple[dict[str, str], list[str]]:
    """os-release(5): KEY=value lines, values optionally quoted; returns (fields, problems)."""
    import shlex

    fields: dict[str, str] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not re.match(r"^[A-Z][A-Z0-9_]*$", key):
            problems.append(f"line {number}: {stripped[:60]!r} is not KEY=value")
            continue
        try:
            words = shlex.split(value)
        except ValueError as exc:
            problems.append(f"line {number}: {key}: {exc}")
            continue
        if len(words) > 1:
            problems.append(f"line {number}: {key}: unquoted value with spaces")
            continue
        fields[key] = words[0] if words else ""
    if "ID" not in fields and not problems:
        problems.append("no ID= line (the distribution's identifier)")
    return fields, problems
