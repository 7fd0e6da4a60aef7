"""spaces: WorkspaceTemplate / Workspace documents judged by the pure model (SP-TPL-*)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..model.spaces import Options, RuleResult, evaluate
from ..model.spaces_docs import Document, SchemaError, load_documents, schema_errors
from ..prewarm import PrewarmError, daemonset_yaml
from ..verdicts import Blocked, ContractViolation, NotApplicable
from . import check_kind, kind

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement

_LOCK = threading.Lock()
_RESULTS: dict[str, dict[str, RuleResult]] = {}  # run id -> rule -> result
MAX_DETAILS = 25


def documents(ctx: RunContext) -> tuple[list[Document], list[Document], list[SchemaError]]:
    """Templates (in the order given: a later one of the same name is an edit), workspaces, unreadable."""
    templates: list[Document] = []
    workspaces: list[Document] = []
    problems: list[SchemaError] = []
    for path in [*ctx.settings.templates, *ctx.settings.workspaces]:
        docs, errors = load_documents(path)
        problems.extend(errors)
        for doc in docs:
            if doc.kind == "WorkspaceTemplate":
                templates.append(doc)
            elif doc.kind == "Workspace":
                workspaces.append(doc)
            else:
                problems.extend(schema_errors(doc) or [SchemaError(doc.where(("kind",)), "kind",
                                                                   f"unexpected kind {doc.kind!r}")])
    return templates, workspaces, problems


def results(ctx: RunContext, params: dict[str, Any]) -> dict[str, RuleResult]:
    with _LOCK:
        if ctx.run_id not in _RESULTS:
            templates, workspaces, problems = documents(ctx)
            options = Options(remote_access=str(params.get("remote_access", "auto")).lower(),
                              shared_namespace=str(params.get("shared_namespace", "jupyter-k8s-shared")))
            _RESULTS[ctx.run_id] = evaluate(templates, workspaces, options, problems)
            ctx.report_sections["spaces_documents"] = [
                {"file": str(d.path), "document": d.index + 1, "kind": d.kind, "name": d.name,
                 "namespace": d.namespace, "idle_spelling": d.spelling,
                 "idle_spelling_note": _spelling_note(d.spelling)}
                for d in [*templates, *workspaces]]
        return _RESULTS[ctx.run_id]


def _spelling_note(spelling: str) -> str:
    return {
        "seed": "AWS page spelling (idleShutdownTimeoutMinutes/minTimeoutMinutes/maxTimeoutMinutes); "
                "the operator's CRD needs idleTimeoutInMinutes/minIdleTimeoutInMinutes/maxIdleTimeoutInMinutes",
        "operator": "operator spelling (idleTimeoutInMinutes/minIdleTimeoutInMinutes/maxIdleTimeoutInMinutes)",
        "mixed": "both spellings in one document",
        "none": "no idle-shutdown fields",
    }[spelling]


def prewarm_section(ctx: RunContext) -> None:
    """--smconform-prewarm=IMAGE,...: the seed's pre-warming DaemonSet for those images, in the report."""
    if not ctx.settings.prewarm or "prewarm_daemonset" in ctx.report_sections:
        return
    try:
        ctx.report_sections["prewarm_daemonset"] = {"images": list(ctx.settings.prewarm),
                                                    "yaml": daemonset_yaml(list(ctx.settings.prewarm))}
    except PrewarmError as exc:
        ctx.report_sections["prewarm_daemonset"] = {"images": list(ctx.settings.prewarm), "error": str(exc)}


@check_kind("spaces-documents")
def spaces_documents(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    prewarm_section(ctx)
    if not ctx.settings.templates and not ctx.settings.workspaces:
        raise NotApplicable("no documents given (--smconform-template=FILE, --smconform-workspace=FILE)")
    result = results(ctx, params)[str(params["rule"])]
    outcome = result.outcome
    if outcome == "failed":
        shown = [str(v) for v in result.violations[:MAX_DETAILS]]
        if len(result.violations) > MAX_DETAILS:
            shown.append(f"... and {len(result.violations) - MAX_DETAILS} more")
        first = result.violations[0]
        raise ContractViolation(
            expected=f"{first.field or 'the document'}: {first.bound}",
            observed=f"{len(result.violations)} violation(s) (listed below); first: {first.where}: "
                     + (f"{first.field} = {first.value}: " if first.field and first.value else
                        f"{first.field}: " if first.field else "") + first.message[:200],
            details=shown)
    if outcome == "not-applicable":
        raise NotApplicable(result.not_applicable or "nothing to check")
    if outcome == "blocked":
        raise Blocked("; ".join(result.blocked[:5]), blocked_by="SP-TPL-SCHEMA"
                      if any("SP-TPL-SCHEMA" in b for b in result.blocked) else None)
    note = f"; could not judge: {'; '.join(result.blocked[:3])}" if result.blocked else ""
    return f"{len(result.passed)} check(s) held: {'; '.join(result.passed[:4])}" + \
        (" ..." if len(result.passed) > 4 else "") + note


@check_kind("with-image")
def with_image(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    """An image rule in a profile whose image is optional: not applicable when no image is given."""
    prewarm_section(ctx)
    if ctx.settings.image is None:
        raise NotApplicable("no image given (documents-only run)")
    inner = dict(params)
    name = str(inner.pop("kind"))
    return kind(name)(ctx, req, inner)
