"""Hypothesis strategies for WorkspaceTemplate and Workspace documents, on both sides of admission.

Half the documents are drawn `clean`: every value from a set the CRD accepts (required fields present),
so the accepting side is exercised. The other half may break anything the CRD or the webhook judges: a
required field, a type, an enum, a quantity, a bound, a reserved name, an unknown field, a label,
the old string templateRef. Either half may use the seed's spelling of the idle fields.
"""

from __future__ import annotations

from typing import Any, TypeVar

from hypothesis import strategies as st

API = "workspace.jupyter.org/v1alpha1"
IMAGES = ("jk8s-application-jupyter-uv:latest", "public.ecr.aws/sagemaker/sagemaker-distribution:3.2.0-cpu",
          "custom/unauthorized:latest")
TEMPLATE_NAMES = ("tpl-a", "tpl-b")
T = TypeVar("T")

GOOD_QUANTITIES = st.sampled_from(["100m", "250m", "1", "2", "0.5", "128Mi", "1Gi", "2Gi", "10Gi", "500Mi", "1e3",
                                   "8Gi", "0"]) | st.integers(min_value=0, max_value=64)
BAD_QUANTITIES = st.sampled_from(["1GB", "abc", "", "1.2.3", " 1", "1 Gi", "Gi"])


class Draw:
    """A draw function that knows whether this document may be broken."""

    def __init__(self, draw: st.DrawFn, clean: bool) -> None:
        self.draw, self.clean = draw, clean

    def __call__(self, strategy: st.SearchStrategy[T]) -> T:
        return self.draw(strategy)

    def pick(self, good: list[Any], bad: list[Any]) -> Any:
        return self.draw(st.sampled_from(good if self.clean else good + bad))

    def breaks(self, one_in: int) -> bool:
        """True about once in `one_in` draws of a document that may be broken; never for a clean one."""
        return not self.clean and self.draw(st.integers(0, one_in - 1)) == 0

    def quantity(self) -> Any:
        return self.draw(GOOD_QUANTITIES if self.clean or self.draw(st.integers(0, 3)) else BAD_QUANTITIES)

    def minutes(self) -> Any:
        if self.clean:
            return self.draw(st.integers(min_value=1, max_value=200))
        return self.draw(st.one_of(st.integers(min_value=-2, max_value=200), st.sampled_from(["5", 1.5])))


def idle_spec(d: Draw, seed_spelling: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if not d.breaks(10):
        spec["enabled"] = d.pick([True, False, True], ["yes"])
    if not d.breaks(10):
        spec["idleShutdownTimeoutMinutes" if seed_spelling else "idleTimeoutInMinutes"] = d.minutes()
    if not d.breaks(10):
        http: dict[str, Any] = {"path": d.pick(["/api/idle", "/api/status"], [])}
        if not d.breaks(10):
            http["port"] = d.pick([8888, "http", 0], [])
        if d(st.booleans()):
            http["scheme"] = d.pick(["HTTP", "HTTPS"], ["FTP"])
        if d(st.integers(0, 4)) == 0:
            http["transport"] = d.pick(["podExec", "network"], ["ssh"])
        spec["detection"] = {"httpGet": http}
    return spec


def resources(d: Draw) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in ("requests", "limits"):
        if d(st.booleans()):
            keys = d(st.lists(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), min_size=1, max_size=3,
                              unique=True))
            out[part] = {key: d.quantity() for key in keys}
    return out


def metadata(d: Draw, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if d(st.integers(0, 5)) == 0:
        meta["labels"] = {d.pick(["team", "env"], ["bad key!", "a/b/c"]): d.pick(["ml", "prod"], ["not valid", "-x"])}
    return meta


@st.composite
def templates(draw: st.DrawFn, name: str | None = None) -> dict[str, Any]:
    d = Draw(draw, clean=draw(st.booleans()))
    seed = d(st.booleans())
    spec: dict[str, Any] = {}
    if not d.breaks(15):
        spec["displayName"] = d.pick(["Team template"], ["", "x" * 101])
    if not d.breaks(15):
        spec["defaultImage"] = d.pick(list(IMAGES), [""])
    if d(st.booleans()):
        spec["allowedImages"] = d(st.lists(st.sampled_from(IMAGES), max_size=3, unique=True))
    if d(st.integers(0, 3)) == 0:
        spec["allowCustomImages"] = d.pick([True, False], ["true"])
    if d(st.booleans()):
        bounds: dict[str, Any] = {}
        for res in d(st.lists(st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), max_size=3, unique=True)):
            bound: dict[str, Any] = {"min": d.quantity(), "max": d.quantity()}
            if d.breaks(10):
                bound.pop(d(st.sampled_from(["min", "max"])))
            bounds[res] = bound
        spec["resourceBounds"] = {"resources": bounds}
    if d(st.booleans()):
        spec["primaryStorage"] = {key: d.quantity() for key in d(st.lists(
            st.sampled_from(["defaultSize", "minSize", "maxSize"]), max_size=3, unique=True))}
    if d(st.booleans()):
        spec["defaultResources"] = resources(d)
    if d(st.booleans()):
        spec["defaultIdleShutdown"] = idle_spec(d, seed)
    if d(st.booleans()):
        over: dict[str, Any] = {}
        if d(st.booleans()):
            over["allow"] = d.pick([True, False], ["no"])
        for side in ("min", "max"):
            if d(st.booleans()):
                over[f"{side}TimeoutMinutes" if seed else f"{side}IdleTimeoutInMinutes"] = d.minutes()
        spec["idleShutdownOverrides"] = over
    if d(st.integers(0, 3)) == 0:
        spec["appType"] = d.pick(["jupyterlab", "code-editor", "rstudio"], [])
    if d(st.integers(0, 4)) == 0:
        spec["baseLabels"] = [{"key": d.pick(["team"], ["workspace.jupyter.org/x", ""]), "value": "ml"}]
    if d(st.integers(0, 5)) == 0:
        spec["defaultOwnershipType"] = d.pick(["Public", "OwnerOnly"], ["Private"])
    if d.breaks(10):
        spec[d(st.sampled_from(["timeoutMinutes", "unknownField"]))] = 3
    doc: dict[str, Any] = {"apiVersion": API, "kind": "WorkspaceTemplate",
                           "metadata": metadata(d, name or d(st.sampled_from(TEMPLATE_NAMES)))}
    if d(st.integers(0, 19)):
        doc["spec"] = spec
    return doc


@st.composite
def workspaces(draw: st.DrawFn, template_names: tuple[str, ...] = TEMPLATE_NAMES) -> dict[str, Any]:
    d = Draw(draw, clean=draw(st.booleans()))
    seed = d(st.booleans())
    spec: dict[str, Any] = {}
    if not d.breaks(8):
        spec["displayName"] = d.pick(["My workspace", "", "ws"], [])
    if d(st.booleans()):
        spec["image"] = d(st.sampled_from(IMAGES))
    if d(st.booleans()):
        spec["resources"] = resources(d)
    if d(st.booleans()):
        spec["storage"] = {"size": d.quantity()}
    if d(st.booleans()):
        spec["idleShutdown"] = idle_spec(d, seed)
    if template_names and d(st.integers(0, 9)) >= 3:
        spec["templateRef"] = {"name": d(st.sampled_from(template_names))}
    elif d.breaks(5):
        spec["templateRef"] = d(st.sampled_from(template_names or ("missing",)))  # the old string form
    if d(st.integers(0, 4)) == 0:
        spec["desiredStatus"] = d.pick(["Running", "Stopped"], ["Paused"])
    if d(st.integers(0, 4)) == 0:
        spec["accessType"] = d.pick(["Public", "OwnerOnly"], ["Everyone"])
    if d(st.integers(0, 5)) == 0:
        spec["appType"] = d.pick(["jupyterlab", "code-editor", "vscode"], [])
    if d(st.integers(0, 5)) == 0:
        spec["volumes"] = [{"name": d.pick(["data"], ["workspace-storage"]),
                            "persistentVolumeClaimName": "pvc-data", "mountPath": "/data"}]
    if d.breaks(10):
        spec[d(st.sampled_from(["idleShutdownTimeoutMinutes", "colour"]))] = 5
    name = d.pick(["ws-a", "ws-b", "w1", "team.ws", "x" * 63], ["Bad_Name", "-lead", "x" * 254])
    doc: dict[str, Any] = {"apiVersion": API, "kind": "Workspace", "metadata": metadata(d, name)}
    if not d.breaks(20):
        doc["spec"] = spec
    return doc
