"""The command line: clear one-line errors with a usage exit code, selection by id, listing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_unknown_profile_is_one_line_and_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform=jupyterlabb", "some-image:1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: smconform: unknown profile 'jupyterlabb'; choose one of: *jupyterlab*"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_unknown_option_key(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "img:1", "--smconform-option=prot=1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: smconform: unknown option key 'prot'*"])


def test_malformed_option_and_missing_files(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "img:1", "--smconform-option=port")
    result.stderr.fnmatch_lines(["ERROR: smconform: --smconform-option expects KEY=VALUE, got 'port'"])
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "img:1", "--smconform-spec=nope.yaml")
    result.stderr.fnmatch_lines(["ERROR: smconform: spec file not found: nope.yaml"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_bad_user_spec_lists_every_problem_at_file_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", mine="schema: smconform-spec/1\nprofile: mine\nextends: jupyterlab\n"
                                    "requirements:\n  - id: X-1\n    level: NOPE\n  - id: lower\n")
    result = pytester.runpytest_subprocess("--smconform=mine", "img:1", "--smconform-spec=mine.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mine.yaml:6: requirements/0/level: 'NOPE' is not one of*",
                                 "*mine.yaml:7: requirements/1/id: 'lower' does not match*"])


def test_no_image_given(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform=jupyterlab")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: smconform: no image given: pytest --smconform=jupyterlab IMAGE[:TAG]"])


def test_dead_engine_is_a_clear_error_and_the_report_says_incomplete(pytester: pytest.Pytester) -> None:
    report = pytester.path / "r.json"
    env_result = pytester.run(
        "env", "DOCKER_HOST=unix:///nonexistent/docker.sock", "python", "-m", "pytest",
        "--smconform=jupyterlab", "img:1", f"--smconform-report={report}", "-p", "no:cacheprovider")
    assert env_result.ret == pytest.ExitCode.USAGE_ERROR
    env_result.stderr.fnmatch_lines(
        ["ERROR: smconform: cannot reach the Docker engine*start dockerd or set DOCKER_HOST"])
    assert "Traceback" not in env_result.stderr.str()
    import json

    data = json.loads(report.read_text())
    assert data["verdict"] == "incomplete" and data["run"]["error"]
    assert {r["outcome"] for r in data["results"]} == {"skipped"}


def test_missing_image_is_a_clear_error(pytester: pytest.Pytester) -> None:
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "smconform-no-such-image:0",
                                           f"--smconform-report={report}")
    if "cannot reach the Docker engine" in result.stderr.str():
        pytest.skip("no Docker engine here")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: smconform: image 'smconform-no-such-image:0' is not on the engine;*"])
    assert "incomplete" in report.read_text()


def test_plugin_stays_out_of_the_way_without_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)

