"""The flood symptom against a real container whose log the engine keeps truncating."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_smconform.engine import symptoms
from pytest_smconform.engine.containment import LOG_CONFIG

SAMPLES = 200  # each sample is one diagnosis; about 5 % of single tail reads land just after a truncation


@pytest.fixture
def started(fixture_image: Any) -> Iterator[Any]:
    import docker

    api = docker.from_env().api
    made: list[str] = []

    def start(ref: str, entrypoint: list[str] | None = None) -> str:
        config = api.create_host_config(log_config=LOG_CONFIG, mem_limit="256m", pids_limit=64,
                                        network_mode="none")
        cid = str(api.create_container(ref, entrypoint=entrypoint, host_config=config,
                                       labels={"smconform.test": "symptoms"})["Id"])
        made.append(cid)
        api.start(cid)
        return cid

    yield start
    for cid in made:
        api.remove_container(cid, force=True)


def test_a_flood_is_named_in_every_diagnosis(started: Any, fixture_image: Any) -> None:
    import docker

    api = docker.from_env().api
    cid = started(fixture_image("processing", "hostile-flood"))
    _wait_for_lines(api, cid)
    missed = [i for i in range(SAMPLES) if not _named_flood(api, cid)]
    assert not missed, f"{len(missed)} of {SAMPLES} diagnoses of a flooding container did not name the flood"


def test_a_quiet_container_is_no_flood(started: Any, fixture_image: Any) -> None:
    import docker

    api = docker.from_env().api
    ref = fixture_image("processing", "hostile-flood")
    cid = started(ref, ["sh", "-c", "for i in 1 2 3; do echo quiet $i; done; sleep 60"])
    _wait_for_lines(api, cid, 3)
    found = symptoms.describe(api, cid)
    assert not any("floods" in phrase for phrase in found), found


def _named_flood(api: Any, cid: str) -> bool:
    return any(phrase.startswith("it floods its output") for phrase in symptoms.describe(api, cid))


def _wait_for_lines(api: Any, cid: str, count: int = symptoms.FLOOD_LINES) -> None:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len(api.logs(cid, tail=count).splitlines()) >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"container {cid[:12]} wrote fewer than {count} lines in 20 s")
