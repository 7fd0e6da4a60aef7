"""pytest nodes: one collector per profile run, one item per requirement (and per case)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .checks import is_destructive
from .redact import redact
from .runner import evaluate
from .spec.model import Requirement
from .verdicts import Verdict

if TYPE_CHECKING:
    from .context import RunContext
    from .session import SmconformSession


class ProfileCollector(pytest.Collector):
    """`smconform-<profile>`: the requirements of one profile for one image."""

    session_state: SmconformSession
    ctx: RunContext  # the image these items check

    def collect(self) -> Iterator[pytest.Item]:
        profile = self.ctx.profile
        ordered = sorted(profile.requirements, key=lambda r: (is_destructive(r.check), profile.requirements.index(r)))
        for req in ordered:
            cases: list[str | None] = [c.name for c in req.cases] or [None]
            for case in cases:
                name = req.id if case is None else f"{req.id}[{case}]"
                item = RequirementItem.from_parent(self, name=name, requirement=req, case=case)
                item.add_marker(pytest.mark.smconform)
                item.add_marker(getattr(pytest.mark, req.level.lower()))
                for how in req.how:
                    item.add_marker(getattr(pytest.mark, f"smconform_{how}"))
                yield item


class ViolationFailure(Exception):
    """Raised by an item whose requirement failed; rendered by `repr_failure`."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


class RequirementItem(pytest.Item):
    def __init__(self, *, requirement: Requirement, case: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requirement = requirement
        self.case = case

    @property
    def state(self) -> SmconformSession:
        parent = self.parent
        assert isinstance(parent, ProfileCollector)
        return parent.session_state

    @property
    def ctx(self) -> RunContext:
        parent = self.parent
        assert isinstance(parent, ProfileCollector)
        return parent.ctx

    def runtest(self) -> None:
        verdict = evaluate(self.ctx, self.requirement.id, self.case)
        self.user_properties.append(("requirement", self.requirement.id))
        self.user_properties.append(("level", self.requirement.level))
        # For the live line (also on an xdist controller, which only sees reports).
        self.user_properties.append(("smconform_message", verdict.message))
        self.user_properties.append(("smconform_seconds", round(verdict.duration, 2)))
        if verdict.outcome == "passed":
            return
        if verdict.outcome == "skipped":
            pytest.skip(redact(verdict.message))
        if verdict.outcome == "failed" and not self.state.settings.counts_as_failure(self.requirement.level):
            pytest.xfail(f"{self.requirement.level} requirement not met (does not fail this run): "
                         f"{redact(verdict.message)}")
        raise ViolationFailure(verdict)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ViolationFailure):
            return redact(self.state.render_failure(self.ctx, self.requirement, excinfo.value.verdict))
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        path, _, line = self.requirement.origin.rpartition(":")
        return Path(path), int(line) - 1 if line.isdigit() else None, f"{self.name}: {self.requirement.rule}"
