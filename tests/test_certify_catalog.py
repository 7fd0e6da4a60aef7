"""--smconform-list and --smconform-explain: printed from the specs, with no engine at all."""

from __future__ import annotations

import sys

import pytest

from pytest_smconform.certify.sources import candidate_dirs, seed_file
from pytest_smconform.checks import known_kinds
from pytest_smconform.platform import known_platforms
from pytest_smconform.spec.loader import SpecSet, shipped_spec_files

pytestmark = pytest.mark.unit
NO_ENGINE = "DOCKER_HOST=unix:///nonexistent/docker.sock"


def _profile(name: str):  # type: ignore[no-untyped-def]
    return SpecSet(shipped_spec_files()).resolve(name, {}, known_kinds(), known_platforms())


def test_list_prints_every_requirement_without_an_engine(pytester: pytest.Pytester) -> None:
    result = pytester.run("env", NO_ENGINE, sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                          "--smconform=jupyterlab", "--smconform-list")
    assert result.ret == 0, result.stderr.str()
    out = result.stdout.str()
    profile = _profile("jupyterlab")
    for req in profile.requirements:
        line = next(line for line in out.splitlines() if line.startswith(req.id + " "))
        assert req.level in line and "+".join(req.how) in line and req.rule[:40] in line
    assert "port = 8888" in out and "collected" not in out


def test_list_needs_a_profile(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform-list")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: smconform: --smconform-list needs a profile*"])


def test_explain_gives_rule_source_passage_and_how(pytester: pytest.Pytester) -> None:
    result = pytester.run("env", NO_ENGINE, sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                          "--smconform-explain=JL-WORKDIR")
    assert result.ret == 0, result.stderr.str()
    out = result.stdout.str()
    assert "JL-WORKDIR (MUST, profile jupyterlab)" in out
    assert "WORKDIR is /home/sagemaker-user or below." in out
    assert "check kind `workdir-under`" in out or "check kind `" in out
    assert "how to fix a failure:" in out
    if seed_file("000", candidate_dirs()) is None:
        assert "seed 000: document not found" in out
    else:
        # The German page's WORKDIR passage: the one that names the home path.
        assert 'seed 000, "Dockerfile-Spezifikationen' in out
        passage = " ".join(line.strip("> ").strip() for line in out.splitlines() if line.strip().startswith(">"))
        assert "WORKDIR" in passage and "/home/sagemaker-user" in passage


def test_explain_run_requirement_names_its_launch(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "--smconform-explain=JL-HEALTH")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*on a real container: launch `studio` (studio platform)*"])


def test_explain_unknown_id_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform=processing", "--smconform-explain=JL-HEALTH")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: smconform: --smconform-explain: no requirement 'JL-HEALTH' in profile processing"])
    assert "Traceback" not in result.stderr.str()
