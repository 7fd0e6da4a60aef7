"""The local-mode profile (Docker inside Studio) end to end, and the DockerSettings / os-release models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fixture_catalog import IMAGES, mutants
from hypothesis import given
from hypothesis import strategies as st

from pytest_smconform.model.docker_settings import check_docker_settings, parse_os_release, unwrap

PROFILE = "local-mode"
LM_IDS = {"LM-DOCKER-CLI", "LM-API-1-41", "LM-DOCKER-HOST", "LM-NO-ENGINE", "LM-COMPOSE", "LM-OS-RELEASE",
          "LM-ROOTLESS-GATEWAY", "LM-DOMAIN-SETTINGS"}
SOCKET = "--smconform-allow-engine-socket"


def _leftovers(run: Any) -> list[str]:
    import docker

    client = docker.from_env()
    label = f"io.smconform.run={run.report['run']['id']}"
    found = [str(c.name) for c in client.containers.list(all=True, filters={"label": label})]
    found += [str(v.name) for v in client.volumes.list(filters={"label": label})]
    return found


@pytest.mark.docker
def test_conforming_image_with_the_engine_socket(fixture_image: Any, run_suite: Any, tmp_path: Path) -> None:
    settings = tmp_path / "docker-settings.json"
    settings.write_text(json.dumps({"DockerSettings": {"EnableDockerAccess": "ENABLED", "RootlessDocker": "ENABLED",
                                                       "VpcOnlyTrustedAccounts": ["111122223333"]}}))
    run = run_suite(PROFILE, fixture_image(PROFILE, "conforming"), SOCKET, f"--smconform-docker-settings={settings}")
    outcomes = run.outcomes()
    assert {outcomes.pop("IMG-GPU-TOOLKIT"), outcomes.pop("IMG-GPU-VISIBLE")} == {"skipped"}  # no GPU here
    assert set(outcomes.values()) == {"passed"}, run.result.stdout.str()[-3000:]
    assert run.report["verdict"] == "conformant"
    assert "Docker version 20.10." in run.entry("LM-DOCKER-CLI")["message"]
    assert "client API 1.41" in run.entry("LM-API-1-41")["message"]
    assert "reached at 172.17.0.1:" in run.entry("LM-ROOTLESS-GATEWAY")["message"]
    assert "ignored when RootlessDocker is ENABLED" in run.entry("LM-DOMAIN-SETTINGS")["message"]
    assert _leftovers(run) == []  # the container started through the image's CLI is gone too


@pytest.mark.docker
def test_without_the_opt_in_engine_checks_are_skipped_with_the_reason(fixture_image: Any, run_suite: Any) -> None:
    run = run_suite(PROFILE, fixture_image(PROFILE, "conforming"))
    assert run.failed_ids() == set()
    for req_id in ("LM-API-1-41", "LM-ROOTLESS-GATEWAY"):
        entry = run.entry(req_id)
        assert entry["outcome"] == "skipped" and "--smconform-allow-engine-socket" in entry["message"]
    assert run.outcome("LM-DOCKER-CLI") == "passed"  # the CLI's version needs no engine
    assert "/docker/proxy.sock" not in json.dumps(run.report.get("launches", []))


@pytest.mark.docker
@pytest.mark.parametrize("mutant", mutants(PROFILE), ids=str)
def test_mutant_fails_exactly_its_requirement(mutant: Any, fixture_image: Any, run_suite: Any) -> None:
    run = run_suite(PROFILE, fixture_image(PROFILE, mutant.name), SOCKET, *mutant.suite_args)
    assert run.failed_ids() == {mutant.requirement}, run.result.stdout.str()[-4000:]
    entry = run.entry(mutant.requirement)
    assert entry["expected"] and entry["observed"] and entry["fix"]
    if entry["level"] == "INFO":  # reported, never fails the run
        assert run.report["verdict"] == "conformant"
    else:
        assert run.report["verdict"] == "not-conformant"
    assert _leftovers(run) == []


def test_every_lm_requirement_has_a_mutant() -> None:
    covered = {m.requirement for m in mutants(PROFILE)}
    assert LM_IDS - covered == set(), f"no mutant under {IMAGES / PROFILE} for these"


# -- models ------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_docker_settings_documents() -> None:
    ok = check_docker_settings({"EnableDockerAccess": "ENABLED"})
    assert ok.problems == [] and ok.warnings == []
    rootless = check_docker_settings({"EnableDockerAccess": "ENABLED", "RootlessDocker": "ENABLED",
                                      "VpcOnlyTrustedAccounts": ["111122223333"]})
    assert rootless.problems == [] and any("ignored" in w for w in rootless.warnings)
    bad = check_docker_settings({"EnableDockerAccess": "yes", "VpcOnlyTrustedAccounts": ["1234", 111122223333],
                                 "Other": 1})
    assert len(bad.problems) == 3
    assert check_docker_settings(["ENABLED"]).problems
    assert check_docker_settings({"VpcOnlyTrustedAccounts": "111122223333"}).problems
    assert unwrap({"DomainSettingsForUpdate": {"DockerSettings": {"EnableDockerAccess": "DISABLED"}}}) == {
        "EnableDockerAccess": "DISABLED"}


@pytest.mark.unit
@given(st.text(alphabet="0123456789a", min_size=0, max_size=14))
def test_account_ids_are_exactly_twelve_digits(account: str) -> None:
    found = check_docker_settings({"EnableDockerAccess": "ENABLED", "VpcOnlyTrustedAccounts": [account]})
    assert (found.problems == []) == (len(account) == 12 and account.isdigit())


@pytest.mark.unit
def test_os_release_parsing() -> None:
    fields, problems = parse_os_release('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
                                        "# comment\n\nVERSION_ID='12'\n")
    assert problems == [] and fields == {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian",
                                         "VERSION_ID": "12"}
    assert parse_os_release("NAME=Something\n")[1] == ["no ID= line (the distribution's identifier)"]
    assert parse_os_release('ID="unterminated\n')[1]
    assert parse_os_release("just some text\nID=x\n")[1]
    assert parse_os_release("ID=two words\n")[1]
