"""How the operator finds a workspace's template and fills in what the workspace omits (SP-TPL-INHERIT).

Mirrors the jupyter-k8s workspace defaulter: a template default applies only when the workspace
field is unset, and is copied whole, never merged (storage is the exception: filled field by field).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .quantity import QuantityError, parse_quantity
from .spaces_docs import Document

SHARED_NAMESPACE = "jupyter-k8s-shared"
DEFAULT_NAMESPACE = "default"
DEFAULT_TEMPLATE_LABEL = "workspace.jupyter.org/default-template"
DEFAULT_MOUNT_PATH = "/home/jovyan"  # CRD default of primaryStorage.defaultMountPath
DEFAULT_STORAGE_SIZE = "10Gi"  # CRD default of primaryStorage.defaultSize

# (workspace field, template field), copied whole when the workspace field is unset, in the defaulter's order
WHOLE_DEFAULTS = (
    ("image", "defaultImage"),
    ("ownershipType", "defaultOwnershipType"),
    ("accessType", "defaultAccessType"),
    ("appType", "appType"),
    ("containerConfig", "defaultContainerConfig"),
    ("resources", "defaultResources"),
    ("volumes", "defaultVolumes"),
    ("nodeSelector", "defaultNodeSelector"),
    ("affinity", "defaultAffinity"),
    ("tolerations", "defaultTolerations"),
    ("accessStrategy", "defaultAccessStrategy"),
    ("lifecycle", "defaultLifecycle"),
    ("idleShutdown", "defaultIdleShutdown"),
    ("readinessProbe", "defaultReadinessProbe"),
    ("podSecurityContext", "defaultPodSecurityContext"),
    ("containerSecurityContext", "defaultContainerSecurityContext"),
    ("initContainers", "defaultInitContainers"),
)


def unset(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def template_with_crd_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """A template spec with the CRD's structural defaults applied (as the apiserver stores it)."""
    out = copy.deepcopy(spec)
    out.setdefault("allowCustomImages", False)
    out.setdefault("allowSecondaryStorages", True)
    out.setdefault("allowCustomInitContainers", False)
    out.setdefault("defaultOwnershipType", "Public")
    out.setdefault("defaultAccessType", "Public")
    storage = out.get("primaryStorage")
    if isinstance(storage, dict):
        storage.setdefault("defaultSize", DEFAULT_STORAGE_SIZE)
        storage.setdefault("defaultMountPath", DEFAULT_MOUNT_PATH)
    overrides = out.get("idleShutdownOverrides")
    if isinstance(overrides, dict):
        overrides.setdefault("allow", True)
    if isinstance(out.get("defaultIdleShutdown"), dict):
        out["defaultIdleShutdown"] = idle_with_crd_defaults(out["defaultIdleShutdown"])
    return out


def idle_with_crd_defaults(idle: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(idle)
    detection = out.get("detection")
    http = detection.get("httpGet") if isinstance(detection, dict) else None
    if isinstance(http, dict):
        http.setdefault("transport", "podExec")
        stamp = http.get("lastActivityTimestamp")
        if isinstance(stamp, dict):
            stamp.setdefault("format", "RFC3339")
    return out


@dataclass
class Effective:
    """A workspace spec after defaulting, and which fields came from the template."""

    spec: dict[str, Any]
    inherited: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


def inherit(workspace: dict[str, Any], template: dict[str, Any] | None,
            labels: dict[str, str] | None = None) -> Effective:
    """The workspace spec the validator sees: template defaults applied where the workspace is silent."""
    spec = copy.deepcopy(workspace)
    eff = Effective(spec=spec, labels=dict(labels or {}))
    spec.setdefault("desiredStatus", "Running")
    if template is not None:
        tpl = template_with_crd_defaults(template)
        for ws_key, tpl_key in WHOLE_DEFAULTS:
            if unset(spec.get(ws_key)) and not unset(tpl.get(tpl_key)):
                spec[ws_key] = copy.deepcopy(tpl[tpl_key])
                eff.inherited.append(ws_key)
        _inherit_storage(spec, tpl, eff)
        _inherit_env(spec, tpl, eff)
        labels_found = tpl.get("baseLabels")
        for entry in labels_found if isinstance(labels_found, list) else []:
            if isinstance(entry, dict) and entry.get("key") and entry["key"] not in eff.labels:
                eff.labels[str(entry["key"])] = str(entry.get("value", ""))
    if unset(spec.get("ownershipType")):
        spec["ownershipType"] = "Public"
    if unset(spec.get("accessType")):
        spec["accessType"] = spec["ownershipType"]
    if isinstance(spec.get("idleShutdown"), dict):
        spec["idleShutdown"] = idle_with_crd_defaults(spec["idleShutdown"])
    return eff


def _inherit_storage(spec: dict[str, Any], tpl: dict[str, Any], eff: Effective) -> None:
    primary = tpl.get("primaryStorage")
    if not isinstance(primary, dict):
        return
    if spec.get("storage") is None:
        try:
            nonzero = parse_quantity(primary.get("defaultSize", 0)) != 0
        except QuantityError:
            nonzero = True
        if not nonzero:
            return
        spec["storage"] = {}
    storage = spec["storage"]
    if not isinstance(storage, dict):
        return
    for ws_key, tpl_key in (("size", "defaultSize"), ("storageClassName", "defaultStorageClassName"),
                            ("mountPath", "defaultMountPath")):
        if unset(storage.get(ws_key)) and not unset(primary.get(tpl_key)):
            storage[ws_key] = primary[tpl_key]
            eff.inherited.append(f"storage.{ws_key}")


def _inherit_env(spec: dict[str, Any], tpl: dict[str, Any], eff: Effective) -> None:
    found_base = tpl.get("baseEnv")
    base = [e for e in found_base if isinstance(e, dict)] if isinstance(found_base, list) else []
    if not base:
        return
    found = spec.get("env")
    env: list[Any] = found if isinstance(found, list) else []
    names = {e.get("name") for e in env if isinstance(e, dict)}
    added = [copy.deepcopy(e) for e in base if e.get("name") not in names]
    if added:
        spec["env"] = [*env, *added]
        eff.inherited.append("env")


# -- which template ---------------------------------------------------------------------------


@dataclass
class Resolution:
    template: Document | None
    problem: str | None = None  # why the operator refuses the workspace's template reference
    unknown: str | None = None  # why the template cannot be judged (not among the documents)

    @property
    def standalone(self) -> bool:
        return self.template is None and self.problem is None and self.unknown is None


def workspace_namespace(ws: Document) -> str:
    return ws.namespace or DEFAULT_NAMESPACE


def _in(tpl: Document, namespace: str | None) -> bool:
    """Whether `tpl` can be in `namespace`; None (a document without a namespace) matches any."""
    return namespace is None or tpl.namespace is None or tpl.namespace == namespace


def resolve(ws: Document, templates: list[Document], shared_namespace: str = SHARED_NAMESPACE) -> Resolution:
    """The template the operator would use for `ws`, among `templates` (current versions).

    A document without metadata.namespace is applied wherever kubectl points: it matches any namespace.
    """
    ns = ws.namespace
    ref = ws.spec.get("templateRef")
    if isinstance(ref, dict) and ref.get("name"):
        name, ref_ns = str(ref["name"]), str(ref.get("namespace") or "") or None
        if ref_ns and ns and ref_ns not in (ns, shared_namespace):
            return Resolution(None, problem=(
                f"templateRef.namespace {ref_ns!r} is not allowed: templates must be in the workspace "
                f"namespace {ns!r} or the shared namespace {shared_namespace!r}"))
        search: list[str | None] = [ref_ns] if ref_ns else ([ns, shared_namespace] if ns else [None])
        for namespace in search:
            found = [t for t in templates if t.name == name and _in(t, namespace)]
            if found:
                return Resolution(found[-1])
        if not templates:
            return Resolution(None, unknown=f"templateRef names {name!r}, and no template was given")
        given = ", ".join(sorted({f"{t.namespace or '(any)'}/{t.name}" for t in templates}))
        where = " or fallback namespace ".join(n or "(any)" for n in search)
        return Resolution(None, problem=(
            f"failed to get template {name} from namespace {where}: not found among the given templates "
            f"({given})"))
    for namespace in ([ns, shared_namespace] if ns else [None]):
        labelled = [t for t in templates if _in(t, namespace)
                    and _is_default(t)]
        by_namespace: dict[str | None, list[Document]] = {}
        for tpl in labelled:
            by_namespace.setdefault(tpl.namespace, []).append(tpl)
        for group_ns, group in by_namespace.items():
            if len(group) > 1:
                names = sorted(t.name for t in group)
                return Resolution(None, problem=(
                    f"multiple templates found with default-template label in namespace {group_ns or namespace}: "
                    f"{names}, expected exactly one"))
        if labelled:
            return Resolution(labelled[0])
    return Resolution(None)


def _is_default(tpl: Document) -> bool:
    labels = tpl.metadata.get("labels")
    return isinstance(labels, dict) and str(labels.get(DEFAULT_TEMPLATE_LABEL, "")).lower() == "true"
