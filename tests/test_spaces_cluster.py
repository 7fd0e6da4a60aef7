"""The model held against a real kube-apiserver with the jupyter-k8s CRDs (.ci/cluster.sh), and the live mode.

The control plane has the operator's CRDs (schema, structural defaults, pruning, CEL rules) and no
webhook: the operator's Go module is not served by the module proxy reachable here. So the
differential tests compare the model's CRD layer (`compare.CRD`); the operator layer is compared
by the live mode on a cluster that runs the operator.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_smconform.engine.labels import PID_LABEL, RUN_LABEL
from pytest_smconform.live.compare import CRD, Comparison, compare
from pytest_smconform.live.connect import Cluster, load
from pytest_smconform.live.fuzz import templates, workspaces
from pytest_smconform.live.sandbox import Sandbox
from pytest_smconform.model.spaces_docs import Document, document_from_data, load_documents, seed_spelling

pytestmark = pytest.mark.cluster

DATA = Path(__file__).parent / "data" / "spaces"
SHARED = "jupyter-k8s-shared"
FUZZ_EXAMPLES = 60
VAP_IMAGE = "smconform-mutant/refused-by-policy:latest"  # only the SP-LIVE-AGREES mutant uses this image


@pytest.fixture(scope="module")
def cluster(cluster_kubeconfig: Path) -> Iterator[Cluster]:
    found = load(cluster_kubeconfig)
    yield found
    found.api.close()


@pytest.fixture(scope="module")
def sandbox(cluster: Cluster) -> Iterator[Sandbox]:
    box = Sandbox(cluster, f"tests-{os.getpid()}")
    box.open()
    yield box
    assert box.close() == []


def check(sandbox: Sandbox, doc: Document | dict[str, Any], templates_: list[Document] | None = None) -> Comparison:
    document = doc if isinstance(doc, Document) else document_from_data(doc)
    return compare(sandbox, document, templates_ or [], CRD, dry_run=True, shared_namespace=SHARED)


# -- the control plane -------------------------------------------------------------------------------------


def test_the_control_plane_serves_the_operator_crds(cluster: Cluster) -> None:
    from kubernetes import client

    assert cluster.version.startswith("v1.36."), cluster.version
    crd = client.ApiextensionsV1Api(cluster.api).read_custom_resource_definition("workspaces.workspace.jupyter.org")
    assert crd.metadata.annotations["controller-gen.kubebuilder.io/version"] == "v0.21.0"
    assert crd.spec.versions[0].name == "v1alpha1"


def test_a_seed_spelled_template_is_translated_before_it_is_sent(sandbox: Sandbox) -> None:
    operator = {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "WorkspaceTemplate",
                "metadata": {"name": "seed-spelled"},
                "spec": {"displayName": "Seed", "defaultImage": "img:1",
                         "defaultIdleShutdown": {"enabled": True, "idleTimeoutInMinutes": 30,
                                                 "detection": {"httpGet": {"path": "/api/idle", "port": 8888}}},
                         "idleShutdownOverrides": {"allow": True, "minIdleTimeoutInMinutes": 10,
                                                   "maxIdleTimeoutInMinutes": 60}}}
    seed = seed_spelling(operator)
    assert "minTimeoutMinutes" in seed["spec"]["idleShutdownOverrides"]
    item = compare(sandbox, document_from_data(seed), [], CRD, dry_run=False, shared_namespace=SHARED)
    assert item.agree and item.cluster.admitted, item.describe()
    stored = sandbox.get("WorkspaceTemplate", "seed-spelled")["spec"]
    assert stored["idleShutdownOverrides"] == {"allow": True, "minIdleTimeoutInMinutes": 10,
                                               "maxIdleTimeoutInMinutes": 60}
    assert stored["defaultIdleShutdown"]["idleTimeoutInMinutes"] == 30
    # the CRD's structural defaults were applied by the real apiserver
    assert stored["defaultIdleShutdown"]["detection"]["httpGet"]["transport"] == "podExec"


def test_a_refusal_carries_the_apiservers_message(sandbox: Sandbox) -> None:
    bad = {"apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Workspace", "metadata": {"name": "bad"},
           "spec": {"displayName": "x", "idleShutdown": {"enabled": True, "idleTimeoutInMinutes": 0,
                                                         "detection": {}}}}
    item = check(sandbox, bad)
    assert not item.cluster.admitted and not item.model.admitted, item.describe()
    assert "idleTimeoutInMinutes" in item.cluster.reasons[0] and "422" in item.cluster.reasons[0]


# -- differential: Hypothesis documents, the model against the apiserver ------------------------------------


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=st.one_of(templates(), workspaces()))
def test_fuzzed_documents_get_the_models_verdict(sandbox: Sandbox, doc: dict[str, Any]) -> None:
    item = check(sandbox, doc)
    assert item.agree, "the model and the apiserver disagree:\n" + item.describe()


@pytest.mark.parametrize("path", sorted(DATA.glob("*.yaml")), ids=lambda p: p.name)
def test_the_corpus_gets_the_models_verdict(sandbox: Sandbox, path: Path) -> None:
    docs, errors = load_documents(path)
    assert not errors
    disagreements = [item.describe() for item in (check(sandbox, d) for d in docs) if not item.agree]
    assert not disagreements, "\n".join(disagreements)


# -- the live mode ------------------------------------------------------------------------------------------


def live_args(kubeconfig: Path, *extra: str) -> list[str]:
    return [f"--smconform-template={DATA / 'good-templates.yaml'}",
            f"--smconform-workspace={DATA / 'good-workspaces.yaml'}",
            f"--smconform-kubeconfig={kubeconfig}", "--smconform-option=live_fuzz_examples=25",
            "--smconform-seed=6", "-k", "SP-LIVE-AGREES", *extra]


def namespace_left(cluster: Cluster, name: str) -> list[str]:
    """What remains of a throw-away namespace: its live objects, and the namespace unless it is being deleted."""
    from kubernetes import client

    left = [f"{kind} {obj}" for kind, obj in Sandbox.remaining_in(cluster, name)]
    try:
        ns = client.CoreV1Api(cluster.api).read_namespace(name)
    except client.ApiException as exc:
        assert exc.status == 404
        return left
    # no namespace controller runs here: a deleted namespace stays Terminating until the cluster stops
    return left if ns.metadata.deletion_timestamp else [*left, f"namespace {name}"]


def test_live_mode_agrees_and_leaves_nothing_behind(run_suite: Any, cluster_kubeconfig: Path,
                                                   cluster: Cluster) -> None:
    run = run_suite("spaces", None, *live_args(cluster_kubeconfig))
    assert run.outcome("SP-LIVE-AGREES") == "passed", run.result.stdout.str()[-4000:]
    live = run.report["spaces_live"]
    assert live["layer"] == "crd" and live["kubernetes"].startswith("v1.36.")
    assert live["compared"] >= 25 + 3  # 1 template, 2 workspaces given, fuzzed ones
    assert live["disagreements"] == []
    assert namespace_left(cluster, live["namespace"]) == []


def test_a_cluster_that_differs_from_the_model_fails_sp_live_agrees(run_suite: Any, cluster_kubeconfig: Path,
                                                                   cluster: Cluster, tmp_path: Path) -> None:
    """Mutant: an admission policy the model does not know refuses one workspace the model admits."""
    from kubernetes import client

    reg = client.AdmissionregistrationV1Api(cluster.api)
    name = f"smconform-mutant-{os.getpid()}"
    reg.create_validating_admission_policy({
        "metadata": {"name": name},
        "spec": {"failurePolicy": "Fail",
                 "matchConstraints": {"resourceRules": [{"apiGroups": ["workspace.jupyter.org"],
                                                         "apiVersions": ["*"], "operations": ["CREATE"],
                                                         "resources": ["workspaces"]}]},
                 "validations": [{"expression": f"!has(object.spec.image) || object.spec.image != '{VAP_IMAGE}'",
                                  "message": "refused by the mutant policy"}]}})
    reg.create_validating_admission_policy_binding({
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]}})
    workspace = tmp_path / "refused.yaml"
    workspace.write_text(yaml.safe_dump({
        "apiVersion": "workspace.jupyter.org/v1alpha1", "kind": "Workspace", "metadata": {"name": "refused"},
        "spec": {"displayName": "Refused by a policy", "image": VAP_IMAGE}}))
    try:
        _wait_for_policy(cluster, workspace)
        run = run_suite("spaces", None, f"--smconform-workspace={workspace}",
                        f"--smconform-kubeconfig={cluster_kubeconfig}", "--smconform-option=live_fuzz_examples=5",
                        "-k", "SP-LIVE-AGREES")
    finally:
        reg.delete_validating_admission_policy_binding(name)
        reg.delete_validating_admission_policy(name)
    assert run.outcome("SP-LIVE-AGREES") == "failed", run.result.stdout.str()[-4000:]
    out = run.result.stdout.str()
    assert "model admitted; cluster refused: 422" in out and "refused by the mutant policy" in out
    assert VAP_IMAGE in out  # the document sent is shown
    assert namespace_left(cluster, run.report["spaces_live"]["namespace"]) == []


def _wait_for_policy(cluster: Cluster, workspace: Path) -> None:
    """Policies take effect asynchronously: wait until a dry-run create is refused (an observed event)."""
    box = Sandbox(cluster, f"tests-policy-{os.getpid()}")
    box.open()
    try:
        doc = load_documents(workspace)[0][0]
        deadline = time.monotonic() + 60
        while check(box, doc).cluster.admitted:
            assert time.monotonic() < deadline, "the admission policy never took effect"
            time.sleep(0.2)
    finally:
        box.close()


def test_sigterm_during_a_live_run_deletes_the_namespace(cluster_kubeconfig: Path, cluster: Cluster,
                                                         pytester: pytest.Pytester) -> None:
    from kubernetes import client

    report = pytester.path / "report.json"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--smconform=spaces",
            f"--smconform-report={report}",
            *live_args(cluster_kubeconfig)[:-4], "--smconform-option=live_fuzz_examples=100000", "-k",
            "SP-LIVE-AGREES"]
    proc = subprocess.Popen(argv, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    core = client.CoreV1Api(cluster.api)
    try:
        namespace = None
        deadline = time.monotonic() + 120
        while namespace is None:  # wait until the run has created its namespace and a template in it
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "the live run never created its namespace"
            listed = core.list_namespace(label_selector=f"{PID_LABEL}={proc.pid}").items
            if listed and Sandbox.remaining_in(cluster, listed[0].metadata.name):
                namespace = str(listed[0].metadata.name)
            else:
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert namespace_left(cluster, namespace) == []
    labels = core.read_namespace(namespace).metadata.labels
    assert labels[RUN_LABEL] and labels[PID_LABEL] == str(proc.pid)


@pytest.mark.unit
def test_a_cluster_that_refuses_connections_is_a_clear_usage_error(pytester: pytest.Pytester,
                                                                   tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    result = pytester.runpytest_subprocess("--smconform=spaces", f"--smconform-kubeconfig={kubeconfig}",
                                           "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: smconform: cannot reach the cluster at https://127.0.0.1:{port}*"])
    assert "Traceback" not in result.stderr.str()
