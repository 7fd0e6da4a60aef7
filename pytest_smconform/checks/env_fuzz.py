"""Hypothesis-driven ContainerEnvironment launches for JL-ENV-PRECEDENCE.

Every example is a real container: the platform's variables on top of a generated
ContainerEnvironment (reserved names included); the app process must see exactly that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from ..engine import procfs
from ..model.studio import ENVIRONMENT_MAX_ITEMS, environment_problems
from ..platform import Variant
from ..platform.readiness import app_listener_pid
from ..verdicts import ContractViolation

if TYPE_CHECKING:
    from ..context import RunContext
    from ..spec.model import Requirement

_VALUE = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
_FREE_NAME = st.from_regex(r"\ASMCONFORM_[A-Z0-9_]{1,16}\Z")


def environment_strategy(platform_names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    reserved = st.sampled_from([*sorted(platform_names), "AWS_PROFILE", "SAGEMAKER_INTERNAL_IMAGE_URI"])
    return st.dictionaries(st.one_of(reserved, _FREE_NAME), _VALUE, max_size=ENVIRONMENT_MAX_ITEMS)


def fuzz_environment(ctx: RunContext, req: Requirement, params: dict[str, Any]) -> int:
    """Run the fuzzed launches; returns how many ran, raises ContractViolation on the first mismatch."""
    examples = int(req.fuzz_examples or ctx.param("fuzz_examples"))
    port = int(params["port"])
    platform_names = [str(k) for k in dict(ctx.param("platform_env"))]
    clash = {name: "set-by-the-user" for name in platform_names}
    ran: list[dict[str, str]] = []
    failure: list[ContractViolation] = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @hypothesis_seed(ctx.settings.seed or 0)
    @example(env=clash)
    @given(env=environment_strategy(platform_names))
    def one(env: dict[str, str]) -> None:
        if len(ran) >= examples:
            return
        ran.append(env)
        launch = ctx.one_off(req.launch or "", Variant(extra_env=tuple(sorted(env.items())), wait="listening"))
        try:
            pid = launch.ready_detail.get("app_pid") or app_listener_pid(ctx, launch, port)
            if not isinstance(pid, int):
                raise ContractViolation(
                    "the app starts with a ContainerEnvironment within the limits",
                    f"it did not start ({launch.ready_error}) with ContainerEnvironment {env!r}",
                    launch_name=None, details=[launch.plan.reproduce()])
            observed = procfs.environ(pid) or {}
            problems = environment_problems(launch.plan.env, observed)
            if problems:
                raise ContractViolation(
                    "the app process sees the platform's variables over ContainerEnvironment, unchanged",
                    "; ".join(problems[:6]),
                    details=[f"ContainerEnvironment (Hypothesis seed {ctx.settings.seed or 0}): {env!r}",
                             launch.plan.reproduce()])
        except ContractViolation as exc:
            failure.append(exc)
            raise
        finally:
            ctx.discard(launch)

    try:
        one()
    except ContractViolation:
        raise failure[0] from None
    return len(ran)
