"""Hypothesis-driven ContainerEnvironment launches for JL-ENV-PRECEDENCE.

Every example is a real container: the platform's variables on top of a generated
ContainerEnvironment (reserved names included); the app process must see exactly that.
Hypothesis generates the examples from the run's seed as soon as collection ends, and the
launches start concurrently with the main one (a container per example is the cost; there
is no shrinking, since each step would be another container). The same seed gives the same
examples, so a failure is reproduced with `--smconform-seed`.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future
from typing import TYPE_CHECKING

import docker.errors

from ..engine import procfs
from ..hypothesis_guard import hypothesis_work
from ..model.studio import ENVIRONMENT_MAX_ITEMS, environment_problems
from ..platform import Variant
from ..platform.readiness import app_listener_pid
from ..verdicts import ContractViolation
from . import prewarm_for

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from ..context import RunContext
    from ..engine.docker_engine import Launch
    from ..spec.model import Requirement

_MEMO = "env-precedence.examples"


def environment_strategy(platform_names: list[str]) -> SearchStrategy[dict[str, str]]:
    from hypothesis import strategies as st  # imported when used: it costs half a second

    value = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
    free_name = st.from_regex(r"\ASMCONFORM_[A-Z0-9_]{1,16}\Z")
    reserved = st.sampled_from([*sorted(platform_names), "AWS_PROFILE", "SAGEMAKER_INTERNAL_IMAGE_URI"])
    return st.dictionaries(st.one_of(reserved, free_name), value, max_size=ENVIRONMENT_MAX_ITEMS)


def planned_examples(ctx: RunContext, req: Requirement) -> list[dict[str, str]]:
    """The run's examples: every platform name set by the user, then Hypothesis' draws."""
    with hypothesis_work():  # planned on a background thread (see start_examples)
        return _draw_examples(ctx, req)


def _draw_examples(ctx: RunContext, req: Requirement) -> list[dict[str, str]]:
    from hypothesis import HealthCheck, Phase, example, given, settings
    from hypothesis import seed as hypothesis_seed

    with ctx._lock:
        if _MEMO in ctx.memo:
            return list(ctx.memo[_MEMO])
    count = int(req.fuzz_examples or ctx.param("fuzz_examples"))
    platform_names = [str(k) for k in dict(ctx.param("platform_env"))]
    drawn: list[dict[str, str]] = []

    @settings(max_examples=count, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
              suppress_health_check=list(HealthCheck))
    @hypothesis_seed(ctx.settings.seed or 0)
    @example(env={name: "set-by-the-user" for name in platform_names})
    @given(env=environment_strategy(platform_names))
    def collect(env: dict[str, str]) -> None:
        if env not in drawn:
            drawn.append(env)

    collect()
    with ctx._lock:
        ctx.memo[_MEMO] = drawn[: count + 1]
    return list(ctx.memo[_MEMO])


def _variant(env: dict[str, str]) -> Variant:
    return Variant(extra_env=tuple(sorted(env.items())), wait="app-exec")


@prewarm_for("env-precedence")
def start_examples(ctx: RunContext, req: Requirement) -> None:
    def plan_and_launch() -> None:
        for env in planned_examples(ctx, req):
            ctx.launch_async(req.launch or "", _variant(env)).add_done_callback(
                lambda future: _observe_and_end(ctx, future))

    # Planning imports Hypothesis: do it beside the main launch, not before it.
    ctx.background(plan_and_launch)


def _observe_and_end(ctx: RunContext, future: Future[Launch]) -> None:
    """Keep what the example's app process received, then end its container at once.

    The environment is fixed at exec, so nothing more is to be seen; a container left running
    would go on starting the app and take CPU from the platform's own launch and the checks.
    """
    if future.exception() is not None:
        return
    launch = future.result()
    pid = launch.ready_detail.get("app_pid")
    if not isinstance(pid, int):
        return
    environ = procfs.environ(pid)
    if environ is None:
        return
    launch.ready_detail["environ"] = environ
    with contextlib.suppress(docker.errors.APIError):
        ctx.engine.kill(launch.container_id, "SIGKILL")


def fuzz_environment(ctx: RunContext, req: Requirement, port: int) -> int:
    """Judge every example's launch; raises ContractViolation for the first that disagrees."""
    examples = planned_examples(ctx, req)
    failure: ContractViolation | None = None
    for env in examples:
        launch = ctx.launch(req.launch or "", _variant(env))
        pid = launch.ready_detail.get("app_pid") or app_listener_pid(ctx, launch, port)
        note = f"ContainerEnvironment (Hypothesis, --smconform-seed {ctx.settings.seed}): {env!r}"
        if not isinstance(pid, int):
            failure = failure or ContractViolation(
                "the app starts with a ContainerEnvironment within the limits",
                f"it did not start ({launch.ready_error})", details=[note, launch.plan.reproduce()])
        else:
            seen = launch.ready_detail.get("environ")
            problems = environment_problems(launch.plan.env, seen if isinstance(seen, dict) else
                                            procfs.environ(pid) or {})
            if problems and failure is None:
                failure = ContractViolation(
                    "the app process sees the platform's variables over ContainerEnvironment, unchanged",
                    "; ".join(problems[:6]), details=[note, launch.plan.reproduce()])
        ctx.discard(launch)
    if failure is not None:
        raise failure
    return len(examples)
