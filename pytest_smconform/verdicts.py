"""How a check says what it found: a pass message, a contract violation, or 'blocked'."""

from __future__ import annotations

from dataclasses import dataclass, field


class ContractViolation(Exception):
    """The image breaks a requirement; carries what a person needs to fix it."""

    def __init__(self, expected: str, observed: str, fix: str = "", *,
                 launch_name: str | None = None, details: list[str] | None = None) -> None:
        super().__init__(f"expected {expected}; observed {observed}")
        self.expected = expected
        self.observed = observed
        self.fix = fix
        self.launch_name = launch_name
        self.details = details or []


class Blocked(Exception):
    """The requirement cannot be judged because another one failed first (reported as skipped)."""

    def __init__(self, reason: str, blocked_by: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.blocked_by = blocked_by


class NotApplicable(Exception):
    """The requirement does not apply to this image or this host (reported as skipped)."""


@dataclass
class Verdict:
    """The memoised result of one requirement (or one case of it) in this run."""

    outcome: str  # passed | failed | skipped | error
    message: str
    violation: ContractViolation | None = None
    duration: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)
