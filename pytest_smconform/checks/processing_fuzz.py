"""Fuzzed processing checks: the Environment map reaches the process; the override matrix on the engine.

Each Environment example is a real job (stopped once observed); each override example is a
container created (not started) from the image, whose command the engine resolves.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import docker.errors
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from ..engine.containment import contained_host_config
from ..model import processing as model
from ..verdicts import Blocked, ContractViolation
from . import check_kind
from .processing_jobs import (
    ENV_STOP,
    book,
    environment_examples,
    environment_request,
    first_started,
    hold_request,
    prewarm,
    why_not_running,
)
from .processing_static import image_argv

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement

# Values a request may carry: spaces, quotes, shell syntax, unicode, empty strings (never NUL).
VALUE = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=24)
ARGV = st.lists(VALUE, min_size=1, max_size=4)


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                    phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))


@check_kind("processing-environment")
def environment(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    prewarm(ctx)
    base = hold_request(ctx)
    examples = int(req.fuzz_examples or ctx.param("fuzz_examples"))
    stop = ENV_STOP
    drawn = environment_examples(ctx, examples)
    # Every example is a job: start them all at once, then judge them in the order Hypothesis drew them.
    futures = [book(ctx).submit(environment_request(base, env), stop=stop) for env in drawn]
    for given_env, future in zip(drawn, futures, strict=True):
        job = future.result()
        first = first_started(job, "the job")
        if first.ended_before_stop or not first.pid1:
            raise why_not_running(ctx, req, job)
        seen = first.pid1.get("environ")
        if seen is None:
            raise Blocked("PID 1's environment is not visible from this host's /proc (a remote engine?)")
        wrong = [f"{k}: given {v!r}, process has {seen.get(k)!r}" for k, v in sorted(given_env.items())
                 if seen.get(k) != v]
        if wrong:
            raise ContractViolation(
                "every Environment variable reaches the process unchanged",
                f"{len(wrong)} of {len(given_env)} differ in PID 1 "
                f"(`{' '.join(first.pid1.get('argv') or [])[:80]}`): {'; '.join(wrong[:4])}",
                fix="Do not clear or rewrite the environment in your entrypoint (env -i, su -, sudo, "
                    "login shells); pass it on to the program.",
                details=[f"Environment (Hypothesis seed {ctx.settings.seed or 0}): {given_env!r}",
                         *job.log_details(6)])
    return f"{len(drawn)} Environment maps (quotes, unicode, empty values) reached PID 1 unchanged"


@check_kind("processing-override-matrix")
def override_matrix(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> str:
    prewarm(ctx)
    entry, cmd = image_argv(ctx)
    arguments = [str(a) for a in params.get("arguments") or ["data-format", "csv"]]
    if not entry:
        observed = _engine_argv(ctx, None, arguments)
        raise ContractViolation(
            "an ENTRYPOINT that ContainerArguments are passed to (the arguments-only case)",
            f"no ENTRYPOINT: with ContainerArguments {arguments!r} the engine runs `{' '.join(observed)}` "
            f"as the program, and the image's CMD {cmd!r} does not run",
            fix=f'Make the program the ENTRYPOINT: ENTRYPOINT {_json(cmd)} (and drop CMD, or keep default '
                "arguments in it).")
    examples = int(params.get("examples") or ctx.param("override_examples"))
    checked: list[str] = []
    failure: list[ContractViolation] = []
    cases = st.tuples(st.none() | ARGV, st.none() | ARGV)

    @_settings(examples)
    @hypothesis_seed(ctx.settings.seed or 0)
    @example(case=(None, None))
    @example(case=(["python3", "-v", "/processing_script.py"], ["data-format", "csv"]))
    @example(case=(None, arguments))
    @example(case=(["sh", "-c", "echo 'a b' \"$0\""], None))
    @given(case=cases)
    def one(case: tuple[list[str] | None, list[str] | None]) -> None:
        container_entrypoint, container_arguments = case
        if container_entrypoint is not None and not container_entrypoint[0]:
            container_entrypoint = ["/bin/true", *container_entrypoint[1:]]
        expected = model.resolve_argv(entry, cmd, container_entrypoint, container_arguments)
        observed = _engine_argv(ctx, container_entrypoint, container_arguments)
        checked.append(model.override_case(container_entrypoint, container_arguments))
        if observed != expected:
            exc = ContractViolation(
                "the engine runs what the override matrix says",
                f"{model.override_case(container_entrypoint, container_arguments)}: ContainerEntrypoint "
                f"{container_entrypoint!r}, ContainerArguments {container_arguments!r}: the model says "
                f"{expected!r}, the engine runs {observed!r}",
                details=[f"Hypothesis seed {ctx.settings.seed or 0}; image ENTRYPOINT {entry!r}, CMD {cmd!r}"])
            failure.append(exc)
            raise exc

    try:
        one()
    except ContractViolation:
        raise failure[0] from None
    return (f"{len(checked)} requests ({len(set(checked))} of the 4 cases) resolve on the engine as modelled; "
            f"ContainerArguments go to ENTRYPOINT {entry!r}")


def _json(argv: list[str]) -> str:
    import json

    return json.dumps(argv)


def _engine_argv(ctx: RunContext, container_entrypoint: list[str] | None,
                 container_arguments: list[str] | None) -> list[str]:
    """What the engine would execute for this request: create the container, read Path and Args, remove it."""
    api = ctx.engine.api
    kwargs: dict[str, Any] = {}
    if container_entrypoint is not None:
        kwargs["entrypoint"] = container_entrypoint
    if container_arguments is not None:
        kwargs["command"] = container_arguments
    try:
        created = api.create_container(image=ctx.image_ref, labels=ctx.engine.labels,
                                       host_config=contained_host_config(api, network_mode="none"), **kwargs)
    except docker.errors.APIError as exc:
        return [f"<the engine refused: {str(exc).splitlines()[0][:120]}>"]
    try:
        info = api.inspect_container(created["Id"])
        path = str(info.get("Path") or "")
        return ([path] if path else []) + [str(a) for a in info.get("Args") or []]
    finally:
        with contextlib.suppress(docker.errors.APIError):
            api.remove_container(created["Id"], force=True)
