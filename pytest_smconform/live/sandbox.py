"""A throw-away namespace for one run, and the removal of everything in it, whatever happens."""

from __future__ import annotations

import os
from typing import Any

from ..engine.labels import HOST_LABEL, PID_LABEL, RUN_LABEL, host_identity
from .connect import Cluster, ClusterError

GROUP, VERSION = "workspace.jupyter.org", "v1alpha1"
PLURALS = {"WorkspaceTemplate": "workspacetemplates", "Workspace": "workspaces"}
PREFIX = "smconform-live-"


class Sandbox:
    """A labelled namespace; `close` deletes what the run created in it, then the namespace."""

    def __init__(self, cluster: Cluster, run_id: str) -> None:
        from kubernetes import client

        self.cluster = cluster
        self.run_id = run_id
        self._core = client.CoreV1Api(cluster.api)
        self._custom = client.CustomObjectsApi(cluster.api)
        self.namespace: str | None = None
        self.created: list[tuple[str, str]] = []  # (kind, name), in creation order

    def open(self) -> str:
        from kubernetes import client

        labels = {RUN_LABEL: self.run_id, PID_LABEL: str(os.getpid()), HOST_LABEL: host_identity()}
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": PREFIX, "labels": labels}}
        try:
            self.namespace = str(self._core.create_namespace(body).metadata.name)
        except client.ApiException as exc:
            raise ClusterError(f"cannot create a throw-away namespace on {self.cluster.server}: "
                               f"{exc.status} {exc.reason}") from None
        return self.namespace

    def create(self, kind: str, body: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        """Create one object in the namespace (raises kubernetes.client.ApiException on refusal)."""
        assert self.namespace is not None
        kwargs: dict[str, Any] = {"field_validation": "Strict"}
        if dry_run:
            kwargs["dry_run"] = "All"
        created: dict[str, Any] = self._custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], body, **kwargs)
        if not dry_run:
            self.created.append((kind, str(created["metadata"]["name"])))
        return created

    def replace(self, kind: str, name: str, body: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        assert self.namespace is not None
        kwargs: dict[str, Any] = {"field_validation": "Strict"}
        if dry_run:
            kwargs["dry_run"] = "All"
        replaced: dict[str, Any] = self._custom.replace_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], name, body, **kwargs)
        return replaced

    def get(self, kind: str, name: str) -> dict[str, Any]:
        assert self.namespace is not None
        found: dict[str, Any] = self._custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], name)
        return found

    @staticmethod
    def remaining_in(cluster: Cluster, namespace: str) -> list[tuple[str, str]]:
        """Objects of the two kinds still in a namespace and not being deleted."""
        from kubernetes import client

        custom = client.CustomObjectsApi(cluster.api)
        out = []
        for kind, plural in PLURALS.items():
            listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
            out += [(kind, str(item["metadata"]["name"])) for item in listed.get("items", [])
                    if not item["metadata"].get("deletionTimestamp")]
        return out

    def close(self) -> list[str]:
        """Delete workspaces, then templates, then the namespace; returns what could not be deleted."""
        if self.namespace is None:
            return []
        problems = delete_namespace_contents(self._custom, self.namespace)
        try:
            self._core.delete_namespace(self.namespace)
        except Exception as exc:  # the namespace may be gone already (404) or the cluster unreachable
            if getattr(exc, "status", None) != 404:
                problems.append(f"namespace {self.namespace}: {exc}")
        self.namespace = None
        return problems


def delete_namespace_contents(custom: Any, namespace: str) -> list[str]:
    problems = []
    for plural in ("workspaces", "workspacetemplates"):  # workspaces first: templates may be protected
        try:
            custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, plural)
        except Exception as exc:
            if getattr(exc, "status", None) != 404:
                problems.append(f"{plural} in {namespace}: {exc}")
    return problems


def sweep_stale(cluster: Cluster) -> list[str]:
    """Delete this host's throw-away namespaces whose run's process is gone (a run killed with SIGKILL)."""
    from kubernetes import client

    core, custom = client.CoreV1Api(cluster.api), client.CustomObjectsApi(cluster.api)
    swept = []
    try:
        listed = core.list_namespace(label_selector=f"{PID_LABEL},{HOST_LABEL}={host_identity()}")
    except client.ApiException:
        return []  # no right to list namespaces: nothing to sweep from here
    for ns in listed.items:
        pid = (ns.metadata.labels or {}).get(PID_LABEL, "")
        if ns.metadata.deletion_timestamp or not pid.isdigit() or _alive(int(pid)):
            continue
        delete_namespace_contents(custom, ns.metadata.name)
        try:
            core.delete_namespace(ns.metadata.name)
            swept.append(str(ns.metadata.name))
        except client.ApiException:
            pass
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
