"""One document, two verdicts: the model's (what the suite predicts) and the cluster's (what admission said).

Two layers of admission can be compared:
- `crd`: the apiserver's CRD validation alone (OpenAPI schema, structural defaults, pruning with strict
  field validation, CEL rules, metadata rules): a control plane with the jupyter-k8s CRDs and no webhook.
- `operator`: that, plus the jupyter-k8s defaulting and validating webhooks (a cluster running the operator).
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model.spaces import (
    UNREADABLE,
    app_type_violation,
    idle_policy_violations,
    idle_spec_violations,
    judge_workspace,
    workspace_against,
)
from ..model.spaces_docs import Document, document_from_data, schema_errors
from .sandbox import Sandbox

CRD, OPERATOR = "crd", "operator"
# rules of the operator's validating webhook on main (reference jupyter-k8s.md §11, last column)
OPERATOR_RULES = ("SP-TPL-IMAGE", "SP-TPL-RESOURCES", "SP-TPL-STORAGE")
STRIPPED_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields",
                     "deletionTimestamp", "selfLink", "ownerReferences", "finalizers")


@dataclass
class Verdict:
    admitted: bool
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.admitted:
            return "admitted"
        return "refused: " + "; ".join(self.reasons[:6])


@dataclass
class Comparison:
    kind: str
    name: str
    sent: dict[str, Any]  # the document as sent (operator spelling, sandbox namespace)
    model: Verdict
    cluster: Verdict
    seed_notes: list[str] = field(default_factory=list)  # seed rules the operator does not enforce

    @property
    def agree(self) -> bool:
        return self.model.admitted == self.cluster.admitted

    def describe(self) -> str:
        text = (f"{self.kind} {self.name}: model {self.model}; cluster {self.cluster}\n"
                f"  document sent: {json.dumps(self.sent, sort_keys=True)}")
        return text + "".join(f"\n  seed: {note}" for note in self.seed_notes)


def to_operator(doc: Document, namespace: str) -> dict[str, Any]:
    """The document as sent: operator spelling (the seed's idle names renamed), in the sandbox namespace.

    Every namespace a document names (its own, templateRef's, accessStrategy's) becomes the sandbox:
    the documents are judged together, as if they all lived there.
    """
    data = copy.deepcopy(doc.data)  # already in the operator's spelling (see spaces_docs)
    data.pop("status", None)
    meta = data.get("metadata")
    if isinstance(meta, dict):
        for key in STRIPPED_METADATA:
            meta.pop(key, None)
        meta["namespace"] = namespace
    spec = data.get("spec")
    if isinstance(spec, dict):
        for key in ("templateRef", "accessStrategy", "defaultAccessStrategy"):
            ref = spec.get(key)
            if isinstance(ref, dict) and ref.get("namespace"):
                ref["namespace"] = namespace
    return data


def model_verdict(doc: Document, templates: list[Document], layer: str, shared_namespace: str) -> Verdict:
    """What the model predicts admission says about `doc` (already translated), at the given layer."""
    reasons = [f"{e.field}: {e.message}" if e.field else e.message for e in schema_errors(doc)]
    if layer == CRD and doc.kind == "Workspace" and "displayName" not in doc.spec and isinstance(
            doc.data.get("spec"), dict):
        # without the operator's defaulter nothing serialises displayName as "": the CRD's `required` holds
        reasons.append("spec.displayName: required by the CRD (no defaulting webhook fills it)")
    if layer == OPERATOR and doc.kind == "Workspace" and not reasons:
        reasons += _webhook_reasons(doc, templates, shared_namespace)
    return Verdict(admitted=not reasons, reasons=reasons)


def _webhook_reasons(ws: Document, templates: list[Document], shared_namespace: str) -> list[str]:
    try:
        judged = judge_workspace(ws, templates, shared_namespace)
    except UNREADABLE as exc:
        return [f"cannot default: {exc}"]
    if judged.resolution.problem:
        return [judged.resolution.problem]
    tpl = judged.resolution.template
    if tpl is None:
        return []
    out: list[str] = []
    for rule, found in workspace_against(ws, judged.effective, tpl).items():
        if rule in OPERATOR_RULES:
            out += [f"{rule}: {v.message}" for v in found]
    with contextlib.suppress(*UNREADABLE):
        out += [f"SP-TPL-IDLE: {v.message}" for v in idle_policy_violations(ws, judged.effective, tpl)]
    return out


def seed_notes(doc: Document) -> list[str]:
    """Rules the seed states and the operator does not enforce at admission (the suite follows the seed)."""
    notes: list[str] = []
    spec = doc.spec
    idle = spec.get("idleShutdown") if doc.kind == "Workspace" else spec.get("defaultIdleShutdown")
    try:
        notes += [f"SP-TPL-IDLE: {v.message}" for v in idle_spec_violations(doc, idle, ("spec", "idleShutdown"))]
        notes += [f"SP-TPL-APPTYPE: {v.message}" for v in app_type_violation(doc, spec.get("appType"),
                                                                              ("spec", "appType"))]
    except UNREADABLE:
        pass
    return notes


def cluster_verdict(exc: Exception | None) -> Verdict:
    """Admission's answer: None = created; an ApiException 4xx = refused with the apiserver's message."""
    if exc is None:
        return Verdict(admitted=True)
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    message = str(exc)
    try:
        parsed = json.loads(body) if body else {}
        message = str(parsed.get("message") or message)
    except (TypeError, ValueError):
        pass
    if not isinstance(status, int) or not 400 <= status < 500 or status in (401, 403, 404, 409, 429):
        raise exc  # not an admission verdict: the run cannot compare
    return Verdict(admitted=False, reasons=[f"{status}: {message}"])


def submit(sandbox: Sandbox, doc: Document, dry_run: bool) -> tuple[dict[str, Any], Verdict]:
    from kubernetes.client import ApiException

    assert sandbox.namespace is not None
    body = to_operator(doc, sandbox.namespace)
    try:
        sandbox.create(doc.kind, body, dry_run=dry_run)
    except ApiException as exc:
        return body, cluster_verdict(exc)
    return body, cluster_verdict(None)


def compare(sandbox: Sandbox, doc: Document, templates: list[Document], layer: str, dry_run: bool,
            shared_namespace: str) -> Comparison:
    """Send one document, judge the same translated document with the model, and pair the verdicts."""
    assert sandbox.namespace is not None
    body, answer = submit(sandbox, doc, dry_run)
    sent_doc = document_from_data(body, path=doc.path if doc.path != Path("<memory>") else None, index=doc.index)
    sent_templates = [document_from_data(to_operator(t, sandbox.namespace), index=t.index) for t in templates]
    predicted = model_verdict(sent_doc, sent_templates, layer, shared_namespace)
    return Comparison(kind=doc.kind, name=doc.name, sent=body, model=predicted, cluster=answer,
                      seed_notes=seed_notes(sent_doc))
