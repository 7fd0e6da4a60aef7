"""Bad input end to end: one `ERROR: smconform:` line at the right place (file:line for files), the
usage exit code, an incomplete report, never a traceback; a dead, hung or slow engine likewise."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_bad_input_fuzz import HOSTILE_YAML

USAGE = pytest.ExitCode.USAGE_ERROR
CYCLE = "schema: smconform-spec/1\nprofile: mine\nextends: [mine]\n"
UNKNOWN_CHECK = ("schema: smconform-spec/1\nprofile: mine\nextends: jupyterlab\nrequirements:\n"
                 "  - id: MY-RULE\n    level: MUST\n    how: [static]\n    rule: Mine.\n    check: no-such-check\n")
# name -> (profile, file name, content, option, the first error line expected after "ERROR: smconform: ")
FILE_CASES: dict[str, tuple[str, str, str, str, str]] = {
    "spec-alias-bomb": ("jupyterlab", "s.yaml", HOSTILE_YAML[0], "--smconform-spec", "{file}:*: more than*"),
    "spec-recursive-alias": ("jupyterlab", "s.yaml", HOSTILE_YAML[1], "--smconform-spec", "{file}:1: an alias*"),
    "spec-too-deep": ("jupyterlab", "s.yaml", HOSTILE_YAML[2], "--smconform-spec", "{file}:1: YAML nested*"),
    "spec-control-char": ("jupyterlab", "s.yaml", "schema: x\nprofile: \x1f\n", "--smconform-spec",
                          "{file}:2: YAML: character #x001f*"),
    "spec-extends-cycle": ("mine", "s.yaml", CYCLE, "--smconform-spec", "{file}:3: extends cycle: mine -> mine"),
    "spec-unknown-check": ("mine", "s.yaml", UNKNOWN_CHECK, "--smconform-spec",
                           "{file}:5: MY-RULE: unknown check kind 'no-such-check'"),
    "container-config-truncated": ("jupyterlab", "c.json", '{"ContainerArguments": ["a",',
                                   "--smconform-container-config", "--smconform-container-config: {file}:1: not JSON*"),
    "container-config-list": ("jupyterlab", "c.json", "[1, 2]", "--smconform-container-config",
                              "--smconform-container-config: {file} must hold a JSON object"),
    "app-image-config-bad-kernels": ("kernelgateway", "a.json", '{"KernelSpecs": [{"Name": 5}]}',
                                     "--smconform-app-image-config",
                                     "--smconform-app-image-config: {file}: KernelSpecs must be*"),
    "app-image-config-truncated": ("kernelgateway", "a.json", '{\n "KernelSpecs": [', "--smconform-app-image-config",
                                   "--smconform-app-image-config: {file}:2: not JSON*"),
}


def _assert_usage_error(result: pytest.RunResult, first_line: str, report: Path | None) -> None:
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == USAGE, output[-2000:]
    assert "Traceback" not in output
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert len(errors) == 1 and errors[0].startswith("ERROR: smconform: "), result.stderr.lines[:10]
    result.stderr.fnmatch_lines([f"ERROR: smconform: {first_line}"])
    if report is not None:
        data = json.loads(report.read_text())
        assert data["verdict"] == "incomplete" and data["run"]["error"]


@pytest.mark.unit
@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_input_file(case: str, pytester: pytest.Pytester) -> None:
    profile, name, content, option, expected = FILE_CASES[case]
    path = pytester.path / name
    path.write_text(content, encoding="utf-8")
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(f"--smconform={profile}", "some-image:1", f"{option}={path}",
                                           f"--smconform-report={report}", "-p", "no:cacheprovider")
    _assert_usage_error(result, expected.format(file=path), report)


@pytest.mark.unit
def test_unknown_command_line_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    # pytest itself refuses it, before any plugin runs: no report can be written then.
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "img:1", "--smconform-bogus=1")
    assert result.ret == USAGE
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(["*unrecognized arguments: --smconform-bogus=1*"])


@pytest.mark.unit
def test_option_of_the_wrong_type(pytester: pytest.Pytester) -> None:
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "img:1", "--smconform-option=startup_timeout=soon",
                                           f"--smconform-report={report}")
    _assert_usage_error(result, "--smconform-option startup_timeout='soon': expected a value of type*", report)


@pytest.mark.docker
def test_bad_disk_limit(fixture_image: Any, pytester: pytest.Pytester) -> None:
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", fixture_image("jupyterlab", "conforming"),
                                           "--smconform-option=disk_limit=lots", f"--smconform-report={report}")
    _assert_usage_error(result, "disk_limit: not a size: 'lots'*", report)


# -- engines that do not behave ---------------------------------------------------------------

def _engine_socket() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip("the proxy forwards to a local engine socket only")
    return host.removeprefix("unix://")


@contextlib.contextmanager
def _proxy(path: Path, delay: float | None) -> Iterator[list[int]]:
    """A socket in front of the engine: each request held back `delay` s (None: never answered)."""
    engine = _engine_socket()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)
    stop = threading.Event()
    requests_seen = [0]
    held: list[socket.socket] = []

    def pump(source: socket.socket, sink: socket.socket, slow: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if slow and delay:
                    requests_seen[0] += 1
                    time.sleep(delay)
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                return
            if delay is None:
                held.append(client)  # accepted, never answered: a hung engine
                continue
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(engine)
            threading.Thread(target=pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client, False), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield requests_seen
    finally:
        stop.set()
        server.close()
        for conn in held:
            conn.close()


def _run_with_engine(pytester: pytest.Pytester, sock: Path, *args: str) -> pytest.RunResult:
    return pytester.run("env", f"DOCKER_HOST=unix://{sock}", sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                        *args, timeout=600)


@pytest.mark.docker
def test_hung_engine_is_a_clear_error(engine_available: None, pytester: pytest.Pytester) -> None:
    sock, report = pytester.path / "hung.sock", pytester.path / "report.json"
    with _proxy(sock, None):
        result = _run_with_engine(pytester, sock, "--smconform=jupyterlab", "img:1", f"--smconform-report={report}")
    _assert_usage_error(result, "cannot reach the Docker engine (*timed out*", report)


@pytest.mark.docker
def test_slow_engine_still_gives_verdicts(fixture_image: Any, pytester: pytest.Pytester) -> None:
    sock, report = pytester.path / "slow.sock", pytester.path / "report.json"
    image = fixture_image("jupyterlab", "conforming")
    with _proxy(sock, 0.2) as seen:
        result = _run_with_engine(pytester, sock, "--smconform=jupyterlab", image, f"--smconform-report={report}",
                                  "-k", "JL-WORKDIR or IMG-ARCH or JL-UID")
    assert seen[0] > 0, "the run never went through the slow engine"
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-2000:]
    outcomes = {r["id"]: r["outcome"] for r in json.loads(report.read_text())["results"]}
    assert outcomes["JL-WORKDIR"] == outcomes["IMG-ARCH"] == outcomes["JL-UID"] == "passed"
