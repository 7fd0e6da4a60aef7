"""Hypothesis strategies for WorkspaceTemplate and Workspace documents, mostly valid, sometimes broken.

Each document is built from a plausible base; a few draws break one thing the CRD or the webhook
judges (a required field, a type, an enum, a quantity, a bound, a reserved name, an unknown field,
the seed's spelling), so the generated set lands on both sides of admission.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

API = "workspace.jupyter.org/v1alpha1"
IMAGES = ("jk8s-application-jupyter-uv:latest", "public.ecr.aws/sagemaker/sagemaker-distribution:3.2.0-cpu",
          "custom/unauthorized:latest")
TEMPLATE_NAMES = ("tpl-a", "tpl-b")

names = st.sampled_from(["ws-a", "ws-b", "w1", "team.ws", "Bad_Name", "x" * 64, "-lead"])
good_quantities = st.sampled_from(["100m", "250m", "1", "2", "0.5", "128Mi", "1Gi", "2Gi", "10Gi", "500Mi", "1e3",
                                   "8Gi", "0"]) | st.integers(min_value=0, max_value=64)
bad_quantities = st.sampled_from(["1GB", "abc", "", "1.2.3", " 1", "1 Gi", "Gi"])
quantities = st.one_of(good_quantities, good_quantities, good_quantities, bad_quantities)
minutes = st.one_of(st.integers(min_value=-2, max_value=200), st.sampled_from(["5", 1.5]))


@st.composite
def idle_spec(draw: st.DrawFn, seed_spelling: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        spec["enabled"] = draw(st.sampled_from([True, False, True, "yes"]))
    if draw(st.integers(0, 9)):
        key = "idleShutdownTimeoutMinutes" if seed_spelling else "idleTimeoutInMinutes"
        spec[key] = draw(minutes)
    if draw(st.integers(0, 9)):
        http: dict[str, Any] = {"path": draw(st.sampled_from(["/api/idle", "/api/status"]))}
        if draw(st.integers(0, 9)):
            http["port"] = draw(st.sampled_from([8888, "http", 0]))
        if draw(st.booleans()):
            http["scheme"] = draw(st.sampled_from(["HTTP", "HTTPS", "FTP"]))
        if draw(st.integers(0, 4)) == 0:
            http["transport"] = draw(st.sampled_from(["podExec", "network", "ssh"]))
        spec["detection"] = {"httpGet": http}
    return spec


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in ("requests", "limits"):
        if draw(st.booleans()):
            keys = draw(st.lists(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), min_size=1, max_size=3,
                                 unique=True))
            out[part] = {key: draw(quantities) for key in keys}
    return out


def _metadata(draw: st.DrawFn, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if draw(st.integers(0, 5)) == 0:
        meta["labels"] = {draw(st.sampled_from(["team", "env", "bad key!", "a/b/c"])):
                          draw(st.sampled_from(["ml", "prod", "not valid", "-x"]))}
    return meta


@st.composite
def templates(draw: st.DrawFn, name: str | None = None) -> dict[str, Any]:
    seed = draw(st.booleans())
    spec: dict[str, Any] = {}
    if draw(st.integers(0, 14)):
        spec["displayName"] = draw(st.sampled_from(["Team template", "", "x" * 101]))
    if draw(st.integers(0, 14)):
        spec["defaultImage"] = draw(st.sampled_from([*IMAGES, ""]))
    if draw(st.booleans()):
        spec["allowedImages"] = draw(st.lists(st.sampled_from(IMAGES), max_size=3, unique=True))
    if draw(st.integers(0, 3)) == 0:
        spec["allowCustomImages"] = draw(st.sampled_from([True, False, "true"]))
    if draw(st.booleans()):
        bounds: dict[str, Any] = {}
        for res in draw(st.lists(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), max_size=3, unique=True)):
            bound: dict[str, Any] = {"min": draw(quantities), "max": draw(quantities)}
            if draw(st.integers(0, 9)) == 0:
                bound.pop(draw(st.sampled_from(["min", "max"])))
            bounds[res] = bound
        spec["resourceBounds"] = {"resources": bounds}
    if draw(st.booleans()):
        storage = {key: draw(quantities) for key in draw(st.lists(
            st.sampled_from(["defaultSize", "minSize", "maxSize"]), max_size=3, unique=True))}
        spec["primaryStorage"] = storage
    if draw(st.booleans()):
        spec["defaultResources"] = draw(resources())
    if draw(st.booleans()):
        spec["defaultIdleShutdown"] = draw(idle_spec(seed))
    if draw(st.booleans()):
        over: dict[str, Any] = {}
        if draw(st.booleans()):
            over["allow"] = draw(st.sampled_from([True, False, "no"]))
        for side in ("min", "max"):
            if draw(st.booleans()):
                key = f"{side}TimeoutMinutes" if seed else f"{side}IdleTimeoutInMinutes"
                over[key] = draw(minutes)
        spec["idleShutdownOverrides"] = over
    if draw(st.integers(0, 3)) == 0:
        spec["appType"] = draw(st.sampled_from(["jupyterlab", "code-editor", "rstudio"]))
    if draw(st.integers(0, 4)) == 0:
        spec["baseLabels"] = [{"key": draw(st.sampled_from(["team", "workspace.jupyter.org/x", ""])),
                               "value": "ml"}]
    if draw(st.integers(0, 5)) == 0:
        spec["defaultOwnershipType"] = draw(st.sampled_from(["Public", "OwnerOnly", "Private"]))
    if draw(st.integers(0, 9)) == 0:
        spec[draw(st.sampled_from(["timeoutMinutes", "unknownField"]))] = 3
    doc: dict[str, Any] = {"apiVersion": API, "kind": "WorkspaceTemplate",
                           "metadata": _metadata(draw, name or draw(st.sampled_from(TEMPLATE_NAMES)))}
    if draw(st.integers(0, 19)):
        doc["spec"] = spec
    return doc


@st.composite
def workspaces(draw: st.DrawFn, template_names: tuple[str, ...] = TEMPLATE_NAMES) -> dict[str, Any]:
    seed = draw(st.booleans())
    spec: dict[str, Any] = {}
    if draw(st.integers(0, 7)):
        spec["displayName"] = draw(st.sampled_from(["My workspace", "", "ws"]))
    if draw(st.booleans()):
        spec["image"] = draw(st.sampled_from(IMAGES))
    if draw(st.booleans()):
        spec["resources"] = draw(resources())
    if draw(st.booleans()):
        spec["storage"] = {"size": draw(quantities)}
    if draw(st.booleans()):
        spec["idleShutdown"] = draw(idle_spec(seed))
    ref = draw(st.integers(0, 9))
    if ref >= 3 and template_names:
        spec["templateRef"] = {"name": draw(st.sampled_from(template_names))}
    elif ref == 1:
        spec["templateRef"] = draw(st.sampled_from(template_names or ("missing",)))  # the old string form
    if draw(st.integers(0, 4)) == 0:
        spec["desiredStatus"] = draw(st.sampled_from(["Running", "Stopped", "Paused"]))
    if draw(st.integers(0, 4)) == 0:
        spec["accessType"] = draw(st.sampled_from(["Public", "OwnerOnly", "Everyone"]))
    if draw(st.integers(0, 5)) == 0:
        spec["appType"] = draw(st.sampled_from(["jupyterlab", "code-editor", "vscode"]))
    if draw(st.integers(0, 5)) == 0:
        spec["volumes"] = [{"name": draw(st.sampled_from(["data", "workspace-storage"])),
                            "persistentVolumeClaimName": "pvc-data", "mountPath": "/data"}]
    if draw(st.integers(0, 9)) == 0:
        spec[draw(st.sampled_from(["idleShutdownTimeoutMinutes", "colour"]))] = 5
    doc: dict[str, Any] = {"apiVersion": API, "kind": "Workspace", "metadata": _metadata(draw, draw(names))}
    if draw(st.integers(0, 19)):
        doc["spec"] = spec
    return doc
