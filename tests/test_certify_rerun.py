"""Re-running what failed in a bundle, and reproducing a fuzzed failure from its seed.

The jl-env-fuzzed mutant drops ContainerEnvironment variables named SMCONFORM_*, a name only
Hypothesis' draws use: the platform launch passes and only a fuzzed launch fails.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_smconform.certify import layout
from pytest_smconform.certify.verify import verify

pytestmark = pytest.mark.docker
SEED = 4242
EXAMPLE = re.compile(r"ContainerEnvironment \(Hypothesis, --smconform-seed (\d+)\): (\{.*\})")


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def failed_bundle(tmp_path_factory: pytest.TempPathFactory, fixture_image: object) -> tuple[Path, str]:
    assert callable(fixture_image)
    image = fixture_image("jupyterlab", "jl-env-fuzzed")
    work = tmp_path_factory.mktemp("rerun")
    # Without JL-STOP, which times `docker stop` in real time: only the mutant's failure is re-run.
    result = _pytest(work, "--smconform=jupyterlab", image, f"--smconform-seed={SEED}",
                     f"--smconform-certify={work / 'bundle'}", "-k", "not JL-STOP")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout[-3000:]
    return work / "bundle", result.stdout


def test_a_fuzzed_failure_prints_seed_example_and_container_command(failed_bundle: tuple[Path, str]) -> None:
    _, out = failed_bundle
    match = EXAMPLE.search(out)
    assert match is not None and int(match.group(1)) == SEED
    assert "SMCONFORM_" in match.group(2)
    after = out[match.end():].splitlines()
    assert after[1].strip().startswith("cid=$(docker create ")  # the example's exact container
    assert f"run it again: pytest --smconform=jupyterlab smconform-fixture/jupyterlab-jl-env-fuzzed:latest " \
           f"--smconform-seed={SEED} -k JL-ENV-PRECEDENCE" in out


def test_a_failing_bundle_is_refused_by_verify(failed_bundle: tuple[Path, str]) -> None:
    problems, report = verify(failed_bundle[0])
    assert report is not None and report["verdict"] == "not-conformant"
    assert any("MUST requirement JL-ENV-PRECEDENCE failed" in p for p in problems)
    assert not [p for p in problems if p.startswith(("hash mismatch", "missing file", "unlisted file"))]


def test_rerun_repeats_only_the_failure_with_the_same_example(failed_bundle: tuple[Path, str],
                                                              tmp_path: Path) -> None:
    bundle, first = failed_bundle
    result = _pytest(tmp_path, f"--smconform-rerun-failed={bundle}", f"--smconform-report={tmp_path / 'r.json'}")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout[-3000:]
    assert f"seed {SEED}" in result.stdout
    assert re.search(r"1 failed, \d+ deselected", result.stdout)
    first_example = EXAMPLE.search(first)
    again = EXAMPLE.search(result.stdout)
    assert first_example is not None and again is not None
    assert again.group(2) == first_example.group(2)  # the same seed drew the same failing example
    report = json.loads((tmp_path / "r.json").read_text())
    ran = {r["id"]: r["outcome"] for r in report["results"] if r["message"] != "not selected in this run"}
    assert ran == {"JL-ENV-PRECEDENCE": "failed"}


def test_rerun_refuses_another_seed(failed_bundle: tuple[Path, str], tmp_path: Path) -> None:
    result = _pytest(tmp_path, f"--smconform-rerun-failed={failed_bundle[0]}", "--smconform-seed=1")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: smconform: --smconform-rerun-failed: the bundle ran with seed {SEED}; --smconform-seed 1 " \
           "would not repeat it" in result.stderr


def test_rerun_refuses_an_image_that_changed(failed_bundle: tuple[Path, str], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(failed_bundle[0], tmp_path / "copy"))
    report = json.loads((copy / layout.REPORT).read_text())
    report["image"]["id"] = "sha256:" + "0" * 64  # as if the tag had been rebuilt since
    (copy / layout.REPORT).write_text(json.dumps(report))
    result = _pytest(tmp_path, f"--smconform-rerun-failed={copy}")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert re.search(r"ERROR: smconform: --smconform-rerun-failed: smconform-fixture/jupyterlab-jl-env-fuzzed:latest "
                     r"is now sha256:[0-9a-f]{64}, but the bundle checked sha256:0{64}", result.stderr)
    assert "Traceback" not in result.stderr


def test_rerun_of_a_bundle_where_nothing_failed(failed_bundle: tuple[Path, str], tmp_path: Path) -> None:
    copy = Path(shutil.copytree(failed_bundle[0], tmp_path / "copy"))
    report = json.loads((copy / layout.REPORT).read_text())
    for entry in report["results"]:
        entry["outcome"] = "passed"
        entry.pop("reason", None)
    (copy / layout.REPORT).write_text(json.dumps(report))
    result = _pytest(tmp_path, f"--smconform-rerun-failed={copy}")
    assert result.returncode == 0
    assert f"nothing failed in {copy}; nothing to re-run" in result.stdout + result.stderr
