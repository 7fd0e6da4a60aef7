"""Certification options that fail before any container starts: one line, a usage exit code."""

from __future__ import annotations

import pytest
from installed_scripts import installed_script

pytestmark = pytest.mark.unit


def test_certify_into_a_foreign_non_empty_directory_is_refused(pytester: pytest.Pytester) -> None:
    (pytester.path / "out").mkdir()
    (pytester.path / "out" / "notes.txt").write_text("mine\n")
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "img:1", "--smconform-certify=out")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: smconform: --smconform-certify: out is not empty and holds no bundle*"])
    assert (pytester.path / "out" / "notes.txt").read_text() == "mine\n"


def test_an_image_file_that_cannot_be_read(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "--smconform-image=@refs.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: smconform: --smconform-image @refs.txt: cannot read refs.txt*"])
    (pytester.path / "refs.txt").write_text("# nothing but a comment\n\n")
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "--smconform-image=@refs.txt")
    result.stderr.fnmatch_lines(["ERROR: smconform: --smconform-image @refs.txt: no image refs in refs.txt"])


def test_the_same_image_twice(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform=jupyterlab", "img:1", "--smconform-image=img:1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: smconform: an image is given twice: img:1, img:1"])


def test_smconform_command_usage(pytester: pytest.Pytester) -> None:
    script = str(installed_script("smconform"))
    assert pytester.run(script, "verify").ret == 2
    result = pytester.run(script, "frobnicate")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["ERROR: smconform: unknown command 'frobnicate'"])


def test_rerun_from_something_that_is_not_a_bundle(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--smconform-rerun-failed=nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: smconform: --smconform-rerun-failed: cannot read nowhere*"])
    (pytester.path / "r.json").write_text("[1, 2]\n")
    result = pytester.runpytest_subprocess("--smconform-rerun-failed=r.json")
    result.stderr.fnmatch_lines(["ERROR: smconform: --smconform-rerun-failed: r.json is not an smconform report"])


def test_compare_needs_two_readable_reports(pytester: pytest.Pytester) -> None:
    script = str(installed_script("smconform"))
    (pytester.path / "a.json").write_text('{"profile": "jupyterlab", "image": {"ref": "a"}, "results": []}')
    assert pytester.run(script, "compare", "a.json").ret == 2
    result = pytester.run(script, "compare", "a.json", "b.json")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["ERROR: smconform compare: cannot read b.json*"])
