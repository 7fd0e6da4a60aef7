"""SageMaker Spaces (jupyter-k8s) admission rules on WorkspaceTemplate and Workspace documents.

Pure semantics: documents in (see `spaces_docs`), violations out. Each violation names the document,
the field, the bound and the value. Semantics follow the operator on main (reference jupyter-k8s.md
§6-§8): bounds inclusive, exact quantities, image match by exact string, idle override policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .quantity import QuantityError, parse_quantity
from .spaces_docs import Document, SchemaError, schema_errors
from .spaces_inherit import Effective, Resolution, inherit, resolve, template_with_crd_defaults

APP_TYPES = ("jupyterlab", "code-editor")
REMOTE_ACCESS_MEMORY = "8Gi"
# instance types the AWS page names as too small (< 8 GB) for remote access
SMALL_INSTANCE_TYPES = ("ml.t3.medium", "ml.c7i.large", "ml.c6i.large", "ml.c6id.large", "ml.c5.large")
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
LIMIT_CHECKED = ("cpu", "memory")  # the operator's limit >= request check covers these only
RULES = ("SP-TPL-SCHEMA", "SP-TPL-CONSISTENT", "SP-TPL-INHERIT", "SP-TPL-IMAGE", "SP-TPL-RESOURCES",
         "SP-TPL-STORAGE", "SP-TPL-IDLE", "SP-TPL-APPTYPE", "SP-TPL-MEMORY", "SP-TPL-COMPLIANCE")
# rules that judge a workspace against its template (the operator's template validator)
WORKSPACE_RULES = ("SP-TPL-IMAGE", "SP-TPL-RESOURCES", "SP-TPL-STORAGE", "SP-TPL-IDLE", "SP-TPL-APPTYPE")


@dataclass(frozen=True)
class Violation:
    rule: str
    document: str  # e.g. "Workspace default/ws (ws.yaml:1)"
    where: str  # file:line of the field
    field: str  # dotted path, e.g. spec.resources.requests.cpu
    bound: str  # what the value had to satisfy, and where that came from
    value: str
    message: str

    def __str__(self) -> str:
        parts = [self.where]
        if self.document and not self.where.startswith(self.document):
            parts.append(self.document)
        if self.field:
            parts.append(f"{self.field} = {self.value}" if self.value else self.field)
        return f"{': '.join(parts)}: {self.message} [bound: {self.bound}]"


class Malformed(Exception):
    """A value the rule needs cannot be read (SP-TPL-SCHEMA reports it); the rule cannot judge."""


# what reading a malformed document can raise: the rule cannot judge it (SP-TPL-SCHEMA reports it)
UNREADABLE = (Malformed, QuantityError, TypeError, AttributeError, ValueError, KeyError, IndexError)


@dataclass
class Options:
    # true: the add-on runs with remote access (a cluster setting, Helm value remoteAccess.enabled), so every
    # workspace must request at least 8Gi; anything else: SP-TPL-MEMORY does not apply to the documents
    remote_access: str = "auto"
    shared_namespace: str = "jupyter-k8s-shared"


@dataclass
class RuleResult:
    rule: str
    violations: list[Violation] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)  # what was checked and held
    blocked: list[str] = field(default_factory=list)  # what could not be judged, and why
    not_applicable: str | None = None  # set when nothing in the input is subject to the rule

    @property
    def outcome(self) -> str:
        if self.violations:
            return "failed"
        if self.not_applicable is not None and not self.passed:
            return "not-applicable"
        if self.blocked and not self.passed:
            return "blocked"
        return "passed"


# -- small helpers ---------------------------------------------------------------------------


def _get(data: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def _q(value: Any, what: str) -> Decimal:
    try:
        return parse_quantity(value)
    except QuantityError as exc:
        raise Malformed(f"{what}: {exc}") from None


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(f"{what}: {value!r} is not an integer")
    return value


def _viol(rule: str, doc: Document, path: tuple[str | int, ...], bound: str, value: Any, message: str,
          inherited_from: str | None = None) -> Violation:
    dotted = ".".join(str(p) for p in path)
    if inherited_from:
        message += f" (inherited from template {inherited_from!r})"
    return Violation(rule=rule, document=doc.label, where=doc.where(path), field=dotted, bound=bound,
                     value=str(value), message=message)


# -- template self-consistency (SP-TPL-CONSISTENT) ---------------------------------------------------


def template_consistency(tpl: Document) -> list[Violation]:
    """The operator's template checks (#443), plus the ones the catalogue adds; all, not the first."""
    rule, spec, name = "SP-TPL-CONSISTENT", template_with_crd_defaults(tpl.spec), tpl.name
    out: list[Violation] = []
    allowed, default = spec.get("allowedImages") or [], spec.get("defaultImage")
    if allowed and not spec.get("allowCustomImages") and default not in allowed:
        out.append(_viol(rule, tpl, ("spec", "defaultImage"), f"one of allowedImages {allowed}", default,
                         f"defaultImage {default!r} is not in allowedImages {allowed}: the template default would "
                         f"be rejected by its own image policy, making it un-creatable (template {name!r})"))
    out += _storage_consistency(tpl, spec)
    out += _bounds_consistency(tpl, spec)
    out += _idle_consistency(tpl, spec)
    out += _default_resources_consistency(tpl, spec)
    volumes = spec.get("defaultVolumes") or []
    if volumes and spec.get("allowSecondaryStorages") is False:
        out.append(_viol(rule, tpl, ("spec", "defaultVolumes"), "no volumes (allowSecondaryStorages: false)",
                         f"{len(volumes)} volume(s)",
                         "defaultVolumes are copied into every workspace, which allowSecondaryStorages: false "
                         "then refuses"))
    return out


def _storage_consistency(tpl: Document, spec: dict[str, Any]) -> list[Violation]:
    rule, primary, out = "SP-TPL-CONSISTENT", spec.get("primaryStorage"), []
    if not isinstance(primary, dict):
        return []
    try:
        lo = _q(primary["minSize"], "minSize") if "minSize" in primary else None
        hi = _q(primary["maxSize"], "maxSize") if "maxSize" in primary else None
        size = _q(primary["defaultSize"], "defaultSize") if "defaultSize" in primary else None
    except Malformed:
        return []
    base = ("spec", "primaryStorage")
    if lo is not None and hi is not None and lo > hi:
        out.append(_viol(rule, tpl, (*base, "minSize"), f"<= maxSize {primary['maxSize']}", primary["minSize"],
                         f"primaryStorage.minSize {primary['minSize']} is greater than primaryStorage.maxSize "
                         f"{primary['maxSize']}: no storage size can satisfy these bounds (template {tpl.name!r})"))
    if size is not None and size != 0:
        if lo is not None and size < lo:
            out.append(_viol(rule, tpl, (*base, "defaultSize"), f">= minSize {primary['minSize']}",
                             primary["defaultSize"], "defaultSize is below minSize: workspaces that inherit it "
                             "are refused by their own template"))
        if hi is not None and size > hi:
            out.append(_viol(rule, tpl, (*base, "defaultSize"), f"<= maxSize {primary['maxSize']}",
                             primary["defaultSize"], "defaultSize exceeds maxSize: workspaces that inherit it "
                             "are refused by their own template"))
    return out


def _bounds_consistency(tpl: Document, spec: dict[str, Any]) -> list[Violation]:
    out = []
    for res, bound in sorted((_get(spec, "resourceBounds", "resources") or {}).items()):
        if not isinstance(bound, dict):
            continue
        try:
            lo, hi = _q(bound.get("min"), f"{res}.min"), _q(bound.get("max"), f"{res}.max")
        except Malformed:
            continue
        if lo > hi:
            out.append(_viol("SP-TPL-CONSISTENT", tpl, ("spec", "resourceBounds", "resources", res, "min"),
                             f"<= max {bound.get('max')}", bound.get("min"),
                             f"resourceBounds for {res!r} has min {bound.get('min')} greater than max "
                             f"{bound.get('max')}: no value can satisfy these bounds (template {tpl.name!r})"))
    return out


def _idle_consistency(tpl: Document, spec: dict[str, Any]) -> list[Violation]:
    rule, out = "SP-TPL-CONSISTENT", []
    over, default = spec.get("idleShutdownOverrides"), spec.get("defaultIdleShutdown")
    if not isinstance(over, dict):
        return []
    base = ("spec", "idleShutdownOverrides")
    lo, hi = over.get("minIdleTimeoutInMinutes"), over.get("maxIdleTimeoutInMinutes")
    if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
        out.append(_viol(rule, tpl, (*base, "minIdleTimeoutInMinutes"), f"<= maxIdleTimeoutInMinutes {hi}", lo,
                         f"idleShutdownOverrides.minIdleTimeoutInMinutes {lo} is greater than maxIdleTimeoutInMinutes"
                         f" {hi}: no idle timeout can satisfy these bounds (template {tpl.name!r})"))
    if over.get("allow") is False and not isinstance(default, dict):
        out.append(_viol(rule, tpl, (*base, "allow"), "a defaultIdleShutdown when allow is false", "allow: false",
                         "idleShutdownOverrides.allow is false but defaultIdleShutdown is not set: a locked idle "
                         "shutdown policy requires a defaultIdleShutdown for workspaces to match "
                         f"(template {tpl.name!r})"))
    if isinstance(default, dict) and default.get("enabled") is True:
        timeout = default.get("idleTimeoutInMinutes")
        path = ("spec", "defaultIdleShutdown", "idleTimeoutInMinutes")
        if isinstance(timeout, int) and isinstance(lo, int) and timeout < lo:
            out.append(_viol(rule, tpl, path, f">= minIdleTimeoutInMinutes {lo}", timeout,
                             f"defaultIdleShutdown.idleTimeoutInMinutes {timeout} is below idleShutdownOverrides."
                             f"minIdleTimeoutInMinutes {lo}: the template default would be rejected by its own "
                             f"bounds (template {tpl.name!r})"))
        if isinstance(timeout, int) and isinstance(hi, int) and timeout > hi:
            out.append(_viol(rule, tpl, path, f"<= maxIdleTimeoutInMinutes {hi}", timeout,
                             f"defaultIdleShutdown.idleTimeoutInMinutes {timeout} is above idleShutdownOverrides."
                             f"maxIdleTimeoutInMinutes {hi}: the template default would be rejected by its own "
                             f"bounds (template {tpl.name!r})"))
    return out


def _default_resources_consistency(tpl: Document, spec: dict[str, Any]) -> list[Violation]:
    resources = spec.get("defaultResources")
    if not isinstance(resources, dict):
        return []
    out = []
    for v in resource_violations(tpl, resources, spec, ("spec", "defaultResources"), None, check_all_limits=True):
        out.append(Violation("SP-TPL-CONSISTENT", v.document, v.where, v.field, v.bound, v.value,
                             v.message + ": workspaces that inherit defaultResources are refused by their own "
                             "template"))
    return out


# -- workspace against template ---------------------------------------------------------------------


def image_violations(ws: Document, eff: Effective, tpl: Document) -> list[Violation]:
    spec, tspec = eff.spec, template_with_crd_defaults(tpl.spec)
    image = spec.get("image")
    if not image or tspec.get("allowCustomImages"):
        return []
    allowed = [tspec.get("defaultImage"), *(tspec.get("allowedImages") or [])]
    if image in allowed:
        return []
    listed = tspec.get("allowedImages") or [tspec.get("defaultImage")]
    return [_viol("SP-TPL-IMAGE", ws, ("spec", "image"), f"defaultImage or allowedImages {listed} of template "
                  f"{tpl.name!r} (exact match; allowCustomImages is false)", image,
                  f"Image '{image}' is not allowed by template '{tpl.name}'. Allowed images: {listed}",
                  tpl.name if "image" in eff.inherited else None)]


def resource_violations(doc: Document, resources: dict[str, Any], tspec: dict[str, Any] | None,
                        base: tuple[str, ...], template_name: str | None, inherited: bool = False,
                        check_all_limits: bool = True) -> list[Violation]:
    """Limits >= requests, then every bounded resource present in requests or limits, inclusively."""
    rule, out = "SP-TPL-RESOURCES", []
    src = template_name if inherited else None
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    names = LIMIT_CHECKED if not check_all_limits else sorted(set(requests) & set(limits))
    for res in names:
        if res in requests and res in limits:
            req, lim = _q(requests[res], f"requests.{res}"), _q(limits[res], f"limits.{res}")
            if lim < req:
                label = {"cpu": "CPU", "memory": "Memory"}.get(res, res)
                lower = {"cpu": "CPU", "memory": "memory"}.get(res, res)
                out.append(_viol(rule, doc, (*base, "limits", res), f">= request {requests[res]}", limits[res],
                                 f"{label} limit must be greater than or equal to {lower} request", src))
    bounds = _get(tspec, "resourceBounds", "resources") or {} if tspec else {}
    where_from = f" by template '{template_name}'" if template_name else ""
    for res, bound in sorted(bounds.items()):
        if not isinstance(bound, dict):
            continue
        lo, hi = _q(bound.get("min"), f"resourceBounds.{res}.min"), _q(bound.get("max"), f"resourceBounds.{res}.max")
        for kind, values in (("request", requests), ("limit", limits)):
            if res not in values:
                continue
            value = _q(values[res], f"{kind}s.{res}")
            path = (*base, f"{kind}s", res)
            if value < lo:
                out.append(_viol(rule, doc, path, f">= {bound.get('min')} (resourceBounds.{res}.min)", values[res],
                                 f"{res} {kind} {values[res]} is below minimum {bound.get('min')} required"
                                 f"{where_from}", src))
            if value > hi:
                out.append(_viol(rule, doc, path, f"<= {bound.get('max')} (resourceBounds.{res}.max)", values[res],
                                 f"{res} {kind} {values[res]} exceeds maximum {bound.get('max')} allowed"
                                 f"{where_from}", src))
    return out


def workspace_resource_violations(ws: Document, eff: Effective, tpl: Document | None) -> list[Violation]:
    resources = eff.spec.get("resources")
    if not isinstance(resources, dict):
        return []
    return resource_violations(ws, resources, tpl.spec if tpl else None, ("spec", "resources"),
                               tpl.name if tpl else None, inherited="resources" in eff.inherited)


def storage_violations(ws: Document, eff: Effective, tpl: Document) -> list[Violation]:
    rule, out = "SP-TPL-STORAGE", []
    tspec = template_with_crd_defaults(tpl.spec)
    found = tspec.get("primaryStorage")
    primary: dict[str, Any] = found if isinstance(found, dict) else {}
    size = _get(eff.spec, "storage", "size")
    src = tpl.name if "storage.size" in eff.inherited else None
    if size is not None and _q(size, "storage.size") != 0:
        value = _q(size, "storage.size")
        path = ("spec", "storage", "size")
        if "minSize" in primary and value < _q(primary["minSize"], "minSize"):
            out.append(_viol(rule, ws, path, f">= minSize {primary['minSize']}", size,
                             f"Storage size {size} is below minimum {primary['minSize']} required by template "
                             f"'{tpl.name}'", src))
        if "maxSize" in primary and value > _q(primary["maxSize"], "maxSize"):
            out.append(_viol(rule, ws, path, f"<= maxSize {primary['maxSize']}", size,
                             f"Storage size {size} exceeds maximum {primary['maxSize']} allowed by template "
                             f"'{tpl.name}'", src))
    volumes = eff.spec.get("volumes") or []
    if volumes and tspec.get("allowSecondaryStorages") is False:
        out.append(_viol(rule, ws, ("spec", "volumes"), "no volumes (allowSecondaryStorages: false)",
                         f"{len(volumes)} volume(s)",
                         f"Template '{tpl.name}' does not allow secondary storage volumes, but workspace specifies "
                         f"{len(volumes)} volume(s)", tpl.name if "volumes" in eff.inherited else None))
    return out


def idle_spec_violations(doc: Document, idle: Any, path: tuple[str, ...], src: str | None = None) -> list[Violation]:
    """An IdleShutdownSpec on its own: enabled, timeout >= 1, detection.httpGet (path, port, scheme)."""
    rule, out = "SP-TPL-IDLE", []
    if not isinstance(idle, dict):
        return []
    if not isinstance(idle.get("enabled"), bool):
        out.append(_viol(rule, doc, (*path, "enabled"), "true or false (required)", idle.get("enabled", "(missing)"),
                         "idle shutdown needs `enabled`", src))
    timeout = idle.get("idleTimeoutInMinutes")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        out.append(_viol(rule, doc, (*path, "idleTimeoutInMinutes"), ">= 1 minute (integer, required)",
                         "(missing)" if timeout is None else timeout,
                         "the idle timeout must be a whole number of minutes, at least 1", src))
    http = _get(idle, "detection", "httpGet")
    if idle.get("enabled") is True and not isinstance(http, dict):
        out.append(_viol(rule, doc, (*path, "detection"), "detection.httpGet with path and port",
                         "(no httpGet)", "idle shutdown is enabled but nothing tells the operator how to detect "
                         "activity", src))
    if isinstance(http, dict):
        hpath = (*path, "detection", "httpGet")
        if idle.get("enabled") is True and not http.get("path"):
            out.append(_viol(rule, doc, (*hpath, "path"), "an HTTP path such as /api/idle", "(missing)",
                             "detection.httpGet has no path", src))
        port = http.get("port")
        if port is None or (isinstance(port, int) and not 1 <= port <= 65535) or isinstance(port, bool):
            out.append(_viol(rule, doc, (*hpath, "port"), "a port number 1-65535 or a port name",
                             "(missing)" if port is None else port, "detection.httpGet.port is not a valid port", src))
        scheme = http.get("scheme")
        if scheme is not None and scheme not in ("HTTP", "HTTPS"):
            out.append(_viol(rule, doc, (*hpath, "scheme"), "HTTP or HTTPS (default HTTP)", scheme,
                             "detection.httpGet.scheme must be HTTP or HTTPS", src))
    return out


def idle_policy_violations(ws: Document, eff: Effective, tpl: Document) -> list[Violation]:
    """The template's idleShutdownOverrides policy on the workspace's (effective) idleShutdown (#438)."""
    rule, tspec, out = "SP-TPL-IDLE", template_with_crd_defaults(tpl.spec), []
    over = tspec.get("idleShutdownOverrides")
    if not isinstance(over, dict):
        return []
    default = tspec.get("defaultIdleShutdown")
    allow = over.get("allow") is not False
    idle = eff.spec.get("idleShutdown")
    src = tpl.name if "idleShutdown" in eff.inherited else None
    base = ("spec", "idleShutdown")
    if not allow and isinstance(default, dict):
        if not isinstance(idle, dict):
            out.append(_viol(rule, ws, base, "the template default (allow: false)", "(none)",
                             f"Template '{tpl.name}' does not allow overriding idle shutdown; idleShutdown must "
                             "match the template default"))
        else:
            mine = {k: v for k, v in idle.items() if k != "idleTimeoutInMinutes"}
            theirs = {k: v for k, v in default.items() if k != "idleTimeoutInMinutes"}
            if mine != theirs:
                differ = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                out.append(_viol(rule, ws, (*base, differ[0]), f"equal to the template default {theirs}",
                                 {k: mine.get(k) for k in differ},
                                 f"Template '{tpl.name}' does not allow overriding idle shutdown; only "
                                 "idleTimeoutInMinutes may differ from the template default"))
    if isinstance(idle, dict) and idle.get("enabled") is True:
        timeout = idle.get("idleTimeoutInMinutes")
        lo, hi = over.get("minIdleTimeoutInMinutes"), over.get("maxIdleTimeoutInMinutes")
        if not allow and isinstance(default, dict):
            pinned = default.get("idleTimeoutInMinutes")
            lo = pinned if lo is None else lo
            hi = pinned if hi is None else hi
        below = isinstance(timeout, int) and isinstance(lo, int) and timeout < lo
        above = isinstance(timeout, int) and isinstance(hi, int) and timeout > hi
        if below or above:
            shown = f"[{'unbounded' if lo is None else lo}, {'unbounded' if hi is None else hi}]"
            out.append(_viol(rule, ws, (*base, "idleTimeoutInMinutes"), f"within {shown} (inclusive)", timeout,
                             f"Idle timeout {timeout} minutes is outside the range {shown} allowed by template "
                             f"'{tpl.name}'", src))
    return out


def app_type_violation(doc: Document, app_type: Any, path: tuple[str, ...], src: str | None = None,
                       what: str = "") -> list[Violation]:
    if app_type is None or app_type in APP_TYPES:
        return []
    return [_viol("SP-TPL-APPTYPE", doc, path, "jupyterlab or code-editor", app_type,
                  "Workspace app type must be either 'jupyterlab' or 'code-editor'" + what, src)]


def memory_violations(doc: Document, resources: Any, node_selector: Any, path: tuple[str, ...],
                      src: str | None = None) -> list[Violation]:
    """Remote access needs at least 8Gi of requested memory; the seed's small instance types are refused."""
    rule, out = "SP-TPL-MEMORY", []
    memory = _get(resources, "requests", "memory")
    if memory is None:
        out.append(_viol(rule, doc, (*path, "requests", "memory"), f">= {REMOTE_ACCESS_MEMORY}", "(not requested)",
                         "HyperPod workspace requires minimum 8GB memory for remote access functionality", src))
    elif _q(memory, "requests.memory") < parse_quantity(REMOTE_ACCESS_MEMORY):
        out.append(_viol(rule, doc, (*path, "requests", "memory"), f">= {REMOTE_ACCESS_MEMORY}", memory,
                         "HyperPod workspace requires minimum 8GB memory for remote access functionality", src))
    selector_path = ("spec", "nodeSelector") if path[-1] == "resources" else ("spec", "defaultNodeSelector")
    for label in INSTANCE_TYPE_LABELS:
        itype = _get(node_selector, label)
        if itype in SMALL_INSTANCE_TYPES:
            out.append(_viol(rule, doc, (*selector_path, label), "an instance type with at least 8 GB of memory",
                             itype, f"{itype} has less than 8 GB of memory and is not supported for remote access",
                             src))
    return out


# -- the whole input -------------------------------------------------------------------------------


@dataclass
class Judged:
    """One workspace, its template and what the defaulter made of it."""

    ws: Document
    resolution: Resolution
    effective: Effective


def current_templates(templates: list[Document]) -> list[Document]:
    """The last version of each (namespace, name): later documents are edits of earlier ones."""
    latest: dict[tuple[str | None, str], Document] = {}
    for tpl in templates:
        latest[(tpl.namespace, tpl.name)] = tpl
    return list(latest.values())


def template_history(templates: list[Document]) -> dict[tuple[str | None, str], list[Document]]:
    history: dict[tuple[str | None, str], list[Document]] = {}
    for tpl in templates:
        history.setdefault((tpl.namespace, tpl.name), []).append(tpl)
    return history


def judge_workspace(ws: Document, templates: list[Document], shared_namespace: str) -> Judged:
    resolution = resolve(ws, templates, shared_namespace)
    found = ws.metadata.get("labels")
    labels: dict[str, Any] = found if isinstance(found, dict) else {}
    tspec = resolution.template.spec if resolution.template else None
    return Judged(ws, resolution, inherit(ws.spec, tspec, {str(k): str(v) for k, v in labels.items()}))


def workspace_against(ws: Document, eff: Effective, tpl: Document) -> dict[str, list[Violation]]:
    """Every template check of the operator's validator on one workspace (they accumulate)."""
    out: dict[str, list[Violation]] = {}
    checks: dict[str, Callable[[], list[Violation]]] = {
        "SP-TPL-IMAGE": lambda: image_violations(ws, eff, tpl),
        "SP-TPL-RESOURCES": lambda: workspace_resource_violations(ws, eff, tpl),
        "SP-TPL-STORAGE": lambda: storage_violations(ws, eff, tpl),
        "SP-TPL-IDLE": lambda: idle_policy_violations(ws, eff, tpl),
        "SP-TPL-APPTYPE": lambda: app_type_violation(ws, eff.spec.get("appType"), ("spec", "appType"),
                                                     tpl.name if "appType" in eff.inherited else None),
    }
    for rule, check in checks.items():
        try:
            out[rule] = check()
        except UNREADABLE:
            out[rule] = []
    return out


def remote_access(options: Options) -> bool:
    return options.remote_access == "true"


def evaluate(templates: list[Document], workspaces: list[Document], options: Options | None = None,
             unreadable: list[SchemaError] | None = None) -> dict[str, RuleResult]:
    """Judge every rule over the given documents (templates in the order given: later = edited)."""
    options = options or Options()
    results = {rule: RuleResult(rule) for rule in RULES}
    _schema(results["SP-TPL-SCHEMA"], [*templates, *workspaces], unreadable or [])
    current = current_templates(templates)
    for tpl in current:
        _judge_template(results, tpl, options)
    judged: list[Judged] = []
    for ws in workspaces:
        try:
            item = judge_workspace(ws, current, options.shared_namespace)
        except UNREADABLE as exc:
            for rule in (*WORKSPACE_RULES, "SP-TPL-INHERIT"):
                results[rule].blocked.append(f"{ws.label}: cannot default a malformed workspace ({exc}); "
                                             "see SP-TPL-SCHEMA")
            continue
        judged.append(item)
        _judge_workspace(results, item, options)
    _compliance(results["SP-TPL-COMPLIANCE"], templates, workspaces, options)
    _mark_not_applicable(results, templates, workspaces, judged)
    return results


def _schema(result: RuleResult, docs: list[Document], unreadable: list[SchemaError]) -> None:
    for err in unreadable:
        result.violations.append(Violation("SP-TPL-SCHEMA", err.where.rsplit(":", 1)[0], err.where, err.field,
                                           "well-formed YAML of workspace.jupyter.org/v1alpha1", "", err.message))
    for doc in docs:
        errors = schema_errors(doc)
        for err in errors:
            result.violations.append(Violation("SP-TPL-SCHEMA", doc.label, err.where, err.field,
                                               "the WorkspaceTemplate/Workspace schema (v1alpha1)", "", err.message))
        if not errors:
            result.passed.append(f"{doc.label} is well-formed ({doc.spelling} spelling)")


def _guard(result: RuleResult, doc: Document, fn: Callable[[], list[Violation]]) -> None:
    try:
        found = fn()
    except UNREADABLE as exc:
        result.blocked.append(f"{doc.label}: cannot judge a malformed value ({exc}); see SP-TPL-SCHEMA")
        return
    result.violations.extend(found)
    if not found:
        result.passed.append(doc.label)


def _judge_template(results: dict[str, RuleResult], tpl: Document, options: Options) -> None:
    spec = tpl.spec
    _guard(results["SP-TPL-CONSISTENT"], tpl, lambda: template_consistency(tpl))
    idle = spec.get("defaultIdleShutdown")
    if isinstance(idle, dict):
        _guard(results["SP-TPL-IDLE"], tpl, lambda: idle_spec_violations(tpl, idle, ("spec", "defaultIdleShutdown")))
    if "appType" in spec:
        _guard(results["SP-TPL-APPTYPE"], tpl, lambda: app_type_violation(
            tpl, spec.get("appType"), ("spec", "appType"), None, ": workspaces inherit the template's appType"))
    if remote_access(options) and isinstance(spec.get("defaultResources"), dict):
        _guard(results["SP-TPL-MEMORY"], tpl, lambda: memory_violations(
            tpl, spec.get("defaultResources"), spec.get("defaultNodeSelector"), ("spec", "defaultResources")))


def _judge_workspace(results: dict[str, RuleResult], item: Judged, options: Options) -> None:
    ws, res, eff = item.ws, item.resolution, item.effective
    tpl = res.template
    inherit_result = results["SP-TPL-INHERIT"]
    if res.problem:
        inherit_result.violations.append(_viol("SP-TPL-INHERIT", ws, ("spec", "templateRef"),
                                               "a template the operator can find", _get(ws.spec, "templateRef"),
                                               res.problem))
    elif res.unknown:
        inherit_result.blocked.append(f"{ws.label}: {res.unknown}")
    elif tpl is not None:
        fields = ", ".join(eff.inherited) or "nothing (the workspace sets every defaulted field)"
        inherit_result.passed.append(f"{ws.label} inherits from {tpl.label}: {fields}")
    idle = eff.spec.get("idleShutdown")
    src = tpl.name if tpl and "idleShutdown" in eff.inherited else None
    if isinstance(idle, dict):
        _guard(results["SP-TPL-IDLE"], ws, lambda: idle_spec_violations(ws, idle, ("spec", "idleShutdown"), src))
    if tpl is not None:
        for rule, found in workspace_against(ws, eff, tpl).items():
            _guard(results[rule], ws, lambda found=found: found)  # type: ignore[misc]
    else:
        _guard(results["SP-TPL-RESOURCES"], ws, lambda: workspace_resource_violations(ws, eff, None))
        _guard(results["SP-TPL-APPTYPE"], ws, lambda: app_type_violation(ws, eff.spec.get("appType"),
                                                                         ("spec", "appType")))
    if remote_access(options):
        _guard(results["SP-TPL-MEMORY"], ws, lambda: memory_violations(
            ws, eff.spec.get("resources"), eff.spec.get("nodeSelector"), ("spec", "resources"),
            tpl.name if tpl and "resources" in eff.inherited else None))


def compliance_violations(ws: Document, history: list[Document], shared_namespace: str) -> list[Violation]:
    """A workspace admitted under a template's first version and refused under its current one."""
    first, current = history[0], history[-1]
    try:
        created = judge_workspace(ws, [first], shared_namespace)
    except UNREADABLE:
        return []
    if created.resolution.template is None:
        return []
    before = workspace_against(ws, created.effective, first)
    if any(before.values()):
        return []  # never admitted: the other rules report it
    after = workspace_against(ws, created.effective, current)  # the stored spec, checked on update/start
    out = []
    for found in after.values():
        for v in found:
            out.append(Violation("SP-TPL-COMPLIANCE", v.document, v.where, v.field, v.bound, v.value,
                                 f"admitted under the earlier version of template '{current.name}' "
                                 f"({first.where()}), refused on its next update or start under the changed "
                                 f"template ({current.where()}): {v.message}"))
    return out


def existing_violations(ws: Document, templates: list[Document], shared_namespace: str) -> list[Violation]:
    """An existing workspace (its document has a status) checked against the current template."""
    judged = judge_workspace(ws, templates, shared_namespace)
    tpl = judged.resolution.template
    if tpl is None:
        return []
    when = "restart" if ws.spec.get("desiredStatus") == "Stopped" else "next update or start"
    out = []
    for found in workspace_against(ws, judged.effective, tpl).values():
        for v in found:
            out.append(Violation("SP-TPL-COMPLIANCE", v.document, v.where, v.field, v.bound, v.value,
                                 f"an existing workspace (it has a status) no longer complies with template "
                                 f"'{tpl.name}' and is refused on its {when}: {v.message}"))
    return out


def _compliance(result: RuleResult, templates: list[Document], workspaces: list[Document], options: Options) -> None:
    changed = {key: versions for key, versions in template_history(templates).items() if len(versions) > 1}
    existing = [ws for ws in workspaces if isinstance(ws.data.get("status"), dict)]
    if not changed and not existing:
        result.not_applicable = ("no template was changed and no existing workspace was given: give the "
                                 "template's versions in order (--smconform-template=v1.yaml "
                                 "--smconform-template=v2.yaml), or workspaces as stored (with their status)")
        return
    current_all = current_templates(templates)
    for ws in existing:
        _guard(result, ws, lambda ws=ws: existing_violations(  # type: ignore[misc]
            ws, current_all, options.shared_namespace))
    for versions in changed.values():
        current = versions[-1]
        for ws in workspaces:
            if ws in existing:
                continue
            try:
                now = judge_workspace(ws, current_all, options.shared_namespace)
            except UNREADABLE:
                continue
            if now.resolution.template is not current:
                continue
            _guard(result, ws, lambda ws=ws, versions=versions: compliance_violations(  # type: ignore[misc]
                ws, versions, options.shared_namespace))


def _mark_not_applicable(results: dict[str, RuleResult], templates: list[Document], workspaces: list[Document],
                         judged: list[Judged]) -> None:
    if not templates and not workspaces:
        for result in results.values():
            result.not_applicable = "no WorkspaceTemplate or Workspace documents given"
        return
    if not templates:
        results["SP-TPL-CONSISTENT"].not_applicable = "no WorkspaceTemplate given"
    with_template = [j for j in judged if j.resolution.template is not None]
    if not with_template:
        why = ("no workspace uses one of the given templates" if templates and workspaces
               else "no workspace given" if templates else "no template given")
        for rule in ("SP-TPL-IMAGE", "SP-TPL-STORAGE", "SP-TPL-INHERIT"):
            results[rule].not_applicable = why
    for rule in ("SP-TPL-IDLE", "SP-TPL-APPTYPE", "SP-TPL-RESOURCES"):
        if not results[rule].passed and not results[rule].violations:
            results[rule].not_applicable = "nothing in the documents is subject to this rule"
    if not results["SP-TPL-MEMORY"].passed and not results["SP-TPL-MEMORY"].violations:
        results["SP-TPL-MEMORY"].not_applicable = (
            "remote access is a setting of the add-on (Helm value remoteAccess.enabled), not of the documents; "
            "--smconform-option=remote_access=true checks every workspace and template for it")
