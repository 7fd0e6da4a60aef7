"""The spaces model: schema, defaulting, bounds and the idle override policy on templates and workspaces."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pytest_smconform.model.quantity import QuantityError, parse_quantity
from pytest_smconform.model.spaces import RULES, Options, RuleResult, evaluate
from pytest_smconform.model.spaces_docs import (
    Document,
    document_from_data,
    load_documents,
    schema_errors,
    seed_spelling,
)
from pytest_smconform.model.spaces_idle import (
    Probe,
    TimestampError,
    join_base,
    last_activity,
    lifecycle_problems,
    lifecycle_script,
    parse_rfc3339,
    probe_from_idle,
)

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "spaces"
CRDS = Path("/work/shared/reference/jupyter-k8s-crds")
API = "workspace.jupyter.org/v1alpha1"
SHARED = "jupyter-k8s-shared"


def tpl(name: str, namespace: str | None = SHARED, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": API, "kind": "WorkspaceTemplate", "metadata": meta,
            "spec": {"displayName": name, "defaultImage": "jk8s-application-jupyter-uv:latest", **spec}}


def ws(name: str, template: str | None = None, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"displayName": name, **spec}
    if template:
        body["templateRef"] = {"name": template, "namespace": SHARED}
    return {"apiVersion": API, "kind": "Workspace", "metadata": {"name": name, "namespace": namespace},
            "spec": body}


def judge(templates: list[dict[str, Any]], workspaces: list[dict[str, Any]],
          options: Options | None = None) -> dict[str, RuleResult]:
    return evaluate([document_from_data(t, index=i) for i, t in enumerate(templates)],
                    [document_from_data(w, index=i) for i, w in enumerate(workspaces)], options)


def outcomes(results: dict[str, RuleResult]) -> dict[str, str]:
    return {rule: r.outcome for rule, r in results.items()}


def failed(results: dict[str, RuleResult]) -> set[str]:
    return {rule for rule, r in results.items() if r.outcome == "failed"}


def files(*names: str) -> list[Document]:
    out: list[Document] = []
    for name in names:
        docs, errors = load_documents(DATA / name)
        assert not errors, errors
        out += docs
    return out


# -- the seed's examples -------------------------------------------------------------------------


def test_seed_custom_templates_are_consistent() -> None:
    results = evaluate(files("seed-jupyter-template.yaml", "seed-code-editor-template.yaml"), [])
    assert results["SP-TPL-SCHEMA"].outcome == "passed"
    assert results["SP-TPL-CONSISTENT"].outcome == "passed"
    assert results["SP-TPL-APPTYPE"].outcome == "passed"


def test_seed_idle_template_is_inconsistent_default_below_its_own_minimum() -> None:
    results = evaluate(files("seed-idle-template.yaml"), [])
    [violation] = results["SP-TPL-CONSISTENT"].violations
    assert violation.field == "spec.defaultIdleShutdown.idleTimeoutInMinutes"
    assert violation.value == "30" and "60" in violation.bound
    assert violation.where.endswith("seed-idle-template.yaml:12")  # the seed's idleShutdownTimeoutMinutes line
    assert "below idleShutdownOverrides.minIdleTimeoutInMinutes 60" in violation.message


def test_seed_inheriting_workspace_is_refused_override_at_the_minimum_is_accepted() -> None:
    templates = files("seed-idle-template.yaml")
    inherit = evaluate(templates, files("seed-inherit-workspace.yaml"))
    assert inherit["SP-TPL-INHERIT"].outcome == "passed"
    [violation] = inherit["SP-TPL-IDLE"].violations
    assert "outside the range [60, 240]" in violation.message and "inherited" in violation.message
    override = evaluate(templates, files("seed-override-workspace.yaml"))
    assert override["SP-TPL-IDLE"].outcome == "passed"  # 60 == min: inclusive


def test_seed_standalone_workspace_and_locked_template() -> None:
    results = evaluate(files("seed-locked-template.yaml"), files("seed-standalone-workspace.yaml"))
    assert failed(results) == set()
    assert [d.spelling for d in files("seed-locked-template.yaml", "seed-standalone-workspace.yaml")] == ["seed"] * 2


def test_locked_seed_template_refuses_any_override() -> None:
    templates = files("seed-locked-template.yaml")
    override = ws("w", "locked-template", idleShutdown={
        "enabled": True, "idleShutdownTimeoutMinutes": 45,
        "detection": {"httpGet": {"path": "/api/idle", "port": 8888}}})
    override["spec"]["templateRef"] = {"name": "locked-template"}
    results = evaluate(templates, [document_from_data(override)])
    assert "outside the range [30, 30]" in results["SP-TPL-IDLE"].violations[0].message


# -- reference §10.1: idle-shutdown enforcement ----------------------------------------------------


def idle(timeout: int = 30, enabled: bool = True, path: str = "/api/status", transport: str | None = "network",
         seed: bool = False) -> dict[str, Any]:
    http: dict[str, Any] = {"path": path, "port": 8888}
    if transport:
        http["transport"] = transport
    key = "idleShutdownTimeoutMinutes" if seed else "idleTimeoutInMinutes"
    return {"enabled": enabled, key: timeout, "detection": {"httpGet": http}}


RES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
IDLE_TEMPLATES = {
    "permissive": tpl("permissive-idle-template", defaultResources=RES, defaultIdleShutdown=idle()),
    "allow": tpl("allow-override-idle-template", defaultResources=RES, defaultIdleShutdown=idle(),
                 idleShutdownOverrides={"allow": True, "minIdleTimeoutInMinutes": 15, "maxIdleTimeoutInMinutes": 60}),
    "enforce": tpl("enforce-idle-template", defaultResources=RES, defaultIdleShutdown=idle(),
                   idleShutdownOverrides={"allow": False, "minIdleTimeoutInMinutes": 15,
                                          "maxIdleTimeoutInMinutes": 60}),
}


@pytest.mark.parametrize(("template", "verdict"), [
    (IDLE_TEMPLATES["permissive"], "passed"),
    (IDLE_TEMPLATES["allow"], "passed"),
    (IDLE_TEMPLATES["enforce"], "passed"),
    (tpl("invalid-locking", idleShutdownOverrides={"allow": False}), "failed"),
    (tpl("invalid-default-out-of-bounds", defaultIdleShutdown=idle(5),
         idleShutdownOverrides={"allow": True, "minIdleTimeoutInMinutes": 15, "maxIdleTimeoutInMinutes": 60}),
     "failed"),
])
def test_corpus_idle_templates(template: dict[str, Any], verdict: str) -> None:
    assert judge([template], [])["SP-TPL-CONSISTENT"].outcome == verdict


@pytest.mark.parametrize(("template", "idle_spec", "verdict", "message"), [
    ("permissive", idle(enabled=False), "passed", ""),
    ("allow", idle(999, enabled=False), "passed", ""),
    ("allow", idle(999, path="/custom/idle", transport="podExec"), "failed", "outside the range [15, 60]"),
    ("enforce", idle(45), "passed", ""),
    ("enforce", idle(120), "failed", "outside the range [15, 60]"),
    ("enforce", idle(30, enabled=False), "failed", "only idleTimeoutInMinutes may differ"),
    ("enforce", idle(30, path="/custom/idle", transport="podExec"), "failed", "only idleTimeoutInMinutes may differ"),
    ("enforce", idle(60), "passed", ""),  # at the max: inclusive
    ("enforce", idle(15), "passed", ""),  # at the min
    ("enforce", idle(14), "failed", "outside the range [15, 60]"),
    ("enforce", idle(61, seed=True), "failed", "outside the range [15, 60]"),
])
def test_corpus_idle_workspaces(template: str, idle_spec: dict[str, Any], verdict: str, message: str) -> None:
    template_doc = IDLE_TEMPLATES[template]
    results = judge([template_doc], [ws("w", template_doc["metadata"]["name"], idleShutdown=idle_spec)])
    assert results["SP-TPL-IDLE"].outcome == verdict
    if message:
        assert any(message in v.message for v in results["SP-TPL-IDLE"].violations)
    assert failed(results) <= {"SP-TPL-IDLE"}


def test_locked_port_spelling_is_strict() -> None:
    changed = idle(45)
    changed["detection"]["httpGet"]["port"] = "8888"
    results = judge([IDLE_TEMPLATES["enforce"]], [ws("w", "enforce-idle-template", idleShutdown=changed)])
    assert results["SP-TPL-IDLE"].outcome == "failed"


# -- reference §10.2: template-base and template-validation ----------------------------------------


BASE = tpl("base-template", allowedImages=["jk8s-application-jupyter-uv:latest"],
           defaultResources={"requests": {"cpu": "200m", "memory": "256Mi"},
                             "limits": {"cpu": "500m", "memory": "512Mi"}},
           resourceBounds={"resources": {"cpu": {"min": "100m", "max": "2"}, "memory": {"min": "128Mi", "max": "4Gi"},
                                         "nvidia.com/gpu": {"min": "0", "max": "1"}}},
           primaryStorage={"defaultSize": "1Gi", "minSize": "100Mi", "maxSize": "20Gi"}, appType="jupyterlab")


def test_corpus_base_template_and_inheriting_workspace() -> None:
    results = judge([BASE], [ws("valid-template-ref", "base-template")])
    assert failed(results) == set()
    inherited = results["SP-TPL-INHERIT"].passed[0]
    for name in ("image", "resources", "storage.size", "appType"):
        assert name in inherited


def test_corpus_unknown_template_ref_is_refused() -> None:
    results = judge([BASE], [ws("w", "non-existent-template")])
    assert failed(results) == {"SP-TPL-INHERIT"}
    assert "failed to get template non-existent-template" in results["SP-TPL-INHERIT"].violations[0].message


def test_corpus_rejected_image_reports_every_violation() -> None:
    w = ws("rejected-image", "base-template", image="tensorflow/tensorflow:latest-gpu-jupyter",
           resources={"requests": {"cpu": "4", "memory": "8Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},
           storage={"size": "50Gi"})
    results = judge([BASE], [w])
    assert failed(results) == {"SP-TPL-IMAGE", "SP-TPL-RESOURCES", "SP-TPL-STORAGE"}
    image = results["SP-TPL-IMAGE"].violations[0]
    assert image.message == ("Image 'tensorflow/tensorflow:latest-gpu-jupyter' is not allowed by template "
                             "'base-template'. Allowed images: ['jk8s-application-jupyter-uv:latest']")
    fields = {v.field for v in results["SP-TPL-RESOURCES"].violations}
    assert fields == {"spec.resources.requests.cpu", "spec.resources.limits.cpu", "spec.resources.requests.memory",
                      "spec.resources.limits.memory"}
    assert "Storage size 50Gi exceeds maximum 20Gi" in results["SP-TPL-STORAGE"].violations[0].message


def test_corpus_request_and_limit_bounds() -> None:
    over_requests = ws("req", "base-template", resources={"requests": {"cpu": "10", "memory": "16Gi",
                                                                       "nvidia.com/gpu": "4"}})
    over_limits = ws("lim", "base-template", resources={"requests": {"cpu": "1", "memory": "1Gi"},
                                                        "limits": {"cpu": "3", "memory": "1Gi"}})
    minima = ws("min", "base-template", resources={"requests": {"cpu": "100m", "memory": "128Mi"}},
                storage={"size": "100Mi"})
    assert len(judge([BASE], [over_requests])["SP-TPL-RESOURCES"].violations) == 3
    [lim] = judge([BASE], [over_limits])["SP-TPL-RESOURCES"].violations
    assert lim.field == "spec.resources.limits.cpu" and lim.message.startswith("cpu limit 3 exceeds maximum 2")
    assert failed(judge([BASE], [minima])) == set()


def test_limits_below_requests_use_the_operator_message() -> None:
    w = ws("w", "base-template", resources={"requests": {"cpu": "1", "memory": "1Gi"},
                                            "limits": {"cpu": "500m", "memory": "1Gi"}})
    [v] = judge([BASE], [w])["SP-TPL-RESOURCES"].violations
    assert v.message == "CPU limit must be greater than or equal to CPU request"


def test_quantities_compare_exactly() -> None:
    w = ws("w", "base-template", resources={"requests": {"cpu": "2000m", "memory": "4096Mi"},
                                            "limits": {"cpu": "2", "memory": "4Gi"}})
    assert judge([BASE], [w])["SP-TPL-RESOURCES"].outcome == "passed"
    w["spec"]["resources"]["requests"]["cpu"] = "2001m"
    w["spec"]["resources"]["limits"]["cpu"] = "2001m"
    assert judge([BASE], [w])["SP-TPL-RESOURCES"].outcome == "failed"


@pytest.mark.parametrize(("allowed", "custom", "image", "verdict"), [
    (["a:1", "b:1", "c:1"], False, "custom/unauthorized:latest", "failed"),
    (["a:1", "b:1", "c:1"], False, "b:1", "passed"),
    ([], False, "jk8s-application-jupyter-uv:latest", "passed"),  # the default is always allowed
    ([], True, "custom/unauthorized:latest", "passed"),
    (["a:1"], False, "a:1@sha256:" + "0" * 64, "failed"),  # exact string match
])
def test_image_policy(allowed: list[str], custom: bool, image: str, verdict: str) -> None:
    template = tpl("images", allowedImages=allowed, allowCustomImages=custom)
    if allowed:
        template["spec"]["defaultImage"] = allowed[0]
    assert judge([template], [ws("w", "images", image=image)])["SP-TPL-IMAGE"].outcome == verdict


def test_inconsistent_default_image_template() -> None:
    template = tpl("bad", allowedImages=["other:1"])
    [v] = judge([template], [])["SP-TPL-CONSISTENT"].violations
    assert "is not in allowedImages" in v.message and v.field == "spec.defaultImage"


def test_consistency_checks_storage_bounds_and_default_resources() -> None:
    bad = tpl("bad", primaryStorage={"defaultSize": "1Gi", "minSize": "2Gi", "maxSize": "1Gi"},
              resourceBounds={"resources": {"cpu": {"min": "2", "max": "1"}}},
              defaultResources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
              idleShutdownOverrides={"minIdleTimeoutInMinutes": 10, "maxIdleTimeoutInMinutes": 5})
    messages = [v.message for v in judge([bad], [])["SP-TPL-CONSISTENT"].violations]
    assert any("primaryStorage.minSize 2Gi is greater than primaryStorage.maxSize 1Gi" in m for m in messages)
    assert any("resourceBounds for 'cpu' has min 2 greater than max 1" in m for m in messages)
    assert any("minIdleTimeoutInMinutes 10 is greater than maxIdleTimeoutInMinutes 5" in m for m in messages)
    assert any("CPU limit must be greater than or equal to CPU request" in m for m in messages)
    assert any("defaultSize is below minSize" in m for m in messages)


# -- MIG and other extended resources (reference §14) ---------------------------------------------


MIG = tpl("mig", resourceBounds={"resources": {"nvidia.com/mig-1g.5gb": {"min": 0, "max": 2},
                                               "nvidia.com/mig-2g.10gb": {"min": 0, "max": 1}}})


@pytest.mark.parametrize(("requests", "fields"), [
    ({"nvidia.com/mig-1g.5gb": 1, "nvidia.com/mig-2g.10gb": 1}, set()),
    ({"nvidia.com/mig-1g.5gb": 3}, {"spec.resources.requests.nvidia.com/mig-1g.5gb"}),
    ({"nvidia.com/mig-1g.5gb": 2, "nvidia.com/mig-2g.10gb": 2}, {"spec.resources.requests.nvidia.com/mig-2g.10gb"}),
    ({"nvidia.com/mig-7g.80gb": 7}, set()),  # unbounded names are unlimited
])
def test_mig_profiles(requests: dict[str, int], fields: set[str]) -> None:
    results = judge([MIG], [ws("w", "mig", resources={"requests": requests})])
    assert {v.field for v in results["SP-TPL-RESOURCES"].violations} == fields
    if "nvidia.com/mig-1g.5gb" in requests and fields == {"spec.resources.requests.nvidia.com/mig-1g.5gb"}:
        assert "exceeds maximum" in results["SP-TPL-RESOURCES"].violations[0].message


def test_extended_resource_requests_above_limits_are_refused() -> None:
    w = ws("w", "mig", resources={"requests": {"nvidia.com/gpu": 2}, "limits": {"nvidia.com/gpu": 1}})
    assert judge([MIG], [w])["SP-TPL-RESOURCES"].outcome == "failed"


# -- storage, app type, memory, scope ------------------------------------------------------------------


STORAGE = tpl("storage-template", primaryStorage={"defaultSize": "1Gi", "minSize": "500Mi", "maxSize": "5Gi"})


@pytest.mark.parametrize(("size", "verdict"), [
    ("2Gi", "passed"), ("500Mi", "passed"), ("5Gi", "passed"), ("10Gi", "failed"), ("499Mi", "failed"),
    ("5121Mi", "failed"), (None, "passed"),
])
def test_storage_bounds(size: str | None, verdict: str) -> None:
    spec: dict[str, Any] = {"storage": {"size": size}} if size else {}
    assert judge([STORAGE], [ws("w", "storage-template", **spec)])["SP-TPL-STORAGE"].outcome == verdict


def test_secondary_volumes_refused_when_the_template_says_so() -> None:
    template = tpl("nosec", allowSecondaryStorages=False)
    w = ws("w", "nosec", volumes=[{"name": "data", "persistentVolumeClaimName": "pvc", "mountPath": "/data"}])
    [v] = judge([template], [w])["SP-TPL-STORAGE"].violations
    assert "does not allow secondary storage volumes, but workspace specifies 1 volume(s)" in v.message


@pytest.mark.parametrize(("app_type", "verdict"), [
    ("jupyterlab", "passed"), ("code-editor", "passed"), ("jupyter", "failed"), ("jupyter-lab", "failed"),
])
def test_app_type(app_type: str, verdict: str) -> None:
    assert judge([], [ws("w", appType=app_type)])["SP-TPL-APPTYPE"].outcome == verdict
    # inherited from the template: both the template and the workspace are reported
    results = judge([tpl("t", appType=app_type)], [ws("w", "t")])
    assert results["SP-TPL-APPTYPE"].outcome == verdict


@pytest.mark.parametrize(("memory", "selector", "verdict"), [
    ("8Gi", None, "passed"), ("8192Mi", None, "passed"), ("7Gi", None, "failed"), (None, None, "failed"),
    ("16Gi", {"node.kubernetes.io/instance-type": "ml.t3.medium"}, "failed"),
    ("16Gi", {"node.kubernetes.io/instance-type": "ml.m5.xlarge"}, "passed"),
])
def test_remote_access_memory(memory: str | None, selector: dict[str, str] | None, verdict: str) -> None:
    spec: dict[str, Any] = {}
    if memory:
        spec["resources"] = {"requests": {"memory": memory}}
    if selector:
        spec["nodeSelector"] = selector
    assert judge([], [ws("w", **spec)], Options(remote_access="true"))["SP-TPL-MEMORY"].outcome == verdict


def test_remote_access_is_a_cluster_setting_not_a_workspace_field() -> None:
    doc = document_from_data(ws("w", remoteAccess={"enabled": True}))
    assert any("unknown field 'remoteAccess'" in e.message for e in schema_errors(doc))


def test_memory_not_applicable_without_remote_access_unless_asked() -> None:
    w = ws("w", resources={"requests": {"memory": "4Gi"}})
    assert judge([], [w])["SP-TPL-MEMORY"].outcome == "not-applicable"
    assert judge([], [w], Options(remote_access="true"))["SP-TPL-MEMORY"].outcome == "failed"
    # the seed's custom template requests 4Gi: refused for remote access when asked
    results = evaluate(files("seed-jupyter-template.yaml"), [], Options(remote_access="true"))
    assert results["SP-TPL-MEMORY"].outcome == "failed"


def test_template_namespace_scope() -> None:
    w = ws("w", "base-template")
    w["spec"]["templateRef"]["namespace"] = "scope-team-b"
    results = judge([BASE], [w])
    assert "is not allowed: templates must be in the workspace namespace" in \
        results["SP-TPL-INHERIT"].violations[0].message


def test_default_template_by_label() -> None:
    labelled = copy.deepcopy(STORAGE)
    labelled["metadata"]["labels"] = {"workspace.jupyter.org/default-template": "true"}
    results = judge([labelled], [ws("w", storage={"size": "10Gi"})])
    assert results["SP-TPL-STORAGE"].outcome == "failed"


# -- compliance after a template change -----------------------------------------------------------


def test_compliance_after_template_change() -> None:
    v1 = tpl("t", allowedImages=["a:1", "b:1"], primaryStorage={"minSize": "1Gi", "maxSize": "50Gi"})
    v1["spec"]["defaultImage"] = "a:1"
    v2 = copy.deepcopy(v1)
    v2["spec"]["allowedImages"] = ["a:1"]
    v2["spec"]["primaryStorage"]["maxSize"] = "20Gi"
    w = ws("w", "t", image="b:1", storage={"size": "30Gi"})
    results = judge([v1, v2], [w, ws("fine", "t")])
    comp = results["SP-TPL-COMPLIANCE"]
    assert comp.outcome == "failed"
    assert {v.field for v in comp.violations} == {"spec.image", "spec.storage.size"}
    assert all(v.document.startswith("Workspace default/w ") for v in comp.violations)
    assert judge([v1, copy.deepcopy(v1)], [w])["SP-TPL-COMPLIANCE"].outcome == "passed"
    assert judge([v1], [w])["SP-TPL-COMPLIANCE"].outcome == "not-applicable"


def test_compliance_keeps_what_was_inherited_at_creation() -> None:
    v1 = tpl("t", primaryStorage={"defaultSize": "10Gi", "maxSize": "50Gi"})
    v2 = tpl("t", primaryStorage={"defaultSize": "5Gi", "maxSize": "8Gi"})
    results = judge([v1, v2], [ws("w", "t")])
    [v] = results["SP-TPL-COMPLIANCE"].violations
    assert v.field == "spec.storage.size" and v.value == "10Gi"


# -- schema with file:line -----------------------------------------------------------------------


def test_schema_errors_point_at_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: workspace.jupyter.org/v1alpha1\n"
        "kind: Workspace\n"
        "metadata:\n"
        "  name: w\n"
        "spec:\n"
        "  displayName: w\n"
        "  templateRef: jupyter-template\n"
        "  idleShutdown:\n"
        "    enabled: yes-please\n"
        "    idleTimeoutInMinutes: 30\n"
        "    detection: {}\n"
        "  resources:\n"
        "    requests:\n"
        "      cpu: 0.5\n"
        "  imagee: x\n"
        "---\n"
        "apiVersion: workspace.jupyter.org/v1\n"
        "kind: WorkspaceTemplate\n"
        "metadata: {name: t}\n"
        "spec:\n"
        "  defaultImage: x\n")
    docs, errors = load_documents(path)
    assert not errors and len(docs) == 2
    found = {(e.where, e.field) for doc in docs for e in schema_errors(doc)}
    assert (f"{path}:7", "spec.templateRef") in found
    assert (f"{path}:9", "spec.idleShutdown.enabled") in found
    assert (f"{path}:14", "spec.resources.requests.cpu") in found
    assert (f"{path}:15", "spec.imagee") in found
    assert (f"{path}:17", "apiVersion") in found
    assert (f"{path}:20", "spec") in found  # displayName missing on the template


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: Workspace\nspec:\n  displayName: [unclosed\n")
    docs, errors = load_documents(path)
    assert not docs and errors[0].where.startswith(f"{path}:")


def test_both_spellings_in_one_object_is_an_error() -> None:
    doc = document_from_data(ws("w", idleShutdown={**idle(30), "idleShutdownTimeoutMinutes": 30}))
    assert any("both idleShutdownTimeoutMinutes" in e.message for e in schema_errors(doc))


def test_old_operator_spelling_is_named() -> None:
    spec = idle(30)
    spec["timeoutMinutes"] = spec.pop("idleTimeoutInMinutes")
    doc = document_from_data(ws("w", idleShutdown=spec))
    assert any("old operator spelling" in e.message for e in schema_errors(doc))


def test_cel_rules() -> None:
    t = document_from_data(tpl("t", baseLabels=[{"key": "workspace.jupyter.org/x", "value": "y"}]))
    assert any(e.message == "baseLabels cannot use reserved prefix workspace.jupyter.org/" for e in schema_errors(t))
    w = document_from_data(ws("w", volumes=[{"name": "workspace-storage", "persistentVolumeClaimName": "p",
                                             "mountPath": "/x"}]))
    assert any(e.message == "volume name 'workspace-storage' is reserved" for e in schema_errors(w))


def test_workspace_without_display_name_is_well_formed() -> None:
    w = ws("w")
    del w["spec"]["displayName"]
    assert schema_errors(document_from_data(w)) == []  # the operator's defaulter serialises it as ""


# -- quantities ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("1", Decimal(1)), ("1000m", Decimal(1)), ("4Gi", Decimal(4 * 1024**3)), ("1e3", Decimal(1000)),
    ("500M", Decimal(500_000_000)), (".5", Decimal("0.5")), ("1.5Ki", Decimal(1536)), (3, Decimal(3)),
])
def test_parse_quantity(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1.2.3", "Gi", "1 Gi", "1GB", True, 0.5])
def test_parse_quantity_rejects(text: Any) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


QUANTITY_TEXT = st.builds(
    lambda n, frac, suffix: f"{n}{'.' + str(frac) if frac is not None else ''}{suffix}",
    st.integers(0, 10**6), st.one_of(st.none(), st.integers(0, 999)),
    st.sampled_from(["", "m", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti", "e3", "E-2"]))


@settings(deadline=None)
@given(QUANTITY_TEXT)
def test_quantity_agrees_with_kubernetes_client(text: str) -> None:
    from kubernetes.utils import parse_quantity as k8s_parse

    assert parse_quantity(text) == k8s_parse(text)


# -- properties (Hypothesis) ------------------------------------------------------------------------


MILLI = st.integers(1, 64_000)
SPELLING = st.booleans()


@st.composite
def consistent_template(draw: Any) -> dict[str, Any]:
    """A template with bounds that agree with each other and with its defaults."""
    cpu = sorted(draw(st.lists(MILLI, min_size=4, max_size=4)))  # min <= req <= lim <= max
    mem = sorted(draw(st.lists(st.integers(1, 64 * 1024), min_size=4, max_size=4)))
    size = sorted(draw(st.lists(st.integers(1, 1000), min_size=3, max_size=3)))
    timeout = sorted(draw(st.lists(st.integers(1, 1000), min_size=3, max_size=3)))
    allow = draw(st.booleans())
    images = draw(st.lists(st.sampled_from(["a:1", "b:1", "c:1"]), min_size=1, max_size=3, unique=True))
    spec = {
        "defaultImage": images[0], "allowedImages": images,
        "defaultResources": {"requests": {"cpu": f"{cpu[1]}m", "memory": f"{mem[1]}Mi"},
                             "limits": {"cpu": f"{cpu[2]}m", "memory": f"{mem[2]}Mi"}},
        "resourceBounds": {"resources": {"cpu": {"min": f"{cpu[0]}m", "max": f"{cpu[3]}m"},
                                         "memory": {"min": f"{mem[0]}Mi", "max": f"{mem[3]}Mi"}}},
        "primaryStorage": {"minSize": f"{size[0]}Gi", "defaultSize": f"{size[1]}Gi", "maxSize": f"{size[2]}Gi"},
        "defaultIdleShutdown": idle(timeout[1], path="/api/idle", transport=None),
        "idleShutdownOverrides": {"allow": allow, "minIdleTimeoutInMinutes": timeout[0],
                                  "maxIdleTimeoutInMinutes": timeout[2]},
        "appType": draw(st.sampled_from(["jupyterlab", "code-editor"])),
    }
    out = tpl("t", **spec)
    return seed_spelling(out) if draw(SPELLING) else out


WORKSPACE_RULES = {"SP-TPL-IMAGE", "SP-TPL-RESOURCES", "SP-TPL-STORAGE", "SP-TPL-IDLE", "SP-TPL-APPTYPE",
                   "SP-TPL-INHERIT"}


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(consistent_template(), st.booleans())
def test_defaults_workspace_is_accepted_by_a_consistent_template(template: dict[str, Any], explicit: bool) -> None:
    results = judge([template], [])
    assert results["SP-TPL-CONSISTENT"].outcome == "passed", results["SP-TPL-CONSISTENT"].violations
    assert results["SP-TPL-SCHEMA"].outcome == "passed"
    spec = template["spec"]
    body: dict[str, Any] = {}
    if explicit:  # the workspace writes the template's defaults out itself
        timeout_key = next(k for k in spec["defaultIdleShutdown"] if "Minutes" in k)
        body = {"image": spec["defaultImage"], "resources": copy.deepcopy(spec["defaultResources"]),
                "storage": {"size": spec["primaryStorage"]["defaultSize"]},
                "idleShutdown": copy.deepcopy(spec["defaultIdleShutdown"]), "appType": spec["appType"]}
        assert timeout_key in body["idleShutdown"]
    results = judge([template], [ws("w", "t", **body)])
    assert failed(results) == set(), [str(v) for r in results.values() for v in r.violations]


@st.composite
def template_and_workspace(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Values placed at, just inside and just outside the template's bounds."""
    def around(lo: int, hi: int) -> int:
        return int(draw(st.sampled_from([lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, draw(st.integers(lo, hi))])))

    cpu_lo, cpu_hi = sorted(draw(st.lists(st.integers(2, 8000), min_size=2, max_size=2)))
    size_lo, size_hi = sorted(draw(st.lists(st.integers(2, 500), min_size=2, max_size=2)))
    t_lo, t_hi = sorted(draw(st.lists(st.integers(2, 500), min_size=2, max_size=2)))
    gpu_hi = draw(st.integers(0, 4))
    seed = draw(SPELLING)
    template = tpl("t", resourceBounds={"resources": {"cpu": {"min": f"{cpu_lo}m", "max": f"{cpu_hi}m"},
                                                      "nvidia.com/gpu": {"min": 0, "max": gpu_hi}}},
                   primaryStorage={"minSize": f"{size_lo}Gi", "maxSize": f"{size_hi}Gi"},
                   defaultIdleShutdown=idle(t_lo, path="/api/idle", transport=None),
                   idleShutdownOverrides={"allow": True, "minIdleTimeoutInMinutes": t_lo,
                                          "maxIdleTimeoutInMinutes": t_hi})
    cpu = around(cpu_lo, cpu_hi)
    workspace = ws("w", "t", resources={"requests": {"cpu": f"{cpu}m", "nvidia.com/gpu": around(0, gpu_hi)},
                                        "limits": {"cpu": f"{cpu}m"}},
                   storage={"size": f"{around(size_lo, size_hi)}Gi"},
                   idleShutdown=idle(around(t_lo, t_hi), path="/api/idle", transport=None, seed=seed))
    if seed:
        template = seed_spelling(template)
    return template, workspace


def _inside(value: Any, lo: Any, hi: Any) -> bool:
    return bool(parse_quantity(lo) <= parse_quantity(value) <= parse_quantity(hi))


@settings(deadline=None, max_examples=150)
@given(template_and_workspace())
def test_verdicts_at_inside_and_outside_bounds(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    template, workspace = pair
    results = judge([template], [workspace])
    spec, wspec = template["spec"], workspace["spec"]
    bounds = spec["resourceBounds"]["resources"]
    cpu_ok = _inside(wspec["resources"]["requests"]["cpu"], bounds["cpu"]["min"], bounds["cpu"]["max"])
    gpu = wspec["resources"]["requests"]["nvidia.com/gpu"]
    gpu_ok = gpu >= 0 and _inside(gpu, 0, bounds["nvidia.com/gpu"]["max"])
    assume(gpu >= 0)
    assert (results["SP-TPL-RESOURCES"].outcome == "passed") == (cpu_ok and gpu_ok)
    size_ok = _inside(wspec["storage"]["size"], spec["primaryStorage"]["minSize"], spec["primaryStorage"]["maxSize"])
    assert (results["SP-TPL-STORAGE"].outcome == "passed") == size_ok
    over = spec["idleShutdownOverrides"]
    lo = over.get("minIdleTimeoutInMinutes", over.get("minTimeoutMinutes"))
    hi = over.get("maxIdleTimeoutInMinutes", over.get("maxTimeoutMinutes"))
    timeout = next(v for k, v in wspec["idleShutdown"].items() if k.endswith("Minutes"))
    assert (results["SP-TPL-IDLE"].outcome == "passed") == (lo <= timeout <= hi)


def _widen(template: dict[str, Any], how: int) -> dict[str, Any]:
    out = copy.deepcopy(template)
    spec = out["spec"]
    if how == 0:
        bound = spec["resourceBounds"]["resources"]["cpu"]
        bound["min"] = f"{int(str(bound['min'])[:-1]) - 1}m"
        bound["max"] = f"{int(str(bound['max'])[:-1]) + 1}m"
    elif how == 1:
        spec["primaryStorage"]["maxSize"] = f"{int(spec['primaryStorage']['maxSize'][:-2]) + 7}Gi"
        spec["primaryStorage"].pop("minSize")
    elif how == 2:
        over = spec["idleShutdownOverrides"]
        for key in ("maxIdleTimeoutInMinutes", "maxTimeoutMinutes"):
            if key in over:
                over[key] += 10
    elif how == 3:
        spec["resourceBounds"]["resources"]["nvidia.com/gpu"]["max"] = 8
    else:
        spec["allowCustomImages"] = True
    return out


@settings(deadline=None, max_examples=150)
@given(template_and_workspace(), st.integers(0, 4))
def test_widening_a_bound_never_turns_accept_into_refuse(pair: tuple[dict[str, Any], dict[str, Any]],
                                                         how: int) -> None:
    template, workspace = pair
    assume(int(str(template["spec"]["resourceBounds"]["resources"]["cpu"]["min"])[:-1]) > 1)
    before = failed(judge([template], [workspace]))
    after = failed(judge([_widen(template, how)], [workspace]))
    assert after <= before, (before, after)


@settings(deadline=None, max_examples=60)
@given(template_and_workspace())
def test_both_spellings_give_the_same_verdicts(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    template, workspace = pair
    operator = outcomes(judge([template], [workspace]))
    seeded = outcomes(judge([seed_spelling(template)], [seed_spelling(workspace)]))
    assert operator == seeded


# -- cross-check: the suite's schema against the operator's CRDs (test time only) ---------------------


def _crd_validator(kind: str) -> Any:
    from openapi_schema_validator import OAS30Validator

    name = {"WorkspaceTemplate": "workspacetemplates", "Workspace": "workspaces"}[kind]
    crd = yaml.safe_load((CRDS / f"workspace.jupyter.org_{name}.yaml").read_text())
    return OAS30Validator(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


@pytest.fixture(scope="module")
def crd_validators() -> dict[str, Any]:
    if not CRDS.is_dir():
        pytest.skip(f"the reference CRDs are not at {CRDS}")
    return {kind: _crd_validator(kind) for kind in ("WorkspaceTemplate", "Workspace")}


def _as_the_apiserver_sees_it(data: dict[str, Any]) -> dict[str, Any]:
    """The operator spelling, and the Workspace defaulter's displayName "" (reference §5)."""
    doc = document_from_data(data)
    out = copy.deepcopy(doc.data)
    if out.get("kind") == "Workspace" and isinstance(out.get("spec"), dict):
        out["spec"].setdefault("displayName", "")
    return out


QUANTITY_OR_JUNK = st.one_of(st.integers(0, 10**6), QUANTITY_TEXT, st.sampled_from(["1 Gi", "lots", "1GB", "-"]))
GENERATED_TEMPLATE_SPEC = st.fixed_dictionaries(
    {"defaultImage": st.sampled_from(["a:1", ""])},
    optional={
        "displayName": st.text(max_size=3),
        "allowedImages": st.lists(st.sampled_from(["a:1", "b:1"]), max_size=3),
        "allowCustomImages": st.booleans(),
        "resourceBounds": st.fixed_dictionaries({"resources": st.dictionaries(
            st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]),
            st.fixed_dictionaries({"min": QUANTITY_OR_JUNK, "max": QUANTITY_OR_JUNK}), max_size=2)}),
        "primaryStorage": st.fixed_dictionaries({}, optional={"minSize": QUANTITY_OR_JUNK,
                                                              "maxSize": QUANTITY_OR_JUNK}),
        "defaultIdleShutdown": st.fixed_dictionaries(
            {"enabled": st.booleans(), "detection": st.just({"httpGet": {"path": "/api/idle", "port": 8888}})},
            optional={"idleTimeoutInMinutes": st.integers(-2, 100),
                      "idleShutdownTimeoutMinutes": st.integers(-2, 100)}),
        "idleShutdownOverrides": st.fixed_dictionaries({}, optional={
            "allow": st.booleans(), "minIdleTimeoutInMinutes": st.integers(-5, 100),
            "minTimeoutMinutes": st.integers(-5, 100), "maxIdleTimeoutInMinutes": st.integers(-5, 100)}),
        "defaultOwnershipType": st.sampled_from(["Public", "OwnerOnly", "Private"]),
    })
GENERATED_WORKSPACE_SPEC: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries({}, optional={
    "displayName": st.text(max_size=3),
    "image": st.sampled_from(["a:1", "b:1"]),
    "templateRef": st.one_of(st.just({"name": "t"}), st.just("t"), st.just({"namespace": "x"})),
    "resources": st.fixed_dictionaries({}, optional={"requests": st.dictionaries(
        st.sampled_from(["cpu", "memory", "nvidia.com/mig-1g.5gb"]), QUANTITY_OR_JUNK, max_size=2)}),
    "storage": st.fixed_dictionaries({}, optional={"size": QUANTITY_OR_JUNK}),
    "idleShutdown": st.fixed_dictionaries(
        {"enabled": st.one_of(st.booleans(), st.just("yes")), "detection": st.just({})},
        optional={"idleTimeoutInMinutes": st.integers(-2, 100), "idleShutdownTimeoutMinutes": st.integers(0, 100)}),
    "desiredStatus": st.sampled_from(["Running", "Stopped", "Paused"]),
})


@settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.builds(lambda s: {"apiVersion": API, "kind": "WorkspaceTemplate", "metadata": {"name": "t"}, "spec": s},
              GENERATED_TEMPLATE_SPEC),
    st.builds(lambda s: {"apiVersion": API, "kind": "Workspace", "metadata": {"name": "w"}, "spec": s},
              GENERATED_WORKSPACE_SPEC)))
def test_schema_agrees_with_the_crds(crd_validators: dict[str, Any], data: dict[str, Any]) -> None:
    ours = schema_errors(document_from_data(data))
    assume(not any(e.message.startswith("both ") for e in ours))  # a conflict the CRD would prune, not refuse
    crd_errors = list(crd_validators[data["kind"]].iter_errors(_as_the_apiserver_sees_it(data)))
    assert (not ours) == (not crd_errors), ([str(e) for e in ours], [e.message for e in crd_errors])


# -- the idle endpoint contract and lifecycle scripts ------------------------------------------------


@pytest.mark.parametrize("text", [
    "2026-01-02T03:04:05.123456z", "2026-01-02T03:04:05Z", "2026-01-02t03:04:05.1+02:00",
    "2026-01-02T03:04:05.123456789Z",
])
def test_rfc3339_as_the_operator_parses_it(text: str) -> None:
    parsed = parse_rfc3339(text)
    assert parsed.year == 2026 and parsed.tzinfo is not None


@pytest.mark.parametrize("text", ["2026-01-02 03:04:05Z", "2026-01-02T03:04:05", "yesterday", "2026-13-02T03:04:05Z"])
def test_rfc3339_rejects(text: str) -> None:
    with pytest.raises(TimestampError):
        parse_rfc3339(text)


def test_last_activity_body_paths_and_formats() -> None:
    assert last_activity('{"lastActiveTimestamp": "2026-01-02T03:04:05.000001z"}', Probe()).microsecond == 1
    unix = Probe(body_path="status.last", format="unix")
    assert last_activity('{"status": {"last": 1767322800}}', unix).year == 2026
    assert last_activity('{"status": {"last": "1767322800.5"}}', unix).year == 2026
    for body in ("{}", "not json", '{"lastActiveTimestamp": ""}', '{"lastActiveTimestamp": 1767322800}'):
        with pytest.raises(TimestampError):
            last_activity(body, Probe())


def test_probe_from_documents_and_base_path() -> None:
    stamp = {"responseBodyPath": "last_activity"}
    probe = probe_from_idle({"detection": {"httpGet": {"path": "/api/status", "port": 8888,
                                                       "lastActivityTimestamp": stamp}}})
    assert (probe.path, probe.body_path, probe.format) == ("/api/status", "last_activity", "RFC3339")
    assert join_base("/", "/api/idle") == "/api/idle"
    assert join_base("/workspaces/ns/w/", "/api/idle") == "/workspaces/ns/w/api/idle"
    assert probe_from_idle(None) == Probe()


def test_lifecycle_script_limits() -> None:
    ok = lifecycle_script({"postStart": {"exec": {"command": ["/bin/bash", "-c", "echo hi"]}}}, "t")
    assert ok is not None and lifecycle_problems(ok) == []
    big = lifecycle_script({"postStart": {"exec": {"command": ["bash", "-c", "x" * 1025]}}}, "t")
    assert big is not None and any("1025 bytes" in p for p in lifecycle_problems(big))
    exact = lifecycle_script({"postStart": {"exec": {"command": ["bash", "-c", "x" * 1024]}}}, "t")
    assert exact is not None and lifecycle_problems(exact) == []
    sh = lifecycle_script({"postStart": {"exec": {"command": ["/bin/sh", "-c", "echo"]}}}, "t")
    assert sh is not None and any("not bash" in p for p in lifecycle_problems(sh))
    assert lifecycle_script({"preStop": {"exec": {"command": ["x"]}}}, "t") is None


def test_a_workspace_without_namespace_finds_its_template_anywhere() -> None:
    results = evaluate(files("seed-jupyter-template.yaml"), [document_from_data(
        {"apiVersion": API, "kind": "Workspace", "metadata": {"name": "w"},
         "spec": {"displayName": "w", "templateRef": {"name": "my-jupyter-template"}, "storage": {"size": "60Gi"}}})])
    assert results["SP-TPL-INHERIT"].outcome == "passed"
    assert "exceeds maximum 50Gi" in results["SP-TPL-STORAGE"].violations[0].message


JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-3, 10**4) | st.sampled_from(["", "1Gi", "x", "500m"]),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                           st.sampled_from(["name", "namespace", "min", "max", "cpu", "memory", "size", "enabled",
                                            "idleTimeoutInMinutes", "detection", "httpGet", "port", "path",
                                            "requests", "limits", "resources", "allow", "command", "postStart",
                                            "exec"]), inner, max_size=4), max_leaves=12)
SPEC_KEYS = ["templateRef", "image", "resources", "storage", "idleShutdown", "appType", "volumes", "lifecycle",
             "remoteAccess", "nodeSelector", "env", "defaultImage", "allowedImages", "resourceBounds",
             "primaryStorage", "defaultIdleShutdown", "idleShutdownOverrides", "defaultResources", "baseEnv",
             "allowCustomImages", "allowSecondaryStorages", "defaultVolumes", "baseLabels", "defaultLifecycle",
             "containerConfig", "podSecurityContext"]


@settings(deadline=None, max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(["WorkspaceTemplate", "Workspace"]),
                          st.dictionaries(st.sampled_from(SPEC_KEYS), JSONISH, max_size=5)), min_size=1, max_size=4))
def test_any_document_gets_a_verdict_never_a_crash(items: list[tuple[str, dict[str, Any]]]) -> None:
    docs = [document_from_data({"apiVersion": API, "kind": kind, "metadata": {"name": "t" if i % 2 else "n"},
                                "spec": spec}, index=i) for i, (kind, spec) in enumerate(items)]
    results = evaluate([d for d in docs if d.kind == "WorkspaceTemplate"], [d for d in docs if d.kind == "Workspace"],
                       Options(remote_access="true"))
    assert set(results) == set(RULES)
    from pytest_smconform.model.spaces_pod import all_lifecycles, pod_shape

    pod_shape([d for d in docs if d.kind == "WorkspaceTemplate"], [d for d in docs if d.kind == "Workspace"], SHARED)
    all_lifecycles([d for d in docs if d.kind == "WorkspaceTemplate"], [d for d in docs if d.kind == "Workspace"],
                   SHARED)


def test_apiserver_metadata_rules() -> None:
    unnamed = tpl("x")
    unnamed["metadata"] = {"labels": {"kueue.x-k8s.io/priority-class": "<user-input>-priority"}}
    messages = [e.message for e in schema_errors(document_from_data(unnamed))]
    assert "the object needs metadata.name" in messages
    assert any("is not a valid label value" in m for m in messages)  # the seed's placeholder, verbatim
    bad_name = ws("My_Workspace")
    assert any("is not a valid name" in e.message for e in schema_errors(document_from_data(bad_name)))
    good = tpl("t")
    good["metadata"]["labels"] = {"kueue.x-k8s.io/priority-class": "team-a-priority"}
    assert schema_errors(document_from_data(good)) == []


def test_an_existing_workspace_is_checked_against_the_current_template() -> None:
    stored = ws("w", "storage-template", storage={"size": "8Gi"}, desiredStatus="Stopped")
    stored["status"] = {"conditions": [{"type": "Stopped", "status": "True"}]}
    results = judge([STORAGE], [stored])
    [v] = results["SP-TPL-COMPLIANCE"].violations
    assert "refused on its restart" in v.message and v.field == "spec.storage.size"
    fine = copy.deepcopy(stored)
    fine["spec"]["storage"]["size"] = "2Gi"
    assert judge([STORAGE], [fine])["SP-TPL-COMPLIANCE"].outcome == "passed"
