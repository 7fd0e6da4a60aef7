"""Certification bundles: a run on the conforming fixture verifies; hand edits are refused with the reason."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import chromium
import pytest
from installed_scripts import installed_script

from conftest import fixture_ref
from pytest_smconform.certify import layout
from pytest_smconform.certify.summary import VERDICT_COLOURS
from pytest_smconform.certify.verify import main as verify_main

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, fixture_image: object) -> Path:
    """One certification run of the conforming jupyterlab fixture for the whole module."""
    assert callable(fixture_image)
    image = fixture_image("jupyterlab", "conforming")
    work = tmp_path_factory.mktemp("certify")
    target = work / "bundle"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--smconform=jupyterlab", image,
         f"--smconform-certify={target}", "--smconform-seed=4242",
         # JL-STOP (SHOULD) times `docker stop` in real time; on a saturated host it can run late.
         "--smconform-level=must"],
        cwd=work, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"certification bundle: {target}" in result.stdout
    return target


def _copy(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "copy"))


def _verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = verify_main([str(path)])
    return code, capsys.readouterr().out.splitlines()


def test_the_bundle_holds_every_piece(bundle: Path) -> None:
    for name in layout.FIXED_FILES:
        assert (bundle / name).is_file(), name
    report = json.loads((bundle / layout.REPORT).read_text())
    env = json.loads((bundle / layout.ENVIRONMENT).read_text())
    assert report["verdict"] == "conformant" and report["image"]["ref"] == fixture_ref("jupyterlab", "conforming")
    facts = json.loads((bundle / layout.image_file(1, report["image"]["ref"])).read_text())
    assert facts["id"] == report["image"]["id"] and facts["platform"] == "linux/amd64"
    assert facts["size"] > 0 and facts["config"]["Entrypoint"]
    assert env["seed"] == 4242 and env["hypothesis"]["seed"] == 4242 and env["engine"]["ApiVersion"]
    assert {Path(s["origin"]).name for s in env["spec_files"]} >= {"jupyterlab.yaml", "common.yaml"}
    for spec in env["spec_files"]:
        assert layout.sha256_of(bundle / spec["file"]) == layout.sha256_of(Path(spec["origin"]))
    # Every container the run started left its log tail, with the command that started it.
    logs = [bundle / rel for rel in env["images"][0]["logs"]]
    assert len(logs) >= 2 and all("docker" in p.read_text().splitlines()[2] for p in logs)
    assert any("Jupyter" in p.read_text() or "jupyter" in p.read_text() for p in logs)


def test_manifest_covers_every_file_with_its_sha256(bundle: Path) -> None:
    listed = layout.parse_manifest((bundle / layout.MANIFEST).read_text())
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {layout.MANIFEST}
    assert set(listed) == files
    assert all(layout.sha256_of(bundle / rel) == digest for rel, digest in listed.items())


def test_junit_testcases_carry_requirement_level_source_and_a_title(bundle: Path) -> None:
    root = ET.fromstring((bundle / layout.JUNIT).read_text())
    cases = list(root.iter("testcase"))
    report = json.loads((bundle / layout.REPORT).read_text())
    assert len(cases) == len(report["results"])
    health = next(c for c in cases if c.get("name", "").startswith("JL-HEALTH "))
    props = {p.get("name"): p.get("value") for p in health.iter("property")}
    assert props["requirement"] == "JL-HEALTH" and props["level"] == "MUST" and props["source"] == "seed 000"
    assert health.get("name") == "JL-HEALTH (MUST): " + next(r["rule"] for r in report["results"]
                                                             if r["id"] == "JL-HEALTH")
    # Titles, not raw commands: each name is "ID (LEVEL): rule".
    assert all(c.get("name", "").startswith(c.find("properties/property").get("value", "?") + " (")  # type: ignore[union-attr]
               and "docker run" not in c.get("name", "") for c in cases)


def test_summaries_have_a_row_per_requirement(bundle: Path) -> None:
    report = json.loads((bundle / layout.REPORT).read_text())
    markdown = (bundle / layout.SUMMARY_MD).read_text()
    page = (bundle / layout.SUMMARY_HTML).read_text()
    assert "**Verdict: CONFORMANT**" in markdown and "Verdict: CONFORMANT" in page
    for entry in report["results"]:
        row = next(line for line in markdown.splitlines() if line.startswith(f"| {entry['id']} |"))
        assert f"| {entry['outcome']} |" in row
        assert f"<td>{entry['id']}</td>" in page
    skipped = next(r for r in report["results"] if r["outcome"] == "skipped")
    assert skipped["message"].split(":")[0] in markdown  # the reason is given


def test_the_bundle_verifies(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _verify(bundle, capsys)
    assert code == 0, lines
    assert lines[-1].endswith("verified; profile jupyterlab, smconform-fixture/jupyterlab-conforming:latest: "
                              "conformant")


def test_a_flipped_result_is_refused_with_the_reason(bundle: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    copy = _copy(bundle, tmp_path)
    report = json.loads((copy / layout.REPORT).read_text())
    entry = next(r for r in report["results"] if r["id"] == "JL-PORT")
    entry["outcome"], entry["message"] = "failed", "edited by hand"
    (copy / layout.REPORT).write_text(json.dumps(report))
    code, lines = _verify(copy, capsys)
    assert code == 1
    assert "REFUSED: hash mismatch: report.json was changed after the bundle was written" in lines
    assert any("MUST requirement JL-PORT failed: edited by hand" in line for line in lines)
    assert any("recorded verdict 'conformant' but the results give 'not-conformant'" in line for line in lines)


def test_a_flip_with_a_rewritten_manifest_is_still_refused(bundle: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Someone who also fixes the hashes and the verdict is caught by the JUnit file disagreeing."""
    copy = _copy(bundle, tmp_path)
    report = json.loads((copy / layout.REPORT).read_text())
    entry = next(r for r in report["results"] if r["id"] == "JL-WORKDIR")
    entry["outcome"] = "failed"
    report["verdict"] = "not-conformant"
    (copy / layout.REPORT).write_text(json.dumps(report))
    files = sorted(p for p in copy.rglob("*") if p.is_file() and p.name != layout.MANIFEST)
    (copy / layout.MANIFEST).write_text("".join(f"{layout.sha256_of(p)}  {p.relative_to(copy).as_posix()}\n"
                                                for p in files))
    code, lines = _verify(copy, capsys)
    assert code == 1
    assert any("JL-WORKDIR is failed in report.json but passed in junit.xml" in line for line in lines)


def test_a_removed_file_is_refused(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = _copy(bundle, tmp_path)
    (copy / layout.SUMMARY_HTML).unlink()
    code, lines = _verify(copy, capsys)
    assert code == 1 and "REFUSED: missing file summary.html (listed in MANIFEST.sha256)" in lines


def test_an_added_file_is_refused(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = _copy(bundle, tmp_path)
    (copy / "extra.txt").write_text("slipped in\n")
    code, lines = _verify(copy, capsys)
    assert code == 1 and "REFUSED: unlisted file extra.txt (not in MANIFEST.sha256)" in lines


def test_the_console_script_and_module_agree(bundle: Path) -> None:
    script = installed_script("smconform")
    for argv in ([str(script), "verify", str(bundle)], [sys.executable, "-m", "pytest_smconform.certify.verify",
                                                        str(bundle)]):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "verified" in result.stdout
    missing = subprocess.run([str(script), "verify", str(bundle / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("ERROR: smconform verify:")


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@pytest.mark.skipif(chromium.executable() is None,
                    reason="Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)")
def test_the_html_summary_renders_in_a_real_browser(bundle: Path, tmp_path: Path) -> None:
    page = bundle / layout.SUMMARY_HTML
    report = json.loads((bundle / layout.REPORT).read_text())
    dom = chromium.dump_dom(page, tmp_path / "profile-dom")
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "Verdict: CONFORMANT" in text
    assert all(entry["id"] in text for entry in report["results"])
    shot = chromium.read_png(chromium.screenshot(page, tmp_path / "profile-shot", tmp_path / "shot.png"))
    assert shot.width == 1280 and shot.distinct_colours() > 50  # not a blank page
    green = _hex(VERDICT_COLOURS["conformant"])
    per_row: dict[int, list[int]] = {}
    for x, y in shot.matching(green):
        per_row.setdefault(y, []).append(x)
    # The banner: rows more than half green, together, near the top (green "passed" words elsewhere are small).
    rows = sorted(y for y, xs in per_row.items() if len(xs) > shot.width // 2)
    assert len(rows) >= 40 and rows[-1] - rows[0] == len(rows) - 1 and rows[-1] < shot.height // 3, rows
    left, right = min(per_row[rows[0]]), max(per_row[rows[0]])
    # White text (the verdict) is drawn inside the banner.
    inside = [px for row in shot.pixels[rows[0]:rows[-1]] for px in row[left:right]]
    assert sum(1 for px in inside if min(px) > 240) > 200
    for other in ("not-conformant", "incomplete"):
        assert not shot.matching(_hex(VERDICT_COLOURS[other]), tolerance=2)


def test_a_processing_bundle_keeps_the_log_of_every_job_container(tmp_path: Path, fixture_image: object) -> None:
    """Processing jobs run outside the launches (the job emulator): their containers' logs are kept too."""
    assert callable(fixture_image)
    target = tmp_path / "bundle"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--smconform=processing",
         fixture_image("processing", "conforming"), f"--smconform-certify={target}", "-k", "PR-DEFAULT-RUN"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert f"certification bundle: {target}" in result.stdout, result.stdout[-3000:]
    report = json.loads((target / layout.REPORT).read_text())
    env = json.loads((target / layout.ENVIRONMENT).read_text())
    job = next(job for job in report["jobs"] if job["scenario"] == "default")
    container = job["containers"][0]["container"]
    logs = {Path(rel).name: (target / rel).read_text() for rel in env["images"][0]["logs"]}
    default = [text for name, text in logs.items() if "-job_default_algo-1-" in name]
    assert len(default) == 1, sorted(logs)
    lines = default[0].splitlines()
    assert lines[0] == f"# launch job default algo-1, container {container}"
    assert any(line.startswith("#   docker create ") for line in lines)
    assert any("algo-1 (rank 0 of 1)" in line for line in lines if not line.startswith("#"))
