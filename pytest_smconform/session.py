"""One smconform run inside pytest: settings, collection, prewarming, cleanup, report."""

from __future__ import annotations

import dataclasses
import json
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from . import __version__, gc_tuning
from .checks import known_kinds
from .context import RunContext
from .errors import SmconformError, UsageError
from .hypothesis_guard import wait_for_hypothesis_work
from .items import ProfileCollector, RequirementItem
from .platform import known_platforms
from .report import WORKER_CRASH_PHASE, build_section, compose_report, mark_crashed, strip_extras, write_report
from .settings import Settings, load_container_config, parse_option_pairs
from .spec.loader import SpecSet, shipped_spec_files
from .spec.model import Requirement
from .verdicts import Verdict

LEVEL_MARKERS = ("must", "should", "info")
HOW_MARKERS = ("static", "run", "model", "cluster")


def build_settings(*, profile: str, image: str | list[str] | None, positional: list[str], report: Any,
                   options: list[str], level: Any, spec_files: list[Path], container_config: Any,
                   seed: int | None, rootdir: Path) -> Settings:
    images = positional + expand_image_refs([image] if isinstance(image, str) else list(image or []))
    if len(set(images)) != len(images):
        raise UsageError(f"an image is given twice: {', '.join(images)}")
    for path in spec_files:
        if not path.is_file():
            raise UsageError(f"spec file not found: {path}")
    return Settings(
        profile=profile,
        image=images[0] if images else None,
        images=images,
        report_path=Path(str(report)) if report else None,
        options=parse_option_pairs(options),
        level=str(level or "should"),
        spec_files=spec_files,
        container_config=load_container_config(Path(container_config)) if container_config else None,
        seed=seed if seed is not None else int(time.time()) % 100000,
    )


def expand_image_refs(values: list[str]) -> list[str]:
    """`--smconform-image` values: a ref, or `@FILE` holding refs one a line (# starts a comment)."""
    refs: list[str] = []
    for value in values:
        if not value.startswith("@"):
            refs.append(value)
            continue
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--smconform-image {value}: cannot read {value[1:]}: {exc.strerror}") from None
        found = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        if not any(found):
            raise UsageError(f"--smconform-image {value}: no image refs in {value[1:]}")
        refs += [ref for ref in found if ref]
    return refs


_MARKUP = {"PASSED": {"green": True}, "FAILED": {"red": True}, "SKIPPED": {"yellow": True},
           "XFAIL": {"yellow": True}, "ERROR": {"red": True}}


def _outcome_word(report: Any) -> str:
    if hasattr(report, "wasxfail"):
        return "XFAIL"
    if report.when != "call" and report.failed:
        return "ERROR"
    return str(report.outcome).upper()


def _live_line_of(report: Any) -> str | None:
    """`PASSED   MUST   JL-HEALTH   9.3 s  message` for a requirement's report; None for other tests."""
    props = dict(getattr(report, "user_properties", None) or [])
    if "smconform_message" not in props:
        return None
    image = report.nodeid.split("::")[0].partition("[")[2].rstrip("]")
    where = f"{image}: " if image else ""
    return (f"{_outcome_word(report):8} {props.get('level', ''):6} {where}{props['requirement']:24} "
            f"{float(props.get('smconform_seconds') or 0):6.1f} s  {str(props['smconform_message'])[:90]}")


class SmconformSession:
    """Registered as a pytest plugin for the duration of one run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        specs = SpecSet(shipped_spec_files() + settings.spec_files)
        profile = specs.resolve(settings.profile, settings.options, known_kinds(), known_platforms())
        if settings.image is None and not profile.image_optional:
            raise UsageError(f"no image given: pytest --smconform={settings.profile} IMAGE[:TAG]")
        # One context per image: its own launches and verdicts. `ctx` is the first (or only) one.
        refs: list[str | None] = list(settings.images) or [settings.image]
        self.contexts = [RunContext(settings=dataclasses.replace(settings, image=ref), profile=profile)
                         for ref in refs]
        self.ctx = self.contexts[0]
        self.items: list[RequirementItem] = []
        self.final_report: dict[str, Any] | None = None
        self.worker_sections: list[dict[str, Any]] = []
        self._unwarmed: list[RunContext] = []  # contexts whose launches are not started yet
        self.crashed: dict[str, str] = {}  # xdist controller: node id -> why its worker died under it
        self.current: RequirementItem | None = None  # the item running now (for "still waiting" lines)
        self._live_path: Any = None  # the location prefix pytest printed last before our live lines
        self.bundle_digest: str | None = None
        self.rerun: Any = None  # the bundle whose failures this run repeats
        if settings.rerun_from is not None:
            from .certify.rerun import load_plan

            self.rerun = load_plan(settings.rerun_from)
        self.started = time.time()
        self.interrupted: str | None = None
        self.fatal: str | None = None
        self._closed = False
        self._previous_sigterm: Any = None
        if getattr(config.option, "dist", "no") == "load":
            # pytest-xdist: one image's items (a collector each) on one worker, so each worker launches
            # only its images' containers. (Scheduling by scope needs no node-id rewriting.)
            config.option.dist = "loadscope"
        for marker in (*LEVEL_MARKERS, *(f"smconform_{h}" for h in HOW_MARKERS)):
            config.addinivalue_line("markers", f"{marker}: smconform requirement attribute")

    # -- pytest hooks ----------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        for ctx in self.contexts:
            ctx.progress = self._progress_line
            if self.settings.certify_dir is not None:
                from .certify.evidence import keep_discarded_logs

                keep_discarded_logs(ctx)
        self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            for ctx in self.contexts:
                if ctx.settings.image is not None:
                    image_id = ctx.image()["Id"]
                    if self.rerun is not None:
                        from .certify.rerun import check_same_image

                        check_same_image(self.rerun, ctx.settings.image, image_id)
        except SmconformError as exc:
            self.fatal = str(exc)
            # pytest skips sessionfinish when sessionstart fails: write the report here.
            self.pytest_sessionfinish(session, int(pytest.ExitCode.USAGE_ERROR))
            raise pytest.UsageError(f"smconform: {exc}") from None

    def _progress_line(self, line: str) -> None:
        """A "still waiting" line on the terminal, through pytest's output capture."""
        if self.current is not None:
            line = f"[{self.current.requirement.id}] {line}"
            timeout = self.current.ctx.profile.parameters.get("startup_timeout")
            if timeout is not None and "waiting for launch" in line:
                line += f" (start-up timeout {float(timeout.default):g} s)"
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if capture is None:
            self._write_live(f"smconform: {line}")
            return
        with capture.global_and_fixture_disabled():
            self._write_live(f"smconform: {line}")

    def _write_live(self, line: str, **markup: bool) -> None:
        """A whole line amid pytest's progress output, without making it repeat the location prefix."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        path = reporter.currentfspath
        if path is not None and path != self._live_path:
            reporter.ensure_newline()  # end pytest's "smconform-<profile> " prefix
        reporter.write(line + "\n", **markup)
        reporter.currentfspath = self._live_path = path

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        # Turn SIGTERM into the same orderly path as Ctrl-C: containers removed, report written.
        self.interrupted = "SIGTERM"
        raise KeyboardInterrupt

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        ours: list[RequirementItem] = []
        for ctx in self.contexts:
            name = f"smconform-{self.settings.profile}"
            if len(self.contexts) > 1:
                name += f"[{ctx.settings.image}]"  # node ids carry the image
            collector = ProfileCollector.from_parent(session, name=name, nodeid=name)
            collector.session_state = self
            collector.ctx = ctx
            report = pytest.CollectReport(collector.nodeid, "passed", None, list(collector.collect()))
            config.hook.pytest_collectreport(report=report)
            ours += [item for item in report.result if isinstance(item, RequirementItem)]
        if self.rerun is not None:
            from .certify.rerun import selected

            again = [item for item in ours if selected(self.rerun, item.ctx.settings.image, item.requirement.id)]
            config.hook.pytest_deselected(items=[item for item in ours if item not in again])
            ours = again
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
        self._unwarmed = [ctx for ctx in self.contexts if any(item.ctx is ctx for item in self.items)]
        if not hasattr(self.config, "workerinput"):
            for ctx in list(self._unwarmed):
                self._prewarm(ctx)
        gc_tuning.freeze_long_lived()
        # An xdist worker collects every image but is given only some: it warms an image's launches
        # when it is handed that image's first item, so an idle worker starts no containers.

    def _prewarm(self, ctx: RunContext) -> None:
        self._unwarmed.remove(ctx)
        selected = {item.requirement.id: item.requirement for item in self.items if item.ctx is ctx}
        needed = {need for req in selected.values() for need in req.needs}
        ctx.prewarm([*selected.values(), *(ctx.requirement(n) for n in needed - set(selected))])

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.current = item if isinstance(item, RequirementItem) else None
        if self.current is not None and self.current.ctx in self._unwarmed:
            self._prewarm(self.current.ctx)

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: Any, config: pytest.Config) -> Any:
        """At normal verbosity our items print a live line each (below), not a progress letter."""
        status = yield
        if _live_line_of(report) is not None and config.get_verbosity() <= 0 and status[1]:
            return status[0], "", status[2]  # the word stays: the short summary (-r) uses it
        return status

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and report.when == WORKER_CRASH_PHASE:
            self.crashed[report.nodeid] = str(report.longrepr).strip().splitlines()[0]
        line = _live_line_of(report)
        if line is None or self.config.get_verbosity() > 0:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self._write_live(line, **_MARKUP.get(_outcome_word(report), {}))

    @pytest.hookimpl(tryfirst=True)  # before the terminal's, which formats the traceback and may fail
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = self.interrupted or "KeyboardInterrupt"
        wait_for_hypothesis_work()  # see hypothesis_guard: pytest's formatting must not race it

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: a worker's sections (the images it ran) arrive with its output."""
        sections = getattr(node, "workeroutput", {}).get("smconform_sections")
        if sections:
            self.worker_sections += json.loads(sections)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == pytest.ExitCode.INTERRUPTED and not self.interrupted:
            self.interrupted = "KeyboardInterrupt"
        worker_output = getattr(self.config, "workeroutput", None)
        # Under xdist every worker collects every image but runs only some: those with verdicts.
        mine = [ctx for ctx in self.contexts if any(item.ctx is ctx for item in self.items)
                and (worker_output is None or ctx.verdicts)]
        evidence = {id(ctx): self._evidence(ctx) for ctx in mine}
        self.close()
        sections = [build_section(self, ctx, evidence[id(ctx)]) for ctx in mine]
        if worker_output is not None:
            # An xdist worker: hand the images it ran to the controller, which writes the report.
            worker_output["smconform_sections"] = json.dumps(sections)
            return
        by_ref = {s["image"]["ref"]: s for s in [*sections, *self.worker_sections]}
        ordered = [by_ref.get(ctx.settings.image) or build_section(self, ctx, {}) for ctx in self.contexts]
        if self.crashed:
            ordered = [mark_crashed(s, self.crashed, self.settings.level == "should") for s in ordered]
        self.final_report = compose_report(self, ordered)
        if self.settings.report_path is not None:
            write_report(self.settings.report_path, strip_extras(self.final_report))
        if self.settings.certify_dir is not None:
            from .certify.bundle import write_bundle

            self.bundle_digest = write_bundle(self.settings.certify_dir, self.final_report,
                                              self.ctx.profile.files, self.settings.options)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.final_report is None or not (self.items or self.worker_sections):
            return
        from .certify.terminal import summary_lines

        terminalreporter.section(f"smconform: {self.settings.profile} on {', '.join(map(str, self.images))}")
        for line in summary_lines(self.final_report):
            terminalreporter.write_line(line)
        for where in self.report_locations():
            terminalreporter.write_line(where)

    # -- helpers -----------------------------------------------------------------------------

    def _evidence(self, ctx: RunContext) -> dict[str, Any]:
        """What a certification bundle keeps beside the results, gathered before containers go."""
        if self.settings.certify_dir is None:
            return {}
        from .certify.evidence import gather

        return gather(ctx)

    @property
    def images(self) -> list[str | None]:
        return [ctx.settings.image for ctx in self.contexts]

    def header(self) -> list[str]:
        shown = ", ".join(map(str, self.images))
        return [f"smconform {__version__}: profile {self.settings.profile}, "
                f"image{'s' if len(self.contexts) > 1 else ''} {shown}, "
                f"level {self.settings.level}, seed {self.settings.seed}, run {self.ctx.run_id}"]

    def report_locations(self) -> list[str]:
        out = []
        if self.settings.report_path is not None:
            out.append(f"report: {self.settings.report_path}")
        if self.settings.certify_dir is not None:
            out.append(f"certification bundle: {self.settings.certify_dir} (check it: smconform verify "
                       f"{self.settings.certify_dir}; manifest sha256 {self.bundle_digest})")
        return out

    def nodeids_of(self, ctx: RunContext, req_id: str) -> list[str]:
        return [item.nodeid for item in self.items if item.ctx is ctx and item.requirement.id == req_id]

    def aggregate(self, ctx: RunContext, req: Requirement) -> Verdict:
        """One verdict per requirement id over its items: failed > error > skipped > passed."""
        keys = [req.id] if not req.cases else [f"{req.id}[{c.name}]" for c in req.cases]
        seen = [ctx.verdicts[k] for k in keys if k in ctx.verdicts]
        if not seen:
            why = "not run (interrupted)" if self.interrupted else "not selected in this run"
            return Verdict("skipped", why, extra={"reason": "not-run"})
        for outcome in ("failed", "error", "skipped"):
            hits = [v for v in seen if v.outcome == outcome]
            if hits:
                return hits[0]
        return Verdict("passed", seen[0].message if len(seen) == 1 else f"{len(seen)} cases passed")

    def render_failure(self, ctx: RunContext, req: Requirement, verdict: Verdict) -> str:
        violation = verdict.violation
        lines = [f"{req.id} ({req.level}) {req.rule}"]
        if violation is None:
            return "\n".join([*lines, f"  {verdict.message}"])
        lines += [f"  expected: {violation.expected}", f"  observed: {violation.observed}"]
        fix = violation.fix or req.fix
        if fix:
            lines.append(f"  how to fix: {fix}")
        lines += [f"  {line}" for detail in violation.details for line in str(detail).splitlines()]
        launch = self._launch_named(ctx, violation.launch_name)
        if launch is not None:
            lines.append("  reproduce:")
            lines += [f"    {line}" for line in launch.plan.reproduce().splitlines()]
            tail = ctx.engine.log_tail(launch.container_id, 20)
            if tail:
                lines.append("  container log (last lines):")
                lines += [f"    | {line}" for line in tail]
        lines.append(f"  spec: {req.origin}")
        lines.append(f"  run it again: {self.rerun_command(ctx, req)}")
        return "\n".join(lines)

    def rerun_command(self, ctx: RunContext, req: Requirement) -> str:
        """The command that repeats this requirement: same image, same seed (so the same fuzzed examples)."""
        import shlex

        words = ["pytest", f"--smconform={self.settings.profile}", str(ctx.settings.image),
                 f"--smconform-seed={self.settings.seed}", "-k", req.id]
        words += [f"--smconform-option={k}={v}" for k, v in sorted(self.settings.options.items())]
        return " ".join(shlex.quote(w) for w in words)

    def _launch_named(self, ctx: RunContext, name: str | None) -> Any:
        if name is None:
            return None
        for launch in ctx.started_launches():
            if launch.plan.name == name:
                return launch
        return None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for ctx in self.contexts:
                ctx.close()
        finally:
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)

