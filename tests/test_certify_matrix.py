"""Several images: one run over both (xdist, a worker per image) and the tox pattern (a run per tag,
then `smconform compare`); both show the requirement that changed verdict between the tags."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from installed_scripts import installed_script

from pytest_smconform.certify import layout
from pytest_smconform.certify.verify import verify

pytestmark = pytest.mark.docker
ITEM_LINE = re.compile(r"^\[(gw\d+)\] \[\s*\d+%\] (PASSED|FAILED|SKIPPED|XFAIL|ERROR) "
                       r"smconform-jupyterlab\[([^\]]+)\]::(\S+)")


@pytest.fixture(scope="module")
def tags(fixture_image: object) -> tuple[str, str]:
    assert callable(fixture_image)
    return fixture_image("jupyterlab", "conforming"), fixture_image("jupyterlab", "jl-port")


@pytest.fixture(scope="module")
def matrix_run(tmp_path_factory: pytest.TempPathFactory, tags: tuple[str, str]) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("matrix")
    (work / "tags.txt").write_text(f"# the tags to compare\n{tags[0]}\n{tags[1]}\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--smconform=jupyterlab",
         "--smconform-image=@tags.txt", "-n", "2", "-v", "--smconform-report=report.json",
         "--smconform-certify=bundle", "--smconform-level=must"],  # JL-STOP's real-time SHOULD does not count
        cwd=work, capture_output=True, text=True, timeout=900)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout[-3000:] + result.stderr[-2000:]
    return work, result.stdout


def test_node_ids_carry_the_image_and_each_image_stays_on_one_worker(matrix_run: tuple[Path, str],
                                                                     tags: tuple[str, str]) -> None:
    _, out = matrix_run
    workers: dict[str, set[str]] = {}
    ids: dict[str, set[str]] = {}
    for line in out.splitlines():
        match = ITEM_LINE.match(line)
        if match:
            workers.setdefault(match.group(3), set()).add(match.group(1))
            ids.setdefault(match.group(3), set()).add(match.group(4))
    assert set(workers) == set(tags)
    assert all(len(w) == 1 for w in workers.values()), workers  # no two workers on one image's containers
    assert ids[tags[0]] == ids[tags[1]] and "JL-PORT" in ids[tags[0]]


def test_the_report_has_a_section_per_image_and_the_comparison(matrix_run: tuple[Path, str],
                                                              tags: tuple[str, str]) -> None:
    work, out = matrix_run
    report = json.loads((work / "report.json").read_text())
    assert [s["image"]["ref"] for s in report["images"]] == list(tags)
    assert [s["verdict"] for s in report["images"]] == ["conformant", "not-conformant"]
    assert report["verdict"] == "not-conformant"
    row = next(r for r in report["comparison"]["rows"] if r["id"] == "JL-PORT")
    assert row["outcomes"] == {tags[0]: "passed", tags[1]: "failed"} and row["changed"]
    assert "JL-PORT" in report["comparison"]["changed"] and "JL-WORKDIR" not in report["comparison"]["changed"]
    # The terminal: a section per image and the table of what changed.
    assert f"--- image {tags[0]}: conformant" in out and f"--- image {tags[1]}: not-conformant" in out
    assert re.search(r"^  JL-PORT\s+passed\s+failed\s*$", out, re.MULTILINE)


def test_the_matrix_bundle_refuses_only_the_failing_tag(matrix_run: tuple[Path, str], tags: tuple[str, str]) -> None:
    work, _ = matrix_run
    problems, _ = verify(work / "bundle")
    assert problems and all(p.startswith(f"image {tags[1]}: MUST requirement") for p in problems), problems
    assert any("JL-PORT failed" in p for p in problems)
    summary = (work / "bundle" / layout.SUMMARY_MD).read_text()
    assert "## Comparison between images" in summary
    assert re.search(r"^\| JL-PORT \(changed\) \| MUST \| passed \| failed \|$", summary, re.MULTILINE)
    env = json.loads((work / "bundle" / layout.ENVIRONMENT).read_text())
    assert [len(image["logs"]) > 0 for image in env["images"]] == [True, True]  # each worker's logs came back


def test_tox_p_over_two_tags_then_the_matrix_env(tmp_path: Path, tags: tuple[str, str]) -> None:
    """`tox p -e image-conforming,image-port` (a run and a report per tag, in parallel), then `tox -e matrix`."""
    tox = installed_script("tox")
    repo = Path(__file__).resolve().parent.parent
    work = tmp_path / "tox"
    parallel = subprocess.run([str(tox), "p", "-e", "image-conforming,image-port", "--workdir", str(work),
                               "--", "--smconform-level=must"],  # JL-STOP's real-time SHOULD does not count
                              cwd=repo, capture_output=True, text=True, timeout=1200)
    assert parallel.returncode == 0, parallel.stdout[-3000:] + parallel.stderr[-2000:]
    reports = {name: json.loads((work / "reports" / f"image-{name}.json").read_text())
               for name in ("conforming", "port")}
    assert reports["conforming"]["image"]["ref"] == tags[0] and reports["port"]["image"]["ref"] == tags[1]
    assert (work / "bundles" / "image-port" / layout.MANIFEST).is_file()
    matrix = subprocess.run([str(tox), "-e", "matrix", "--workdir", str(work)],
                            cwd=repo, capture_output=True, text=True, timeout=600)
    assert matrix.returncode == 0, matrix.stdout[-3000:] + matrix.stderr[-2000:]
    assert re.search(r"^  JL-PORT\s+passed\s+failed\s*$", matrix.stdout, re.MULTILINE)
    assert f"{tags[1]}: not-conformant" in matrix.stdout and f"{tags[0]}: conformant" in matrix.stdout
    assert "| JL-PORT (changed) | MUST | passed | failed |" in (work / "reports" / "comparison.md").read_text()


def test_tox_ini_declares_the_matrix(tags: tuple[str, str]) -> None:
    text = (Path(__file__).resolve().parent.parent / "tox.ini").read_text()
    for env in ("[testenv:lint]", "[testenv:type]", "[testenv:unit]", "[testenv:docker]", "[testenv:cluster]",
                "[testenv:image-{conforming,port}]", "[testenv:matrix]"):
        assert env in text
    assert all(tag in text for tag in tags) and "smconform compare" in text
