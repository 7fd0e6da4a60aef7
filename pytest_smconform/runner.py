"""Evaluate requirements once each, honouring `needs`, and memoise the verdicts."""

from __future__ import annotations

import time
import traceback
from typing import Any

from .checks import kind
from .context import RunContext
from .errors import SmconformError
from .spec.model import Requirement
from .verdicts import Blocked, ContractViolation, NotApplicable, Verdict


def verdict_key(req_id: str, case: str | None = None) -> str:
    return req_id if case is None else f"{req_id}[{case}]"


def evaluate(ctx: RunContext, req_id: str, case: str | None = None) -> Verdict:
    key = verdict_key(req_id, case)
    with ctx._lock:
        if key in ctx.verdicts:
            return ctx.verdicts[key]
    req = ctx.requirement(req_id)
    start = time.monotonic()
    verdict = _blocked_by_needs(ctx, req) or _run_check(ctx, req, case)
    verdict.duration = time.monotonic() - start
    with ctx._lock:
        return ctx.verdicts.setdefault(key, verdict)


def _blocked_by_needs(ctx: RunContext, req: Requirement) -> Verdict | None:
    for need in req.needs:
        seen = evaluate(ctx, need)
        if seen.outcome in ("failed", "error"):
            return Verdict("skipped", f"blocked: {need} failed first ({seen.message})",
                           extra={"reason": "blocked", "blocked_by": need})
        if seen.outcome == "skipped" and seen.extra.get("reason") == "blocked":
            root = seen.extra.get("blocked_by", need)
            return Verdict("skipped", f"blocked: {need} could not be judged ({seen.message})",
                           extra={"reason": "blocked", "blocked_by": root})
    return None


def _params(req: Requirement, case: str | None) -> dict[str, Any]:
    params = dict(req.params)
    for item in req.cases:
        if item.name == case:
            params.update(item.params)
    return params


def _run_check(ctx: RunContext, req: Requirement, case: str | None) -> Verdict:
    try:
        message = kind(req.check)(ctx, req, _params(req, case))
    except ContractViolation as exc:
        return Verdict("failed", f"expected {exc.expected}; observed {exc.observed}", violation=exc)
    except Blocked as exc:
        extra: dict[str, object] = {"reason": "blocked"}
        if exc.blocked_by:
            extra["blocked_by"] = exc.blocked_by
        return Verdict("skipped", f"blocked: {exc.reason}", extra=extra)
    except NotApplicable as exc:
        return Verdict("skipped", f"not applicable: {exc}", extra={"reason": "not-applicable"})
    except SmconformError as exc:
        return Verdict("error", f"could not check: {exc}")
    except Exception as exc:  # a bug in a check must not lose the other verdicts
        tail = _last_frames(exc)
        return Verdict("error", f"internal error in check {req.check!r}: {type(exc).__name__}: {exc}",
                       extra={"traceback": tail})
    return Verdict("passed", message)


def _last_frames(exc: BaseException, count: int = 3) -> list[str]:
    """Where a check broke, one line per frame. Not `traceback.format_exc`: on Python 3.11 it parses
    source lines with the ast module for its carets, which races pytest's own parsing when the
    check ran on a background thread (see hypothesis_guard)."""
    frames = traceback.extract_tb(exc.__traceback__)[-count:]
    return [f"{frame.filename}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}" for frame in frames]
