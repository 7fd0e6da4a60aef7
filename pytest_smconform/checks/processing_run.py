"""Processing checks that run jobs: status, config files, inputs and outputs, host names, signals."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..model import processing as model
from ..platform.processing import JobResult
from ..verdicts import Blocked, ContractViolation
from . import check_kind
from .judge import fmt_list
from .processing_jobs import (
    EXIT_STATUS,
    MESSAGE_UTF8,
    book,
    declared_scenarios,
    first_started,
    hold_request,
    request_problems,
    require_completed,
    root_cause,
    run,
    scenario_request,
    stop_plan,
    why_not_running,
)

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement


@check_kind("processing-job-status")
def job_status(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    request = scenario_request(ctx, params.get("scenario"))
    broken = request_problems(request)
    if broken is not None:
        raise Blocked(f"scenario {request.name!r} is not a valid request: {broken[1][0]}", blocked_by=broken[0])
    job = run(ctx, request)
    want = request.expect_status
    shown = job.exit_message.text
    if job.timed_out and want != model.STOPPED:
        raise ContractViolation(f"the {request.name} job ends within MaxRuntimeInSeconds "
                                f"({job.request.max_runtime_seconds} s)", job.describe(), details=job.log_details())
    if job.status != want:
        if want == model.COMPLETED:
            _blame(ctx, req, request, job)
        raise ContractViolation(
            f"the {request.name} job is {want}" + (" (every container exits 0)" if want == model.COMPLETED else ""),
            job.describe(), details=job.log_details())
    pattern = request.expect_exit_message
    if pattern is not None and not re.search(pattern, shown or ""):
        raise ContractViolation(f"an ExitMessage matching {pattern!r}",
                                f"ExitMessage {model.mask_secrets(shown or '')!r}" if shown is not None
                                else "no container wrote /opt/ml/output/message", details=job.log_details())
    message = "no ExitMessage" if shown is None else f"ExitMessage {model.mask_secrets(shown)[:80]!r}"
    return f"{request.name}: {job.describe()} in {job.duration:.1f} s; {message}"


def _blame(ctx: RunContext, req: Requirement, request: model.ProcessingJobRequest, job: JobResult) -> None:
    """Expected Completed, got Failed: raise Blocked when another requirement's condition is the cause."""
    if job.exit_message.client_error and all(code == 0 for code in job.exit_codes.values()):
        raise Blocked(f"every container exited 0, but {job.exit_message.client_error}", blocked_by=MESSAGE_UTF8)
    if any(c.start_error for c in job.containers):
        raise Blocked(f"the container did not start: {job.containers[0].start_error}", blocked_by="PR-DEFAULT-RUN")
    culprit, fixed = root_cause(ctx, request)
    if culprit is not None and culprit != req.id and fixed is not None:
        raise Blocked(f"the {request.name} job fails as the platform runs it ({job.describe()[:160]}) and completes "
                      f"with {fixed.variant.describe()}; root cause: {culprit}", blocked_by=culprit)


@check_kind("processing-config-files")
def config_files(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    request = scenario_request(ctx, params.get("scenario"))
    job = run(ctx, request)
    problems = []
    hosts = request.hosts
    for container in job.containers:
        if not container.config_files:
            continue
        problems += [f"{container.host}: {p}" for p in model.config_shape_problems(
            container.config_files.get("processingjobconfig.json"), container.config_files.get("resourceconfig.json"),
            container.host, hosts)]
        problems += [f"{container.host}: {name} has mode {mode:o} (not readable by every user)"
                     for name, mode in container.config_modes.items() if not mode & 0o004]
    if problems:
        raise ContractViolation("both config files in the documented shape, readable by the container's user",
                                "; ".join(problems[:4]))
    note = "; the job completes with them"
    try:
        require_completed(ctx, req, request)
    except Blocked as exc:
        if exc.blocked_by not in (EXIT_STATUS, None):
            raise
        note = "; the job's failure does not depend on their shape"
    return f"processingjobconfig.json and resourceconfig.json in the documented shape{note}"


@check_kind("processing-io-paths")
def io_paths(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    scenarios = declared_scenarios(ctx)
    problems = [f"{where} ({request.name}): {p}" for where, request in scenarios
                for p in model.io_path_problems(request)]
    if problems:
        raise ContractViolation(f"every ProcessingInput/Output LocalPath below {model.LOCAL_PATH_PREFIX}",
                                "; ".join(problems[:4]), details=problems[4:20])
    request = scenario_request(ctx, params.get("scenario"))
    job = require_completed(ctx, req, request)
    undeclared = sorted({e.output[len(model.UNDECLARED):] for e, _ in job.outputs.lost
                         if e.output.startswith(model.UNDECLARED) and e.kind == "file"})
    if job.outputs.empty_outputs and undeclared:
        return (f"the job writes its results under {', '.join(undeclared)}, below {model.LOCAL_PATH_PREFIX} but "
                "not a ProcessingOutput of this run: declare it (parameter outputs) and it is uploaded")
    if job.outputs.empty_outputs:
        empty = [o for o in request.outputs if o.name in job.outputs.empty_outputs]
        elsewhere = sorted({p for c in job.containers for p in c.elsewhere})
        where = f"; it wrote {fmt_list(elsewhere, 6)} instead, which no output uploads" if elsewhere else ""
        raise ContractViolation(
            "the job writes its results under the output LocalPaths, from which they are uploaded",
            f"nothing under {', '.join(f'{o.name} ({o.local_path})' for o in empty)}{where}",
            fix="Read ProcessingOutputConfig.Outputs[].S3Output.LocalPath from /opt/ml/config/processingjobconfig.json "
                "(or use the paths you give in ProcessingOutput) and write there.", details=job.log_details())
    inputs = ", ".join(f"{i.local_path} ({len(i.files)} files)" for i in request.inputs) or "no inputs"
    return (f"inputs at {inputs}; {len(job.outputs.uploaded)} files uploaded from "
            f"{', '.join(o.local_path for o in request.outputs) or 'no outputs'}")


@check_kind("processing-output-symlinks")
def output_symlinks(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    request = scenario_request(ctx, params.get("scenario"))
    job = require_completed(ctx, req, request)
    links = [(entry, why) for entry, why in job.outputs.lost if entry.kind == "symlink"]
    if links:
        raise ContractViolation("output files that are regular files (symbolic links are not uploaded)",
                                f"{len(links)} lost: " + fmt_list([f"{e.path} -> {e.target}" for e, _ in links], 5),
                                fix="Copy the data into the output directory instead of linking to it "
                                    "(e.g. shutil.copy2, or os.replace of the real file).")
    return f"{len(job.outputs.uploaded)} output files, no symbolic links"


@check_kind("processing-hostnames")
def hostnames(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    require_completed(ctx, req, scenario_request(ctx, {"name": "default"}))
    request = scenario_request(ctx, params.get("scenario"))
    job = require_completed(ctx, req, request)
    names = ", ".join(f"{c.host} on {c.hostname}" for c in job.containers)
    return (f"{len(job.containers)} hosts ({names}) completed; names resolvable after "
            f"{ctx.param('peer_delay')} s")


@check_kind("processing-signals")
def stop_signals(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    signals = [str(s) for s in params.get("signals") or ctx.param("stop_signals")]
    jobs = book(ctx)
    request = hold_request(ctx)
    futures = [(sig, jobs.submit(request, stop=stop_plan(ctx, sig))) for sig in signals]
    done = []
    for sig, future in futures:
        job = future.result()
        first = first_started(job, "the stop job")
        if first.ended_before_stop or not first.signalled:
            raise why_not_running(ctx, req, job)
        pid1 = first.pid1.get("argv") or []
        if first.killed or first.exited_after_signal is None:
            table = first.pid1.get("processes") or []
            raise ContractViolation(
                f"PID 1 gets {sig} (StopProcessingJob) and the container ends within "
                f"{job.stop.grace if job.stop else '?'} s, before the SIGKILL",
                f"still running {first.exited_after_signal or 0:.1f} s after {sig}; SIGKILL ended it "
                f"(exit {first.exit_code}); PID 1 was `{' '.join(pid1)[:100]}`",
                fix=f"Handle {sig} in your program (Python: signal.signal(signal.{sig}, handler) that exits); "
                    "as PID 1 a signal with no handler is ignored.",
                details=[f"PID 1's handling at the stop: {first.pid1.get('signals') or 'not visible'}",
                         "processes at the stop:", *[f"  {row}" for row in table], *job.log_details()])
        done.append(f"{sig}: ended {first.exited_after_signal:.2f} s after (exit {first.exit_code})")
    return "; ".join(done)
