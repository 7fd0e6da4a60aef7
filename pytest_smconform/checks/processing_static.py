"""Processing checks on the image config and the requests: default command, exec form, /opt/ml, limits."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from ..model import processing as model
from ..verdicts import Blocked, ContractViolation
from . import check_kind
from .judge import content_under, fmt_list
from .processing_jobs import declared_scenarios, prewarm, require_completed, run, scenario_request

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement

NOT_EXECUTABLE = (126, 127)


def _argv_text(argv: list[str]) -> str:
    return shlex.join(argv) if argv else "(nothing)"


def image_argv(ctx: RunContext) -> tuple[list[str], list[str]]:
    config = ctx.image_config()
    return list(config.get("Entrypoint") or []), list(config.get("Cmd") or [])


@check_kind("processing-default-run")
def default_run(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    prewarm(ctx)
    entry, cmd = image_argv(ctx)
    expected = model.resolve_argv(entry, cmd, None, None)
    if not expected:
        raise ContractViolation("an ENTRYPOINT and/or CMD, which `docker run IMAGE` runs",
                                "neither is set: the engine has no command to run (\"No command specified\")",
                                fix='Add ENTRYPOINT ["python3", "/path/to/your_script.py"] to the Dockerfile.')
    if model.bare_program(expected):
        raise ContractViolation(
            "an ENTRYPOINT/CMD that starts the processing work",
            f"the default command is a bare `{expected[0]}` (likely the base image's CMD): the job does nothing",
            fix='Add ENTRYPOINT ["python3", "/path/to/your_script.py"] to the Dockerfile.')
    job = run(ctx, scenario_request(ctx, params.get("scenario")))
    first = job.containers[0]
    if first.start_error is not None:
        raise ContractViolation(f"the engine starts `{_argv_text(expected)}`",
                                f"it could not: {first.start_error}", details=job.log_details())
    if first.argv != expected:
        raise ContractViolation(f"the engine runs the image's ENTRYPOINT + CMD `{_argv_text(expected)}`",
                                f"it runs `{_argv_text(first.argv)}`", details=job.log_details())
    if first.exit_code in NOT_EXECUTABLE:
        raise ContractViolation(f"`{_argv_text(expected)}` is found and executable in the image",
                                f"exit code {first.exit_code}", details=job.log_details())
    return f"`docker run IMAGE` runs `{_argv_text(expected)}` (exit {first.exit_code})"


@check_kind("processing-exec-form")
def exec_form(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    prewarm(ctx)
    entry, cmd = image_argv(ctx)
    which, argv = ("ENTRYPOINT", entry) if entry else ("CMD", cmd)
    if not argv:
        raise Blocked("the image has no ENTRYPOINT or CMD", blocked_by="PR-DEFAULT-RUN")
    if model.is_shell_form(argv):
        script = argv[2] if len(argv) > 2 else ""
        raise ContractViolation(
            f"{which} in exec form, so the program is PID 1 and gets StopProcessingJob's SIGINT",
            f"{which} is in shell form: {argv!r} (PID 1 is {argv[0]}, which does not pass signals on)",
            fix=f"Write {which} {_exec_suggestion(script)} in the Dockerfile (a JSON list, no shell).")
    note = "" if which == "ENTRYPOINT" else " (no ENTRYPOINT: CMD is what runs)"
    return f"{which} {argv!r} is in exec form{note}"


def _exec_suggestion(script: str) -> str:
    try:
        words = shlex.split(script)
    except ValueError:
        words = script.split()
    words = words[1:] if words[:1] == ["exec"] else words
    return "[" + ", ".join(f'"{w}"' for w in words) + "]" if words else '["executable", "param1"]'


@check_kind("processing-reserved-optml")
def reserved_optml(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    prewarm(ctx)
    paths = [str(p) for p in params.get("paths", ["/opt/ml"])]
    found = content_under(ctx.layers().sorted_paths(), paths)
    if found:
        raise ContractViolation(f"nothing under {' or '.join(paths)} (the platform mounts its own there)",
                                f"{len(found)} entries: {fmt_list(found)}")
    if not model.resolve_argv(*image_argv(ctx), None, None):
        return f"nothing under {', '.join(paths)}"
    try:
        require_completed(ctx, req, scenario_request(ctx, params.get("scenario")))
    except Blocked as exc:
        if exc.blocked_by not in ("PR-EXIT-STATUS", None):
            raise
        return f"nothing under {', '.join(paths)}; the job fails with or without /opt/ml mounted over"
    return f"nothing under {', '.join(paths)}; the default job completes with /opt/ml mounted over"


@check_kind("processing-request-limits")
def request_limits(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    scenarios = declared_scenarios(ctx)
    problems = [f"{where} ({request.name}): {p}" for where, request in scenarios
                for p in model.request_limit_problems(request)]
    if problems:
        raise ContractViolation("ContainerEntrypoint and ContainerArguments of at most 100 items of at most 256 "
                                "characters (and Environment within its limits) in every scenario",
                                "; ".join(problems[:4]), details=problems[4:20])
    return f"{len(scenarios)} scenarios within the CreateProcessingJob limits"
