"""Studio app semantics: ContainerConfig limits, platform variables and their precedence."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# API limits of ContainerConfig (JupyterLab/Code Editor AppImageConfig).
ENTRYPOINT_MAX_ITEMS = 1
ENTRYPOINT_MAX_CHARS = 256
ARGUMENTS_MAX_ITEMS = 50
ARGUMENTS_MAX_CHARS = 64
ENVIRONMENT_MAX_ITEMS = 25
ENVIRONMENT_MAX_CHARS = 256

RESERVED_ENV_PREFIXES = ("AWS_", "SAGEMAKER_", "SageMaker_")


@dataclass(frozen=True)
class ContainerConfig:
    entrypoint: tuple[str, ...] | None = None
    arguments: tuple[str, ...] | None = None
    environment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_api(cls, doc: dict[str, Any]) -> ContainerConfig:
        """Accept the API's spelling (`ContainerEnvironmentVariables`) and the seed's."""
        env = doc.get("ContainerEnvironmentVariables", doc.get("ContainerEnvironment", {})) or {}
        entry = doc.get("ContainerEntrypoint")
        args = doc.get("ContainerArguments")
        return cls(
            entrypoint=None if entry is None else tuple(str(x) for x in entry),
            arguments=None if args is None else tuple(str(x) for x in args),
            environment={str(k): str(v) for k, v in env.items()},
        )

    def is_empty(self) -> bool:
        return self.entrypoint is None and self.arguments is None and not self.environment


def container_config_problems(cfg: ContainerConfig) -> list[str]:
    """Every way `cfg` breaks the CreateAppImageConfig limits (empty list: accepted)."""
    problems = []
    if cfg.entrypoint is not None:
        if len(cfg.entrypoint) > ENTRYPOINT_MAX_ITEMS:
            problems.append(f"ContainerEntrypoint has {len(cfg.entrypoint)} items "
                            f"(at most {ENTRYPOINT_MAX_ITEMS})")
        problems += [f"ContainerEntrypoint[{i}] is {len(v)} characters (at most {ENTRYPOINT_MAX_CHARS})"
                     for i, v in enumerate(cfg.entrypoint) if len(v) > ENTRYPOINT_MAX_CHARS]
    if cfg.arguments is not None:
        if len(cfg.arguments) > ARGUMENTS_MAX_ITEMS:
            problems.append(f"ContainerArguments has {len(cfg.arguments)} items (at most {ARGUMENTS_MAX_ITEMS})")
        problems += [f"ContainerArguments[{i}] is {len(v)} characters (at most {ARGUMENTS_MAX_CHARS})"
                     for i, v in enumerate(cfg.arguments) if len(v) > ARGUMENTS_MAX_CHARS]
    if len(cfg.environment) > ENVIRONMENT_MAX_ITEMS:
        problems.append(f"ContainerEnvironmentVariables has {len(cfg.environment)} entries "
                        f"(at most {ENVIRONMENT_MAX_ITEMS})")
    for key, value in cfg.environment.items():
        if len(key) > ENVIRONMENT_MAX_CHARS or len(value) > ENVIRONMENT_MAX_CHARS:
            problems.append(f"ContainerEnvironmentVariables[{key[:40]!r}] key or value is longer than "
                            f"{ENVIRONMENT_MAX_CHARS} characters")
    return problems


def is_reserved_name(name: str) -> bool:
    return name.startswith(RESERVED_ENV_PREFIXES)


def injected_environment(container_env: dict[str, str], platform_env: dict[str, str]) -> dict[str, str]:
    """What the platform passes to the container: ContainerEnvironment, then platform variables on top."""
    return {**container_env, **platform_env}


def environment_problems(injected: dict[str, str], observed: dict[str, str]) -> list[str]:
    """Every injected variable the app process does not see with exactly the injected value."""
    problems = []
    for key in sorted(injected):
        if key not in observed:
            problems.append(f"{key}: injected {injected[key]!r}, missing in the app process")
        elif observed[key] != injected[key]:
            problems.append(f"{key}: injected {injected[key]!r}, app process sees {observed[key]!r}")
    return problems


def resource_metadata(region: str, domain_id: str, user_profile: str, space: str,
                      app_type: str = "JupyterLab") -> str:
    """`/opt/ml/metadata/resource-metadata.json` in the shape the seed shows."""
    arn = f"arn:aws:sagemaker:{region}:111122223333:app/{domain_id}/{user_profile}/{app_type}/default"
    return json.dumps({
        "AppType": app_type, "DomainId": domain_id, "UserProfileName": user_profile,
        "SpaceName": space, "ResourceArn": arn, "ResourceName": "default", "AppImageVersion": "current",
    })
