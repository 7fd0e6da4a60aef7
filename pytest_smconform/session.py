"""One smconform run inside pytest: settings, collection, prewarming, cleanup, report."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from . import __version__
from .checks import known_kinds
from .context import RunContext
from .errors import SmconformError, UsageError
from .items import ProfileCollector, RequirementItem
from .platform import known_platforms
from .report import build_report, write_report
from .settings import Settings, load_container_config, parse_option_pairs
from .spec.loader import SpecSet, shipped_spec_files
from .spec.model import Requirement
from .verdicts import Verdict

LEVEL_MARKERS = ("must", "should", "info")
HOW_MARKERS = ("static", "run", "model", "cluster")


def build_settings(*, profile: str, image: str | None, positional: list[str], report: Any,
                   options: list[str], level: Any, spec_files: list[Path], container_config: Any,
                   seed: int | None, rootdir: Path) -> Settings:
    if image and positional:
        raise UsageError(f"two images given: --smconform-image {image} and {positional[0]}")
    if len(positional) > 1:
        raise UsageError(f"one image at a time; got {', '.join(positional)}")
    for path in spec_files:
        if not path.is_file():
            raise UsageError(f"spec file not found: {path}")
    return Settings(
        profile=profile,
        image=image or (positional[0] if positional else None),
        report_path=Path(str(report)) if report else None,
        options=parse_option_pairs(options),
        level=str(level or "should"),
        spec_files=spec_files,
        container_config=load_container_config(Path(container_config)) if container_config else None,
        seed=seed if seed is not None else int(time.time()) % 100000,
    )


class SmconformSession:
    """Registered as a pytest plugin for the duration of one run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        specs = SpecSet(shipped_spec_files() + settings.spec_files)
        profile = specs.resolve(settings.profile, settings.options, known_kinds(), known_platforms())
        if settings.image is None and not profile.image_optional:
            raise UsageError(f"no image given: pytest --smconform={settings.profile} IMAGE[:TAG]")
        self.ctx = RunContext(settings=settings, profile=profile)
        self.items: list[RequirementItem] = []
        self.started = time.time()
        self.interrupted: str | None = None
        self.fatal: str | None = None
        self._closed = False
        self._previous_sigterm: Any = None
        for marker in (*LEVEL_MARKERS, *(f"smconform_{h}" for h in HOW_MARKERS)):
            config.addinivalue_line("markers", f"{marker}: smconform requirement attribute")

    # -- pytest hooks ----------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.ctx.progress = self._progress_line
        self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            if self.settings.image is not None:
                self.ctx.image()
        except SmconformError as exc:
            self.fatal = str(exc)
            # pytest skips sessionfinish when sessionstart fails: write the report here.
            self.pytest_sessionfinish(session, int(pytest.ExitCode.USAGE_ERROR))
            raise pytest.UsageError(f"smconform: {exc}") from None

    def _progress_line(self, line: str) -> None:
        """A "still waiting" line on the terminal, through pytest's output capture."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capture is None:
            reporter.write_line(f"smconform: {line}")
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"smconform: {line}")

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        # Turn SIGTERM into the same orderly path as Ctrl-C: containers removed, report written.
        self.interrupted = "SIGTERM"
        raise KeyboardInterrupt

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        name = f"smconform-{self.settings.profile}"
        collector = ProfileCollector.from_parent(session, name=name, nodeid=name)
        collector.session_state = self
        report = pytest.CollectReport(collector.nodeid, "passed", None, list(collector.collect()))
        config.hook.pytest_collectreport(report=report)
        ours = [item for item in report.result if isinstance(item, RequirementItem)]
        items[:0] = ours

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = [item for item in session.items if isinstance(item, RequirementItem)]
        if self.config.option.collectonly or not self.items:
            return
        if len(self.items) == len(session.items):
            # No test of the user's: Hypothesis' pytest plugin has nothing to do but import Hypothesis
            # for its terminal summary (half a second, in profiles whose checks never use it).
            hypothesis_plugin = self.config.pluginmanager.get_plugin("hypothesispytest")
            if hypothesis_plugin is not None:
                self.config.pluginmanager.unregister(hypothesis_plugin)
        selected = {item.requirement.id: item.requirement for item in self.items}
        needed = {need for req in selected.values() for need in req.needs}
        self.ctx.prewarm([*selected.values(), *(self.ctx.requirement(n) for n in needed - set(selected))])

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = self.interrupted or "KeyboardInterrupt"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == pytest.ExitCode.INTERRUPTED and not self.interrupted:
            self.interrupted = "KeyboardInterrupt"
        self.close()
        if self.settings.report_path is not None:
            report = build_report(self)
            write_report(self.settings.report_path, report)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.items:
            return
        write = terminalreporter.write_line
        terminalreporter.section(f"smconform: {self.settings.profile} on {self.settings.image}")
        for req in self.ctx.profile.requirements:
            verdict = self.aggregate(req)
            write(f"{verdict.outcome.upper():8} {req.level:6} {req.id:24} {verdict.message[:110]}")
        for record in self.ctx.launch_records:
            ready = f"ready after {record.time_to_ready:.2f} s" if record.time_to_ready is not None \
                else f"not ready: {record.error}"
            write(f"launch {record.name} ({record.variant}): {ready}")
        if self.settings.report_path is not None:
            write(f"report: {self.settings.report_path}")

    # -- helpers -----------------------------------------------------------------------------

    def header(self) -> list[str]:
        return [f"smconform {__version__}: profile {self.settings.profile}, image {self.settings.image}, "
                f"level {self.settings.level}, seed {self.settings.seed}, run {self.ctx.run_id}"]

    def nodeids_of(self, req_id: str) -> list[str]:
        return [item.nodeid for item in self.items if item.requirement.id == req_id]

    def aggregate(self, req: Requirement) -> Verdict:
        """One verdict per requirement id over its items: failed > error > skipped > passed."""
        keys = [req.id] if not req.cases else [f"{req.id}[{c.name}]" for c in req.cases]
        seen = [self.ctx.verdicts[k] for k in keys if k in self.ctx.verdicts]
        if not seen:
            why = "not run (interrupted)" if self.interrupted else "not selected in this run"
            return Verdict("skipped", why, extra={"reason": "not-run"})
        for outcome in ("failed", "error", "skipped"):
            hits = [v for v in seen if v.outcome == outcome]
            if hits:
                return hits[0]
        return Verdict("passed", seen[0].message if len(seen) == 1 else f"{len(seen)} cases passed")

    def render_failure(self, req: Requirement, verdict: Verdict) -> str:
        violation = verdict.violation
        lines = [f"{req.id} ({req.level}) {req.rule}"]
        if violation is None:
            return "\n".join([*lines, f"  {verdict.message}"])
        lines += [f"  expected: {violation.expected}", f"  observed: {violation.observed}"]
        fix = violation.fix or req.fix
        if fix:
            lines.append(f"  how to fix: {fix}")
        lines += [f"  {d}" for d in violation.details]
        launch = self._launch_named(violation.launch_name)
        if launch is not None:
            lines.append("  reproduce:")
            lines += [f"    {line}" for line in launch.plan.reproduce().splitlines()]
            tail = self.ctx.engine.log_tail(launch.container_id, 20)
            if tail:
                lines.append("  container log (last lines):")
                lines += [f"    | {line}" for line in tail]
        lines.append(f"  spec: {req.origin}")
        return "\n".join(lines)

    def _launch_named(self, name: str | None) -> Any:
        if name is None:
            return None
        for launch in self.ctx.started_launches():
            if launch.plan.name == name:
                return launch
        return None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.ctx.close()
        finally:
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)

