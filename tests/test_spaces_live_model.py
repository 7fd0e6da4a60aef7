"""The live mode's pure parts: translation to the operator's spelling, the model's verdict per layer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_smconform.live.compare import CRD, OPERATOR, cluster_verdict, model_verdict, seed_notes, to_operator
from pytest_smconform.model.spaces_docs import document_from_data, seed_spelling

pytestmark = pytest.mark.unit

API = "workspace.jupyter.org/v1alpha1"


def template(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "WorkspaceTemplate", "metadata": {"name": "t", "namespace": "shared"},
            "spec": {"displayName": "T", "defaultImage": "img:1", **spec}}


def workspace(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Workspace", "metadata": {"name": "w", "namespace": "team"},
            "spec": {"displayName": "W", **spec}}


class FakeApiException(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = json.dumps({"kind": "Status", "message": message})


def test_documents_are_sent_in_the_operators_spelling_in_the_sandbox_namespace() -> None:
    seed = seed_spelling(template(idleShutdownOverrides={"allow": True, "minIdleTimeoutInMinutes": 1,
                                                         "maxIdleTimeoutInMinutes": 9}))
    assert set(seed["spec"]["idleShutdownOverrides"]) == {"allow", "minTimeoutMinutes", "maxTimeoutMinutes"}
    sent = to_operator(document_from_data(seed), "smconform-live-x")
    assert sent["metadata"]["namespace"] == "smconform-live-x"
    assert set(sent["spec"]["idleShutdownOverrides"]) == {"allow", "minIdleTimeoutInMinutes",
                                                          "maxIdleTimeoutInMinutes"}
    stored = workspace(templateRef={"name": "t", "namespace": "shared"})
    stored["status"] = {"conditions": []}
    stored["metadata"]["resourceVersion"] = "12"
    sent = to_operator(document_from_data(stored), "smconform-live-x")
    assert "status" not in sent and "resourceVersion" not in sent["metadata"]
    assert sent["spec"]["templateRef"] == {"name": "t", "namespace": "smconform-live-x"}


def test_without_the_defaulter_a_missing_display_name_is_refused_by_the_crd() -> None:
    doc = document_from_data(workspace())
    del doc.data["spec"]["displayName"]
    assert not model_verdict(doc, [], CRD, "shared").admitted
    assert model_verdict(doc, [], OPERATOR, "shared").admitted  # the defaulter serialises it as ""


def test_the_operator_layer_adds_the_webhooks_template_rules() -> None:
    tpl = document_from_data(template(allowedImages=["img:1"]))
    ws = document_from_data(workspace(image="other:2", templateRef={"name": "t", "namespace": "shared"}))
    assert model_verdict(ws, [tpl], CRD, "shared").admitted
    verdict = model_verdict(ws, [tpl], OPERATOR, "shared")
    assert not verdict.admitted and "SP-TPL-IMAGE" in verdict.reasons[0]


def test_seed_rules_the_operator_does_not_enforce_are_noted() -> None:
    notes = seed_notes(document_from_data(workspace(appType="rstudio")))
    assert any("SP-TPL-APPTYPE" in n for n in notes)
    assert seed_notes(document_from_data(workspace(appType="jupyterlab"))) == []


def test_a_refusal_keeps_the_apiservers_message_and_other_errors_are_not_verdicts() -> None:
    refused = cluster_verdict(FakeApiException(422, 'Workspace "w" is invalid: spec.x: Invalid value'))
    assert not refused.admitted and refused.reasons == ['422: Workspace "w" is invalid: spec.x: Invalid value']
    assert cluster_verdict(None).admitted
    with pytest.raises(FakeApiException):
        cluster_verdict(FakeApiException(403, "forbidden"))


def test_discovery_without_any_configuration_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Any) -> None:
    from pytest_smconform.errors import UsageError
    from pytest_smconform.live.connect import load

    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(UsageError, match="no cluster configuration: give --smconform-kubeconfig=PATH"):
        load(None)
