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
                    *docs("good-workspaces.yaml", kind="workspace"))
    outcomes = run.outcomes()
    assert {i: outcomes[i] for i in DOC_IDS} == dict.fromkeys(DOC_IDS, "passed"), run.result.stdout.str()[-3000:]
    # no image: the image rules do not apply; the lifecycle script is judged as a document
    assert {i for i in IMAGE_IDS if outcomes[i] == "skipped"} == IMAGE_IDS - {"SP-LIFECYCLE"}
    assert outcomes["SP-LIFECYCLE"] == "passed"
    spellings = {(d["name"], d["idle_spelling"]) for d in run.report["spaces_documents"]}
    assert ("on-the-edges", "seed") in spellings and ("team-template", "operator") in spellings


@pytest.mark.unit
def test_documents_that_break_every_rule(run_suite: Any) -> None:
    run = run_suite("spaces", None, *docs("bad-templates.yaml"), *docs("bad-workspaces.yaml", kind="workspace"))
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
    assert set(run.outcomes().values()) == {"skipped"}
