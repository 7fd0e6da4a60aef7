"""The spaces profile end to end: documents-only runs, then the image run as a HyperPod workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data" / "spaces"
DOC_IDS = {"SP-TPL-SCHEMA", "SP-TPL-CONSISTENT", "SP-TPL-IMAGE", "SP-TPL-RESOURCES", "SP-TPL-STORAGE",
           "SP-TPL-IDLE", "SP-TPL-INHERIT", "SP-TPL-APPTYPE", "SP-TPL-MEMORY", "SP-TPL-COMPLIANCE"}
IMAGE_IDS = {"SP-PORT", "SP-CURL", "SP-IDLE-ENDPOINT", "SP-REMOTE-DEPS", "SP-FSGROUP", "SP-LIFECYCLE",
             "SP-SMD-VERSION"}


def docs(*names: str, kind: str = "template") -> list[str]:
    return [f"--smconform-{kind}={DATA / name}" for name in names]


@pytest.mark.unit
def test_documents_that_follow_every_rule(run_suite: Any) -> None:
    run = run_suite("spaces", None, *docs("good-templates.yaml", "good-template-edit.yaml"),
                    *docs("good-workspaces.yaml", kind="workspace"), "--smconform-option=remote_access=true")
    outcomes = run.outcomes()
    assert {i: outcomes[i] for i in DOC_IDS} == dict.fromkeys(DOC_IDS, "passed"), run.result.stdout.str()[-3000:]
    # no image: the image rules do not apply; the lifecycle script is judged as a document
    assert {i for i in IMAGE_IDS if outcomes[i] == "skipped"} == IMAGE_IDS - {"SP-LIFECYCLE"}
    assert outcomes["SP-LIFECYCLE"] == "passed"
    spellings = {(d["name"], d["idle_spelling"]) for d in run.report["spaces_documents"]}
    assert ("on-the-edges", "seed") in spellings and ("team-template", "operator") in spellings


@pytest.mark.unit
def test_documents_that_break_every_rule(run_suite: Any) -> None:
    run = run_suite("spaces", None, *docs("bad-templates.yaml"), *docs("bad-workspaces.yaml", kind="workspace"),
                    "--smconform-option=remote_access=true")
    assert run.failed_ids() == DOC_IDS | {"SP-LIFECYCLE"}, run.result.stdout.str()[-3000:]
    out = run.result.stdout.str()
    # every violation names the document (file:line), the field, the value and the bound
    assert f"{DATA / 'bad-workspaces.yaml'}:" in out
    assert "spec.imagee" in out and "unknown field 'imagee'" in out
    assert "Image 'custom/unauthorized:latest' is not allowed by template 'strict-template'" in out
    assert "nvidia.com/mig-2g.10gb request 2 exceeds maximum 1" in out
    assert "Idle timeout 45 minutes is outside the range [30, 30]" in out
    assert "admitted under the earlier version of template 'strict-template'" in out
    assert "the script is 1" in out and "at most 1024" in out


@pytest.mark.unit
def test_seed_examples_with_their_verdicts(run_suite: Any) -> None:
    run = run_suite("spaces", None,
                    *docs("seed-jupyter-template.yaml", "seed-code-editor-template.yaml", "seed-idle-template.yaml",
                          "seed-locked-template.yaml"),
                    *docs("seed-standalone-workspace.yaml", "seed-override-workspace.yaml", kind="workspace"))
    # the seed's idle template has its default (30) below its own minimum (60)
    assert run.failed_ids() == {"SP-TPL-CONSISTENT"}, run.result.stdout.str()[-3000:]
    assert run.outcome("SP-TPL-IDLE") == "passed"
    assert run.outcome("SP-TPL-COMPLIANCE") == "skipped"


@pytest.mark.unit
def test_nothing_given_means_nothing_applies(run_suite: Any) -> None:
    run = run_suite("spaces", None)
    wrapped = {"IMG-RESERVED-OPTML", "IMG-RESERVED-INTERNAL", "IMG-RESERVED-LOGS", "IMG-LAYER-IDS", "IMG-ARCH"}
    ours = {i: o for i, o in run.outcomes().items() if i.startswith("SP-") or i in wrapped}
    assert set(ours) >= DOC_IDS | IMAGE_IDS | wrapped
    assert set(ours.values()) == {"skipped"}


# -- the image, run as a workspace pod ------------------------------------------------------------

MUTANTS = ["sp-port", "loopback-only", "sp-curl", "sp-remote-deps", "sp-idle-endpoint", "sp-fsgroup", "sp-smd-version"]


@pytest.mark.docker
def test_conforming_image_with_documents_passes_everything(fixture_image: Any, run_suite: Any) -> None:
    image = fixture_image("spaces", "conforming")
    run = run_suite("spaces", image, *docs("good-templates.yaml", "good-template-edit.yaml"),
                    *docs("good-workspaces.yaml", kind="workspace"), "--smconform-option=remote_access=true")
    outcomes = run.outcomes()
    assert run.failed_ids() == set(), run.result.stdout.str()[-4000:]
    # not an SMD image: SP-SMD-VERSION does not apply (nor do the GPU rules, nor SP-LIVE-AGREES without a
    # cluster); everything else passes
    assert {i for i, o in outcomes.items() if o != "passed" and not i.startswith("IMG-GPU-")} == {
        "SP-SMD-VERSION", "SP-LIVE-AGREES"}
    assert all(outcomes[i] == "passed" for i in DOC_IDS | IMAGE_IDS - {"SP-SMD-VERSION"})
    assert "lastActiveTimestamp" in run.entry("SP-IDLE-ENDPOINT")["message"]


@pytest.mark.docker
def test_smd_labelled_image_of_a_recent_version_passes(fixture_image: Any, run_suite: Any) -> None:
    run = run_suite("spaces", fixture_image("spaces", "conforming-smd"))
    assert run.failed_ids() == set(), run.result.stdout.str()[-4000:]
    assert run.outcome("SP-SMD-VERSION") == "passed"


@pytest.mark.docker
@pytest.mark.parametrize("mutant", MUTANTS)
def test_mutant_fails_exactly_its_requirement(fixture_image: Any, run_suite: Any, mutant: str) -> None:
    run = run_suite("spaces", fixture_image("spaces", mutant))
    expected = "SP-PORT" if mutant == "loopback-only" else mutant.upper()
    assert run.failed_ids() == {expected}, run.result.stdout.str()[-4000:]


@pytest.mark.docker
def test_lifecycle_mutant_fails_with_a_template_script(fixture_image: Any, run_suite: Any) -> None:
    run = run_suite("spaces", fixture_image("spaces", "sp-lifecycle"), *docs("good-templates.yaml"))
    assert run.failed_ids() == {"SP-LIFECYCLE"}, run.result.stdout.str()[-4000:]


@pytest.mark.docker
def test_every_image_requirement_has_a_mutant() -> None:
    fixtures = Path(__file__).parent.parent / "fixtures" / "images" / "spaces"
    assert {p.name.upper() for p in fixtures.iterdir() if p.name.startswith("sp-")} == IMAGE_IDS


@pytest.mark.docker
def test_idle_probe_under_a_base_path_the_image_does_not_serve_is_a_404(fixture_image: Any, run_suite: Any) -> None:
    # The operator joins the workspace's application base path with /api/idle; an image serving at /
    # answers 404 there, which silently disables idle shutdown (reference jupyter-k8s.md §12).
    run = run_suite("spaces", fixture_image("spaces", "conforming"), "--smconform-option=base_url=/workspaces/ns/w",
                    "-k", "SP-IDLE-ENDPOINT or SP-CURL")
    assert run.outcome("SP-IDLE-ENDPOINT") == "failed"
    assert "404" in run.entry("SP-IDLE-ENDPOINT")["message"]
    assert "/workspaces/ns/w/api/idle" in run.entry("SP-IDLE-ENDPOINT")["message"]
