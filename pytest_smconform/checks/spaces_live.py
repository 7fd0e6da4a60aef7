"""SP-LIVE-AGREES: the documents (and fuzzed workspaces) sent to a real cluster, verdicts held against the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..live.compare import CRD
from ..live.connect import load
from ..live.run import LiveResult, run_live
from ..live.sandbox import Sandbox, sweep_stale
from ..verdicts import ContractViolation, NotApplicable
from . import check_kind
from .spaces_docs import MAX_DETAILS, documents, prewarm_section

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement


@check_kind("spaces-live")
def spaces_live(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    prewarm_section(ctx)
    if not ctx.settings.live:
        raise NotApplicable("no cluster given (--smconform-kubeconfig=PATH, or =auto for KUBECONFIG / in-cluster)")
    templates, workspaces, _ = documents(ctx)
    cluster = load(ctx.settings.kubeconfig)
    sweep_stale(cluster)
    sandbox = Sandbox(cluster, ctx.run_id)
    ctx.add_cleanup(sandbox.close)  # Ctrl-C and SIGTERM close the run context, which deletes the sandbox
    try:
        result = run_live(cluster, sandbox, templates, workspaces, fuzzed=int(params.get("fuzz_examples", 50)),
                          seed=ctx.settings.seed, shared_namespace=str(params.get("shared_namespace", "")))
        result.cleanup_problems = sandbox.close()
    finally:
        sandbox.close()
        cluster.api.close()
    ctx.report_sections["spaces_live"] = result.report()
    return _verdict(result)


def _verdict(result: LiveResult) -> str:
    where = (f"{result.server} (Kubernetes {result.version}; {result.admission.describe()}; "
             f"throw-away namespace {result.namespace}, deleted)")
    bad = result.disagreements
    if bad:
        shown = [c.describe() for c in ([result.shrunk] if result.shrunk else []) + bad][:MAX_DETAILS]
        first = result.shrunk or bad[0]
        raise ContractViolation(
            expected=f"the cluster's admission verdicts equal the model's on {where}",
            observed=f"{len(bad)} of {len(result.comparisons)} document(s) disagree; first: {first.kind} "
                     f"{first.name}: model {first.model}, cluster {first.cluster}",
            details=shown)
    scope = "CRD schema and CEL rules only" if result.admission.layer == CRD else "CRD and operator webhooks"
    return (f"{len(result.comparisons)} document(s) got the model's verdict from {where}; compared: {scope}"
            + (f"; cleanup problems: {result.cleanup_problems}" if result.cleanup_problems else ""))
