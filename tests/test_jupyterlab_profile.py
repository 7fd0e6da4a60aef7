"""The jupyterlab profile end to end on real containers: the conforming image passes, each mutant
fails on exactly the requirement it breaks, and nothing is left on the engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fixture_catalog import IMAGES, mutants, samples

pytestmark = pytest.mark.docker
PROFILE = "jupyterlab"


def _leftovers(run: Any) -> list[str]:
    """What this suite run left on the engine (other runs may be going on at the same time)."""
    import docker

    api = docker.from_env().api
    label = {"label": f"io.smconform.run={run.report['run']['id']}"}
    found = [c["Id"][:12] for c in api.containers(all=True, filters=label)]
    found += [v["Name"] for v in (api.volumes(filters=label) or {}).get("Volumes") or []]
    found += [n["Name"] for n in api.networks(filters=label)]
    return found


def test_conforming_image_is_conformant(fixture_image: Any, run_suite: Any) -> None:
    run = run_suite(PROFILE, fixture_image(PROFILE, "conforming"))
    assert run.failed_ids() == set(), run.result.stdout.str()[-3000:]
    assert run.report["verdict"] == "conformant"
    assert run.report["schema"] == "smconform-report/1"
    assert run.report["image"]["id"].startswith("sha256:")
    not_applicable = {e["id"] for e in run.report["results"] if e.get("reason") == "not-applicable"}
    # Nothing declared, and no GPU here: those do not apply; everything else passes.
    assert "JL-CONTAINER-CONFIG" in not_applicable and not_applicable <= {"JL-CONTAINER-CONFIG", "IMG-GPU-TOOLKIT",
                                                                          "IMG-GPU-VISIBLE", "IMG-GPU-NODRIVER"}
    assert {e["outcome"] for e in run.report["results"] if e["id"] not in not_applicable} == {"passed"}
    health = run.entry("JL-HEALTH")
    assert health["how"] == "run" and "answered 200 after" in health["message"]
    assert run.entry("IMG-LAYER-IDS")["how"] == "static"
    run.result.stdout.fnmatch_lines(["*launch studio (as the platform launches it): ready after *"])
    assert _leftovers(run) == []


def test_conforming_image_with_a_declared_container_config(fixture_image: Any, run_suite: Any,
                                                           tmp_path: Path) -> None:
    config = tmp_path / "cc.json"
    config.write_text(json.dumps({"ContainerEnvironmentVariables": {"MY_SETTING": "1", "AWS_REGION": "mine"}}))
    run = run_suite(PROFILE, fixture_image(PROFILE, "conforming"), f"--smconform-container-config={config}",
                    "-k", "JL-CONTAINER-CONFIG or JL-ENV-PRECEDENCE", "--smconform-option=fuzz_examples=1")
    assert run.outcome("JL-CONTAINER-CONFIG") == "passed"
    assert run.outcome("JL-ENV-PRECEDENCE") == "passed"
    assert run.entry("JL-UID")["message"] == "not selected in this run"
    over = tmp_path / "over.json"
    over.write_text(json.dumps({"ContainerArguments": ["x" * 65]}))
    run = run_suite(PROFILE, fixture_image(PROFILE, "conforming"), f"--smconform-container-config={over}",
                    "-k", "JL-CONTAINER-CONFIG")
    assert run.outcome("JL-CONTAINER-CONFIG") == "failed"
    assert "ContainerArguments[0] is 65 characters (at most 64)" in run.entry("JL-CONTAINER-CONFIG")["observed"]


@pytest.mark.parametrize("mutant", mutants(PROFILE), ids=str)
def test_mutant_fails_exactly_its_requirement(mutant: Any, fixture_image: Any, run_suite: Any) -> None:
    run = run_suite(PROFILE, fixture_image(PROFILE, mutant.name), *mutant.suite_args)
    failed = run.failed_ids()
    assert failed == {mutant.requirement}, run.result.stdout.str()[-4000:]
    assert run.report["verdict"] == "not-conformant"
    entry = run.entry(mutant.requirement)
    assert entry["expected"] and entry["observed"] and entry["fix"]
    # The failure says how to reproduce it and what the container said, where there was one.
    assert f"{mutant.requirement} (" in run.result.stdout.str()
    assert _leftovers(run) == []


def test_every_requirement_of_the_profile_has_a_mutant() -> None:
    from pytest_smconform.checks import known_kinds
    from pytest_smconform.platform import known_platforms
    from pytest_smconform.spec.loader import SpecSet, shipped_spec_files

    profile = SpecSet(shipped_spec_files()).resolve(PROFILE, {}, known_kinds(), known_platforms())
    covered = {m.requirement for m in mutants(PROFILE)}
    # GPU rules are covered by their own fixtures (they need GPU content, not a Studio app).
    wanted = {r.id for r in profile.requirements if not r.id.startswith("IMG-GPU-")}
    assert wanted - covered == set(), f"no mutant under {IMAGES / PROFILE} for these"


def test_ini_keys_and_selection_by_requirement_id(fixture_image: Any, pytester: pytest.Pytester) -> None:
    image = fixture_image(PROFILE, "conforming")
    pytester.makeini(f"[pytest]\nsmconform_profile = {PROFILE}\nsmconform_image = {image}\n"
                     "smconform_options =\n    startup_timeout=60\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-k", "JL-UID or JL-GID",
                                           "-p", "no:cacheprovider")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["smconform-jupyterlab::JL-UID", "smconform-jupyterlab::JL-GID",
                                 "*2/* tests collected*"])
    result = pytester.runpytest_subprocess("-k", "JL-UID", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["PASSED smconform-jupyterlab::JL-UID*"])


def test_level_must_reports_should_failures_without_failing_the_run(fixture_image: Any, run_suite: Any) -> None:
    run = run_suite(PROFILE, fixture_image(PROFILE, "jl-stop"), "--smconform-level=must", "-k", "JL-STOP or JL-UID")
    assert run.result.ret == 0, run.result.stdout.str()[-2000:]
    assert run.outcome("JL-STOP") == "failed"
    assert run.entry("JL-STOP")["level"] == "SHOULD"
    run.result.stdout.fnmatch_lines(["*1 passed*1 xfailed*"])
    # Everything MUST that ran passed, but not everything was selected: the verdict says so.
    assert run.report["verdict"] == "incomplete"


@pytest.mark.parametrize("sample", samples(PROFILE), ids=str)
def test_documentation_samples_get_their_verdicts(sample: Any, fixture_image: Any, run_suite: Any) -> None:
    run = run_suite(PROFILE, fixture_image(PROFILE, sample.name))
    assert run.failed_ids() == set(sample.failed), run.result.stdout.str()[-3000:]
    assert run.report["verdict"] == ("not-conformant" if sample.failed else "conformant")
