"""Processing checks on /opt/ml/output/message: UTF-8, the 1 KB ExitMessage, no credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model import processing as model
from ..platform.processing import JobResult
from ..verdicts import ContractViolation
from . import check_kind
from .processing_jobs import book, declared_scenarios, request_problems, run

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement


def observed_jobs(ctx: RunContext) -> list[JobResult]:
    """Every declared scenario's job (run if needed), then whatever else the run has finished."""
    seen: list[JobResult] = []
    for _, request in declared_scenarios(ctx):
        if request_problems(request) is None:
            job = run(ctx, request)
            if not any(j is job for j in seen):
                seen.append(job)
    seen += [job for job in book(ctx).finished() if not any(j is job for j in seen)]
    return seen


def _messages(jobs: list[JobResult]) -> list[tuple[JobResult, str, bytes]]:
    return [(job, c.host, c.message) for job in jobs for c in job.containers if c.message is not None]


@check_kind("processing-exit-message")
def exit_message(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    aspect = str(params["aspect"])
    jobs = observed_jobs(ctx)
    messages = _messages(jobs)
    if not messages:
        return f"no container wrote /opt/ml/output/message in {len(jobs)} jobs"
    return {"utf8": _utf8, "truncate": _truncate, "secrets": _secrets}[aspect](jobs, messages)


def _utf8(jobs: list[JobResult], messages: list[tuple[JobResult, str, bytes]]) -> str:
    bad = [f"{job.request.name}/{host}: {model.utf8_error(data)}" for job, host, data in messages
           if model.utf8_error(data) is not None]
    if bad:
        raise ContractViolation(
            "/opt/ml/output/message in UTF-8 (otherwise the job fails with ClientError)",
            f"not UTF-8 in {len(bad)} of {len(messages)} messages: {'; '.join(bad[:3])}",
            fix="Open the file with encoding='utf-8' (Python: open(path, 'w', encoding='utf-8')).")
    return f"{len(messages)} messages in {len(jobs)} jobs, all UTF-8"


def _truncate(jobs: list[JobResult], messages: list[tuple[JobResult, str, bytes]]) -> str:
    cut = [job for job in jobs if job.exit_message.dropped_bytes > 0]
    if cut:
        job = cut[0]
        shown = model.mask_secrets(job.exit_message.text or "")
        raise ContractViolation(
            f"messages that fit the ExitMessage ({model.EXIT_MESSAGE_MAX_BYTES} bytes, all containers together)",
            f"the {job.request.name} job's messages total {job.exit_message.total_bytes} bytes; "
            f"{job.exit_message.dropped_bytes} are dropped",
            fix="Keep /opt/ml/output/message short (a one-line reason); put details in the logs or an output.",
            details=[*job.exit_message.warnings, f"ExitMessage as shown: {shown[-200:]!r} (last 200 characters)"])
    longest = max(job.exit_message.total_bytes for job in jobs)
    return f"{len(messages)} messages, the longest ExitMessage {longest} bytes (at most {model.EXIT_MESSAGE_MAX_BYTES})"


def _secrets(jobs: list[JobResult], messages: list[tuple[JobResult, str, bytes]]) -> str:
    found = []
    for job, host, data in messages:
        text = data.decode("utf-8", "replace")
        kinds = sorted({f.kind for f in model.find_secrets(text)})
        if kinds:
            found.append((job, host, kinds, model.mask_secrets(text)))
    if found:
        job, host, kinds, masked = found[0]
        raise ContractViolation(
            "no credentials in /opt/ml/output/message (DescribeProcessingJob shows it to anyone who can read the job)",
            f"{', '.join(kinds)} in {job.request.name}/{host}'s message: {masked[:160]!r}",
            fix="Never write credentials or keys to the message; report that a credential failed, not its value.",
            details=[f"{j.request.name}/{h}: {', '.join(k)}" for j, h, k, _ in found[1:6]])
    return f"{len(messages)} messages, no credentials found"
