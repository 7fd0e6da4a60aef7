"""The workspace container as the operator's Deployment would run it (reference jupyter-k8s.md §13)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .spaces import current_templates, judge_workspace
from .spaces_docs import Document
from .spaces_idle import LifecycleScript, Probe, lifecycle_script, probe_from_idle
from .spaces_inherit import inherit

HYPERPOD_MOUNT_PATH = "/home/sagemaker-user"


@dataclass
class PodShape:
    source: str  # which document the shape comes from ("" = the image alone)
    command: list[str] | None = None  # containerConfig.command: replaces ENTRYPOINT (and drops CMD)
    args: list[str] | None = None  # containerConfig.args: replaces CMD
    env: dict[str, str] = field(default_factory=dict)
    mount_path: str = HYPERPOD_MOUNT_PATH
    fs_group: int = 1000
    run_as: str | None = None  # "uid" or "uid:gid" from the security contexts
    idle: dict[str, Any] | None = None
    lifecycle: LifecycleScript | None = None
    all_lifecycles: list[LifecycleScript] = field(default_factory=list)  # every script in the documents

    @property
    def probe(self) -> Probe:
        return probe_from_idle(self.idle)


def pod_shape(templates: list[Document], workspaces: list[Document], shared_namespace: str,
              default_mount: str = HYPERPOD_MOUNT_PATH, default_fs_group: int = 1000) -> PodShape:
    """From the first workspace (defaulted from its template), else the first template's defaults.

    Documents too malformed to read give the image's own shape (SP-TPL-SCHEMA reports them).
    """
    try:
        return _pod_shape(templates, workspaces, shared_namespace, default_mount, default_fs_group)
    except (TypeError, AttributeError, ValueError, KeyError):
        return PodShape(source="", mount_path=default_mount, fs_group=default_fs_group)


def _pod_shape(templates: list[Document], workspaces: list[Document], shared_namespace: str,
               default_mount: str, default_fs_group: int) -> PodShape:
    current = current_templates(templates)
    if workspaces:
        judged = judge_workspace(workspaces[0], current, shared_namespace)
        spec, source = judged.effective.spec, workspaces[0].label
    elif current:
        spec, source = inherit({}, current[0].spec).spec, current[0].label
    else:
        return PodShape(source="", mount_path=default_mount, fs_group=default_fs_group)
    config, storage = _mapping(spec, "containerConfig"), _mapping(spec, "storage")
    pod_sc, ctr_sc = _mapping(spec, "podSecurityContext"), _mapping(spec, "containerSecurityContext")
    uid = ctr_sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = ctr_sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    run_as = None
    if isinstance(uid, int):
        run_as = f"{uid}:{gid}" if isinstance(gid, int) else str(uid)
    env_list = spec.get("env") if isinstance(spec.get("env"), list) else []
    env = {str(e["name"]): str(e.get("value", "")) for e in env_list or [] if isinstance(e, dict) and e.get("name")}
    fs_group = pod_sc.get("fsGroup")
    return PodShape(
        source=source,
        command=[str(c) for c in config["command"]] if isinstance(config.get("command"), list) else None,
        args=[str(a) for a in config["args"]] if isinstance(config.get("args"), list) else None,
        env=env,
        mount_path=str(storage.get("mountPath") or default_mount),
        fs_group=fs_group if isinstance(fs_group, int) else default_fs_group,
        run_as=run_as,
        idle=spec.get("idleShutdown") if isinstance(spec.get("idleShutdown"), dict) else None,
        lifecycle=lifecycle_script(spec.get("lifecycle"), source),
    )


def _mapping(spec: dict[str, Any], key: str) -> dict[str, Any]:
    found = spec.get(key)
    return found if isinstance(found, dict) else {}


def hyperpod_env(namespace: str, name: str, app_type: str) -> dict[str, str]:
    """What the HyperPod access strategy injects into the workspace container."""
    return {
        "WORKSPACE_NAMESPACE": namespace,
        "WORKSPACE_NAME": name,
        "WORKSPACE_ACCESS_TYPE": "Public",
        "WORKSPACE_APP_TYPE": app_type,
        "WORKSPACE_CREATOR_USERNAME": "smconform",
        "JUPYTER_BASE_URL": f"/workspaces/{namespace}/{name}/",
    }


def all_lifecycles(templates: list[Document], workspaces: list[Document],
                   shared_namespace: str) -> list[LifecycleScript]:
    """Every postStart script the documents define: templates' defaults and workspaces' (defaulted) own."""
    out: list[LifecycleScript] = []
    for tpl in current_templates(templates):
        found = lifecycle_script(tpl.spec.get("defaultLifecycle"), tpl.label)
        if found is not None:
            out.append(found)
    for ws in workspaces:
        try:
            spec = judge_workspace(ws, current_templates(templates), shared_namespace).effective.spec
        except (TypeError, AttributeError, ValueError, KeyError):
            continue
        found = lifecycle_script(spec.get("lifecycle"), ws.label)
        if found is not None and found.command not in {item.command for item in out}:
            out.append(found)
    return out
