"""The processing profile end to end: the conforming image passes, each mutant fails on exactly its id.

One suite run per image, run three at a time (most of a run is waiting on containers), shared by
every assertion about that image. Plus the override matrix's model against the real engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from pytest_smconform.model.processing import resolve_argv

pytestmark = pytest.mark.docker

PROFILE = "processing"
FAST = ["peer_delay=2.5", "stop_grace=3", "fuzz_examples=1", "override_examples=3"]
MUTANTS = {
    "img-reserved-optml": "IMG-RESERVED-OPTML",
    "pr-default-run": "PR-DEFAULT-RUN",
    "pr-default-run-bash": "PR-DEFAULT-RUN",
    "pr-exec-form": "PR-EXEC-FORM",
    "pr-override-matrix": "PR-OVERRIDE-MATRIX",
    "pr-signals": "PR-SIGNALS",
    "pr-exit-status": "PR-EXIT-STATUS",
    "pr-config-files": "PR-CONFIG-FILES",
    "pr-environment": "PR-ENVIRONMENT",
    "pr-io-paths": "PR-IO-PATHS",
    "pr-output-symlinks": "PR-OUTPUT-SYMLINKS",
    "pr-hostnames": "PR-HOSTNAMES",
    "pr-hostnames-noretry": "PR-HOSTNAMES",
    "pr-exitmsg-utf8": "PR-EXITMSG-UTF8",
    "pr-exitmsg-truncate": "PR-EXITMSG-TRUNCATE",
    "pr-exitmsg-secrets": "PR-EXITMSG-SECRETS",
}
FAILING_BY_DESIGN = "open('/opt/ml/output/message', 'w').write('bad input: row 7'); raise SystemExit(2)"
TOO_MANY = json.dumps([f"a{i}" for i in range(101)])
USER_SPEC = f"""\
schema: smconform-spec/1
profile: processing
requirements:
  - id: PR-EXIT-STATUS
    cases:
      - {{name: default, with: {{scenario: {{name: default}}}}}}
      - name: fails-by-design
        with:
          scenario:
            name: fails-by-design
            container_entrypoint: [python3, -c, "{FAILING_BY_DESIGN}"]
            expect_status: Failed
            expect_exit_message: "^bad input: row \\\\d+$"
      - name: runs-too-long
        with:
          scenario: {{name: runs-too-long, environment: {{SMCONFORM_HOLD_SECONDS: "120"}}, max_runtime_seconds: 4,
                     expect_status: Stopped}}
      - name: too-many-arguments
        with: {{scenario: {{name: too-many-arguments, container_arguments: {TOO_MANY}}}}}
"""
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@dataclass
class Run:
    returncode: int
    output: str
    report: dict[str, Any]

    def outcome(self, req_id: str) -> str:
        return next(str(e["outcome"]) for e in self.report["results"] if e["id"] == req_id)

    def failed_ids(self) -> set[str]:
        return {e["id"] for e in self.report["results"] if e["outcome"] == "failed"}

    def entry(self, req_id: str) -> dict[str, Any]:
        return next(e for e in self.report["results"] if e["id"] == req_id)


def _suite(workdir: Path, image: str, *extra: str) -> Run:
    workdir.mkdir(parents=True, exist_ok=True)
    report = workdir / "report.json"
    argv = [sys.executable, "-m", "pytest", f"--smconform={PROFILE}", image, f"--smconform-report={report}",
            "-p", "no:cacheprovider", "-q", "--rootdir", str(workdir), *extra]
    for option in FAST:
        argv += ["--smconform-option", option]
    done = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=900, check=False)
    data = json.loads(report.read_text()) if report.exists() else {}
    return Run(done.returncode, done.stdout[-6000:] + done.stderr[-3000:], data)


def _shared_run(shared: Path, name: str, image: str, *extra: str) -> Run:
    """One suite run per image for the whole test session, also under xdist: the first worker to claim it
    runs it and leaves the result for the others."""
    done, claim = shared / f"{name}.result.json", shared / f"{name}.claim"
    try:
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        deadline = time.monotonic() + 1200
        while not done.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker that claimed the {name} run left no result") from None
            time.sleep(1)
        return Run(**json.loads(done.read_text()))
    run = _suite(shared / name, image, *extra)
    partial = done.with_suffix(".partial")
    partial.write_text(json.dumps(asdict(run)))
    os.replace(partial, done)
    return run


@pytest.fixture(scope="module")
def suite_runs(tmp_path_factory: pytest.TempPathFactory, fixture_image: Any) -> dict[str, Future[Run]]:
    """Every image's suite run, started at once; each test waits for its own.

    Most of a run is waiting on containers, so runs overlap: three at a time, or two per worker under
    xdist, where the workers take the runs from opposite ends of the list.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if worker else base) / "processing-runs"
    shared.mkdir(parents=True, exist_ok=True)
    spec = shared / "user-scenarios.yaml"
    if not spec.exists():
        partial = shared / f"user-scenarios.{worker or 'main'}.partial"
        partial.write_text(USER_SPEC)
        os.replace(partial, spec)
    plan: list[tuple[str, str, tuple[str, ...]]] = [
        ("conforming", "conforming", ()), ("conforming-fixed-paths", "conforming-fixed-paths", ()),
        ("user-spec", "conforming", (f"--smconform-spec={spec}",)),
        *[(name, name, ()) for name in MUTANTS]]
    if worker and int(worker.removeprefix("gw") or 0) % 2:
        plan.reverse()
    pool = ThreadPoolExecutor(max_workers=2 if worker else 3)
    runs = {name: pool.submit(_shared_run, shared, name, fixture_image(PROFILE, image), *extra)
            for name, image, extra in plan}
    pool.shutdown(wait=False)
    return runs


@pytest.mark.parametrize("name", ["conforming", "conforming-fixed-paths"])
def test_conforming_passes_every_requirement(suite_runs: dict[str, Future[Run]], name: str) -> None:
    run = suite_runs[name].result()
    assert run.report, run.output
    assert run.failed_ids() == set(), run.output
    outcomes = {e["id"]: e["outcome"] for e in run.report["results"]}
    not_passed = {k: v for k, v in outcomes.items() if v != "passed" and not k.startswith("IMG-GPU-")}
    assert not_passed == {}, run.output
    expected = {f"PR-{x}" for x in ("DEFAULT-RUN", "OVERRIDE-MATRIX", "EXEC-FORM", "SIGNALS", "EXIT-STATUS",
                                    "CONFIG-FILES", "ENVIRONMENT", "IO-PATHS", "OUTPUT-SYMLINKS", "HOSTNAMES",
                                    "EXITMSG-UTF8", "EXITMSG-TRUNCATE", "EXITMSG-SECRETS", "REQUEST-LIMITS")}
    assert expected <= set(outcomes)
    assert run.report["verdict"] == "conformant"


def test_conforming_jobs_section(suite_runs: dict[str, Future[Run]]) -> None:
    jobs = suite_runs["conforming"].result().report["jobs"]
    by_name = {(j["scenario"], j["stop"] is None): j for j in jobs}
    default = by_name[("default", True)]
    assert default["status"] == "Completed" and default["failure_reason"] is None
    assert default["exit_message"] == "algo-1: 0 files processed \u2713\n"
    assert default["containers"][0]["exit_code"] == 0 and default["containers"][0]["log_tail"]
    assert default["containers"][0]["hostname"] != "algo-1"
    assert [u["path"] for u in default["outputs"]["uploaded"]] == \
        ["algo-1:/opt/ml/processing/output/algo-1-summary.json"]
    cluster = by_name[("cluster", True)]
    assert [c["host"] for c in cluster["containers"]] == ["algo-1", "algo-2"]
    assert cluster["exit_message"].startswith("algo-1: ") and "algo-2: " in cluster["exit_message"]
    assert any(j["stop"] and j["stop"]["signal"] == "SIGINT" and j["status"] == "Stopped" for j in jobs)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_fails_exactly_its_id(suite_runs: dict[str, Future[Run]], name: str) -> None:
    run = suite_runs[name].result()
    assert run.report, run.output
    assert run.failed_ids() == {MUTANTS[name]}, run.output
    others = {e["id"]: e for e in run.report["results"] if e["outcome"] == "skipped"}
    for req_id, entry in others.items():
        assert entry.get("reason") in ("blocked", "not-applicable"), (req_id, entry)


def test_undeclared_output_directory_is_reported(suite_runs: dict[str, Future[Run]]) -> None:
    run = suite_runs["conforming-fixed-paths"].result()
    assert "/opt/ml/processing/processed_data" in run.entry("PR-IO-PATHS")["message"]
    io_job = next(j for j in run.report["jobs"] if j["scenario"] == "io")
    assert io_job["outputs"]["lost"] and "not under a declared" in io_job["outputs"]["lost"][0]["why"]


def test_failures_explain_themselves(suite_runs: dict[str, Future[Run]]) -> None:
    signals = suite_runs["pr-signals"].result().entry("PR-SIGNALS")
    assert "SIGKILL" in signals["observed"] and signals["fix"]
    symlinks = suite_runs["pr-output-symlinks"].result().entry("PR-OUTPUT-SYMLINKS")
    assert "-> /tmp/results.csv" in symlinks["observed"]
    io = suite_runs["pr-io-paths"].result().entry("PR-IO-PATHS")
    assert "/opt/ml/output/data/algo-1-summary.json" in io["observed"]
    truncated = suite_runs["pr-exitmsg-truncate"].result().report["jobs"]
    assert any(any("dropped" in w for w in j["exit_message_warnings"]) for j in truncated)
    utf8 = suite_runs["pr-exitmsg-utf8"].result().report["jobs"]
    assert any(j["failure_reason"] and j["failure_reason"].startswith("ClientError") for j in utf8)


def test_secrets_are_masked_in_the_report(suite_runs: dict[str, Future[Run]]) -> None:
    run = suite_runs["pr-exitmsg-secrets"].result()
    text = json.dumps(run.report)
    assert SECRET_KEY not in text and "AKIAIOSFODNN7EXAMPLE" not in text
    assert "masked" in run.entry("PR-EXITMSG-SECRETS")["observed"]


def test_user_scenarios_and_request_limits(suite_runs: dict[str, Future[Run]]) -> None:
    run = suite_runs["user-spec"].result()
    assert run.failed_ids() == {"PR-REQUEST-LIMITS"}, run.output
    assert "101 items" in run.entry("PR-REQUEST-LIMITS")["observed"]
    status = run.entry("PR-EXIT-STATUS")
    assert status["outcome"] == "skipped" and status["reason"] == "blocked"
    assert "too-many-arguments" in status["message"]
    designed = next(j for j in run.report["jobs"] if j["scenario"] == "fails-by-design")
    assert designed["status"] == "Failed" and designed["exit_message"] == "bad input: row 7"
    assert not any(j["scenario"] == "too-many-arguments" for j in run.report["jobs"])
    too_long = next(j for j in run.report["jobs"] if j["scenario"] == "runs-too-long")
    assert too_long["status"] == "Stopped" and "MaxRuntimeInSeconds" in too_long["failure_reason"]
    assert not too_long["containers"][0]["killed"]  # it ended on the SIGINT
    assert too_long["exit_message"] == "algo-1: stopped by SIGINT\n"


# -- PR-OVERRIDE-MATRIX: the model against the real engine, on a probe that records its argv ----------

PROBE_ENTRYPOINT = ["/usr/local/bin/argv-probe", "image entrypoint arg"]
PROBE_CMD = ["image-cmd-1", "image cmd 2"]
WORD = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
WORDS = st.lists(WORD | st.sampled_from(["", " ", "'", '"', "$HOME", "a b", "ü✓"]), min_size=1, max_size=4)
ENTRY = st.tuples(st.sampled_from(["/usr/local/bin/argv-probe", "argv-probe"]),
                  st.lists(WORD, max_size=3)).map(lambda t: [t[0], *t[1]])


def _engine_argv(image: str, entrypoint: list[str] | None, arguments: list[str] | None) -> list[str]:
    import docker

    client = docker.from_env()
    kwargs: dict[str, Any] = {}
    if entrypoint is not None:
        kwargs["entrypoint"] = entrypoint
    if arguments is not None:
        kwargs["command"] = arguments
    container = client.containers.create(image, network_mode="none", **kwargs)
    try:
        container.start()
        container.wait(timeout=60)
        line = container.logs(stdout=True, stderr=False).decode().strip().splitlines()[-1]
    finally:
        container.remove(force=True)
    argv: list[str] = json.loads(line)["argv"]
    return argv


def test_override_matrix_model_agrees_with_engine(fixture_image: Any) -> None:
    image = fixture_image(PROFILE, "argv-probe")

    @settings(max_examples=6, deadline=None, database=None, phases=(Phase.explicit, Phase.generate, Phase.shrink),
              suppress_health_check=list(HealthCheck))
    @example(None, None)
    @example(["argv-probe"], None)
    @example(None, ["", "data-format", "csv"])
    @example(["/usr/local/bin/argv-probe", "-v", "it's \"q\""], ["data-format", "", "ü ✓"])
    @given(st.none() | ENTRY, st.none() | WORDS)
    def agree(entrypoint: list[str] | None, arguments: list[str] | None) -> None:
        expected = resolve_argv(PROBE_ENTRYPOINT, PROBE_CMD, entrypoint, arguments)
        observed = _engine_argv(image, entrypoint, arguments)
        assert observed[1:] == expected[1:]
        assert observed[0].rsplit("/", 1)[-1] == expected[0].rsplit("/", 1)[-1]

    agree()


LATE_STOP_SPEC = """\
schema: smconform-spec/1
profile: processing
requirements:
  - id: PR-EXIT-STATUS
    cases:
      - name: runs-too-long
        with:
          scenario: {name: runs-too-long, environment: {SMCONFORM_HOLD_SECONDS: "120"}, max_runtime_seconds: 2,
                     expect_status: Stopped}
"""
# What a loaded engine does to the suite: the diagnosis read just before MaxRuntimeInSeconds' SIGINT
# takes seconds (here 3 s, over a grace of 2 s).
SLOW_DIAGNOSIS = """\
import time
from pytest_smconform.engine import symptoms

_describe = symptoms.describe

def _slow(*args, **kwargs):
    time.sleep(3)
    return _describe(*args, **kwargs)

symptoms.describe = _slow
"""


def test_the_grace_after_max_runtime_runs_from_the_signal_however_late_it_goes_out(
        pytester: pytest.Pytester, run_suite: Any, fixture_image: Any) -> None:
    pytester.makeconftest(SLOW_DIAGNOSIS)
    spec = pytester.path / "late-stop.yaml"
    spec.write_text(LATE_STOP_SPEC)
    run = run_suite(PROFILE, fixture_image(PROFILE, "conforming"), f"--smconform-spec={spec}",
                    "-k", "PR-EXIT-STATUS", "--smconform-option=stop_grace=2")
    job = next(j for j in run.report["jobs"] if j["scenario"] == "runs-too-long")
    assert job["status"] == "Stopped", job
    # A grace counted from the deadline ran out before the late SIGINT: the job was killed mid-stop.
    assert not job["containers"][0]["killed"], job
    assert job["exit_message"] == "algo-1: stopped by SIGINT\n", job
