"""Shared plumbing of the processing checks: scenarios from the spec, the run's jobs, root causes.

No check kinds here. A scenario is data in a spec (`with: {scenario: {...}}` on a requirement or
one of its cases); the profile's `outputs` parameter and the scenario's own keys make the request.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, UsageError
from ..hypothesis_guard import hypothesis_work
from ..model import processing as model
from ..platform.processing import ContainerRun, JobBook, JobResult, JobSettings, JobVariant, StopPlan, job_book
from ..verdicts import Blocked, ContractViolation
from . import prewarm_for

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement

EXIT_STATUS, MESSAGE_UTF8 = "PR-EXIT-STATUS", "PR-EXITMSG-UTF8"
_PREWARMED: set[str] = set()
_LOCK = threading.Lock()


def book(ctx: RunContext) -> JobBook:
    settings = JobSettings(
        image=ctx.image_ref,
        peer_delay=float(ctx.param("peer_delay")),
        max_runtime_cap=int(ctx.param("max_runtime")),
        memory=str(ctx.param("memory")),
        region=str(ctx.param("region")),
        stop_grace=float(ctx.param("stop_grace")),
    )
    return job_book(ctx, settings)


def scenario_request(ctx: RunContext, doc: Any) -> model.ProcessingJobRequest:
    """The request a scenario stands for: the profile's defaults under the scenario's own keys."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise UsageError(f"a scenario must be a mapping, got {type(doc).__name__}")
    merged = {"outputs": ctx.param("outputs"), "instance_type": ctx.param("instance_type"),
              "max_runtime_seconds": ctx.param("max_runtime"), **doc}
    try:
        return model.request_from_scenario(str(doc.get("name") or "default"), merged)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"scenario {doc.get('name')!r}: {exc}") from None


def declared_scenarios(ctx: RunContext) -> list[tuple[str, model.ProcessingJobRequest]]:
    """Every scenario the profile declares: (where it is declared, its request)."""
    out = []
    for req in ctx.profile.requirements:
        if "scenario" in req.params:
            out.append((req.id, scenario_request(ctx, req.params["scenario"])))
        for case in req.cases:
            if "scenario" in case.params:
                out.append((f"{req.id}[{case.name}]", scenario_request(ctx, case.params["scenario"])))
    return out


def request_problems(request: model.ProcessingJobRequest) -> tuple[str, list[str]] | None:
    """The first requirement a request breaks before anything runs, with its problems."""
    limits = model.request_limit_problems(request)
    if limits:
        return "PR-REQUEST-LIMITS", limits
    paths = model.io_path_problems(request)
    if paths:
        return "PR-IO-PATHS", paths
    return None


def stop_plan(ctx: RunContext, signal: str) -> StopPlan:
    return StopPlan(signal=signal, after=float(ctx.param("stop_after")), grace=float(ctx.param("stop_grace")))


def hold_request(ctx: RunContext) -> model.ProcessingJobRequest:
    hold = {str(k): str(v) for k, v in dict(ctx.param("hold_environment")).items()}
    return scenario_request(ctx, {"name": "hold", "environment": hold})


TRICKY_ENV = {"SMCONFORM_QUOTES": "it's \"quoted\" $HOME `id` \\n", "SMCONFORM_UNICODE": "ünï ✓ 日本",
              "SMCONFORM_EMPTY": "", "SMCONFORM_SPACES": "  two  spaces  ", "SMCONFORM_LINES": "a\nb"}
ENV_STOP = StopPlan(signal="SIGKILL", after=1.5, grace=0.0)  # observe PID 1, then end the job at once


def environment_examples(ctx: RunContext, examples: int) -> list[dict[str, str]]:
    """PR-ENVIRONMENT's Environment maps: a tricky explicit one, then Hypothesis's (seeded by the run)."""
    with hypothesis_work():  # drawn on the prewarm thread as well as the main one
        return _draw_environments(ctx, examples)


def _draw_environments(ctx: RunContext, examples: int) -> list[dict[str, str]]:
    # Imported when used: Hypothesis costs half a second, which must not delay the jobs' start.
    from hypothesis import HealthCheck, Phase, example, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    env_name = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z").filter(lambda k: k not in ("PATH", "HOME", "HOSTNAME"))
    env_value = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=24)
    base = hold_request(ctx).env
    drawn: list[dict[str, str]] = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @hypothesis_seed(ctx.settings.seed or 0)
    @example(env=TRICKY_ENV)
    @given(env=st.dictionaries(env_name, env_value, max_size=6))
    def draw(env: dict[str, str]) -> None:
        if len(drawn) <= examples:
            drawn.append({**base, **env})

    draw()
    return drawn


def environment_request(base: model.ProcessingJobRequest, env: dict[str, str]) -> model.ProcessingJobRequest:
    return replace(base, environment=tuple(sorted(env.items())))


@prewarm_for("processing-reserved-optml")
@prewarm_for("processing-default-run")
@prewarm_for("processing-job-status")
@prewarm_for("processing-config-files")
@prewarm_for("processing-io-paths")
@prewarm_for("processing-output-symlinks")
@prewarm_for("processing-hostnames")
@prewarm_for("processing-signals")
@prewarm_for("processing-environment")
@prewarm_for("processing-exit-message")
def prewarm_at_collection(ctx: RunContext, req: Requirement) -> None:
    """Start the run's jobs as soon as collection ends, beside pytest's own start-up (once per run)."""
    ctx.background(lambda: prewarm(ctx))


def prewarm(ctx: RunContext) -> None:
    """Start every declared scenario's job (and the stop jobs) once, concurrently, before checks ask."""
    with _LOCK:
        if ctx.run_id in _PREWARMED:
            return
        _PREWARMED.add(ctx.run_id)
    jobs = book(ctx)
    try:
        scenarios = declared_scenarios(ctx)
    except UsageError:
        return
    # The longest first (a multi-instance job waits out the peer delay): it is the run's critical path.
    for _, request in sorted(scenarios, key=lambda item: -len(item[1].hosts)):
        if request_problems(request) is None:
            jobs.submit(request)
    for signal in ctx.param("stop_signals"):
        jobs.submit(hold_request(ctx), stop=stop_plan(ctx, str(signal)))
    base = hold_request(ctx)
    for env in environment_examples(ctx, int(ctx.param("fuzz_examples"))):
        jobs.submit(environment_request(base, env), stop=ENV_STOP)


def run(ctx: RunContext, request: model.ProcessingJobRequest, variant: JobVariant | None = None,
        stop: StopPlan | None = None) -> JobResult:
    prewarm(ctx)
    job = book(ctx).job(request, variant or JobVariant(), stop)
    if job.error is not None:
        raise EngineError(f"the {request.name} job could not be run: {job.error}")
    return job


def diagnosis_variants(ctx: RunContext) -> list[tuple[str, JobVariant]]:
    """(requirement id, the platform without that requirement's condition), in spec order."""
    out = []
    for req in ctx.profile.requirements:
        spec = req.params.get("diagnose")
        if isinstance(spec, dict) and set(spec) <= {"optml", "hostnames", "config"}:
            out.append((req.id, JobVariant(**{str(k): str(v) for k, v in spec.items()})))
    return out


def root_cause(ctx: RunContext, request: model.ProcessingJobRequest) -> tuple[str | None, JobResult | None]:
    """For a job that fails: the requirement whose platform condition alone makes it fail, if any."""
    jobs = book(ctx)
    variants = diagnosis_variants(ctx)
    futures = [(rid, jobs.submit(request, variant)) for rid, variant in variants]
    for rid, future in futures:
        job = future.result()
        if job.completed:
            return rid, job
    return None, None


def require_completed(ctx: RunContext, req: Requirement, request: model.ProcessingJobRequest) -> JobResult:
    """The job, completed; otherwise Blocked by its root cause, or a violation when the cause is `req`."""
    job = run(ctx, request)
    if job.completed:
        return job
    if job.exit_message.client_error and all(code == 0 for code in job.exit_codes.values()):
        if req.id != MESSAGE_UTF8:
            raise Blocked(f"the {request.name} job fails with ClientError: {job.exit_message.client_error}",
                          blocked_by=MESSAGE_UTF8)
        return job
    culprit, fixed = root_cause(ctx, request)
    if culprit == req.id:
        assert fixed is not None
        raise ContractViolation(
            f"the {request.name} job completes as the platform runs it",
            f"{job.describe()}; it completes only with {fixed.variant.describe()}",
            details=job.log_details())
    if culprit is not None:
        raise Blocked(f"the {request.name} job fails as the platform runs it ({job.describe()[:160]}) and "
                      f"completes only with {JobVariant().describe() if fixed is None else fixed.variant.describe()}"
                      f"; root cause: {culprit}", blocked_by=culprit)
    raise Blocked(f"the {request.name} job fails ({job.describe()[:200]}) for a reason of its own; see {EXIT_STATUS}",
                  blocked_by=EXIT_STATUS)


def why_not_running(ctx: RunContext, req: Requirement, job: JobResult) -> Blocked:
    """A stop test's job ended before the stop: say why (the default job's root cause, or just that)."""
    default = scenario_request(ctx, {"name": "default"})
    try:
        require_completed(ctx, req, default)
    except Blocked as exc:
        return exc
    except ContractViolation as exc:
        return Blocked(f"the default job fails: {exc.observed}", blocked_by=req.id)
    run0 = job.containers[0] if job.containers else None
    code = run0.exit_code if run0 else None
    took = f" after {run0.ran_seconds:.1f} s" if run0 and run0.ran_seconds is not None else ""
    return Blocked(f"the job ended by itself (exit {code}{took}) before StopProcessingJob could be sent at "
                   f"{ctx.param('stop_after')} s: give it longer work (parameters hold_environment, stop_after)")


def first_started(job: JobResult, what: str) -> ContainerRun:
    """The job's first container, which must have started (else blocked by PR-DEFAULT-RUN)."""
    first = job.containers[0] if job.containers else None
    if first is None or first.start_error is not None or job.error is not None:
        raise Blocked(f"{what} did not start ({job.error or (first and first.start_error)})",
                      blocked_by="PR-DEFAULT-RUN")
    return first
