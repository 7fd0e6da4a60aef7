"""Every container a run creates is contained (the engine's own record of it, read at create time),
and secrets never reach a report, a reproduce line or a failure text."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.docker

# Loaded into the suite's process: after each create, the engine's HostConfig of the new container.
RECORDER = '''
import json
import docker.api.client

_create = docker.api.client.APIClient.create_container


def create_container(self, *args, **kwargs):
    created = _create(self, *args, **kwargs)
    info = self.inspect_container(created["Id"])
    with open("created.jsonl", "a") as handle:
        handle.write(json.dumps({"host": info["HostConfig"], "labels": info["Config"]["Labels"],
                                 "env": info["Config"]["Env"] or []}) + "\\n")
    return created


docker.api.client.APIClient.create_container = create_container
'''
SECRET = "supersecret-value-8342"
CONFIG = {"ContainerArguments": ["--ServerApp.terminals_enabled=True"],
          "ContainerEnvironmentVariables": {"MY_API_TOKEN": SECRET, "PLAIN": "visible-value"}}
REAL_CREDENTIAL_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _created(pytester: pytest.Pytester, run_suite: Any, profile: str, image: str, *args: str) -> tuple[Any, list[Any]]:
    pytester.makepyfile(smc_recorder=RECORDER)
    run = run_suite(profile, image, "-p", "smc_recorder", *args)
    path = pytester.path / "created.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return run, records


def _assert_contained(record: dict[str, Any], socket_allowed: bool) -> None:
    host = record["host"]
    assert host["Privileged"] is False
    assert host["NetworkMode"] != "host" and not host["NetworkMode"].startswith("container:")
    assert host["Memory"] > 0, "no memory limit"
    assert host["PidsLimit"] and host["PidsLimit"] > 0, "no process-count limit"
    assert host["LogConfig"]["Config"].get("max-size"), "an unbounded log"
    assert not host.get("CapAdd")
    for bindings in (host.get("PortBindings") or {}).values():
        assert all(b["HostIp"] == "127.0.0.1" for b in bindings), bindings
    sources = [m.get("Source", "") for m in host.get("Mounts") or []] + list(host.get("Binds") or [])
    sockets = [s for s in sources if s.endswith(".sock") or "docker" in s]
    assert socket_allowed or not sockets, sockets
    assert "io.smconform.run" in record["labels"]
    env = dict(item.partition("=")[::2] for item in record["env"])
    assert not set(REAL_CREDENTIAL_NAMES) & set(env), "platform credentials must be fake, never real ones"
    uri = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    assert uri is None or "fake" in uri


@pytest.mark.parametrize(("profile", "image", "args"), [
    ("jupyterlab", "conforming", ("-k", "JL-UID or JL-ENV-PRECEDENCE or JL-STOP or JL-HOME-VOLUME")),
    ("processing", "conforming", ("-k", "PR-OVERRIDE-MATRIX or PR-SIGNALS or PR-HOSTNAMES")),
    ("kernelgateway", "conforming", ("-k", "KG-UIDGID or KG-STOP")),
    ("spaces", "conforming", ("-k", "SP-PORT or SP-FSGROUP")),
    ("local-mode", "conforming", ()),
], ids=["jupyterlab", "processing", "kernelgateway", "spaces", "local-mode"])
def test_every_container_is_contained(profile: str, image: str, args: tuple[str, ...], fixture_image: Any,
                                      pytester: pytest.Pytester, run_suite: Any) -> None:
    run, records = _created(pytester, run_suite, profile, fixture_image(profile, image), *args)
    assert records, run.result.stdout.str()[-2000:]
    for record in records:
        _assert_contained(record, socket_allowed=False)


def test_engine_socket_only_behind_the_opt_in(fixture_image: Any, pytester: pytest.Pytester,
                                              run_suite: Any) -> None:
    _, records = _created(pytester, run_suite, "local-mode", fixture_image("local-mode", "conforming"),
                          "--smconform-allow-engine-socket", "-k", "LM-API-1-41")
    socketed = [r for r in records if any("sock" in (m.get("Source") or "") for m in r["host"].get("Mounts") or [])]
    assert socketed, "the opt-in mounted no socket"
    for record in records:
        _assert_contained(record, socket_allowed=True)


def test_secrets_are_masked_in_report_reproduce_and_failure(fixture_image: Any, pytester: pytest.Pytester,
                                                            run_suite: Any) -> None:
    config = pytester.path / "container-config.json"
    config.write_text(json.dumps(CONFIG))
    # The mutant fails JL-CONTAINER-CONFIG: its failure text carries the reproduce line and the log.
    run, records = _created(pytester, run_suite, "jupyterlab", fixture_image("jupyterlab", "jl-container-config"),
                            f"--smconform-container-config={config}", "-k", "JL-CONTAINER-CONFIG or JL-UID")
    assert run.outcome("JL-CONTAINER-CONFIG") == "failed"
    # The container did get the secret: masking is for what is shown, not what is run.
    assert any(f"MY_API_TOKEN={SECRET}" in r["env"] for r in records)
    shown = run.result.stdout.str() + run.result.stderr.str() + json.dumps(run.report)
    assert SECRET not in shown
    assert "MY_API_TOKEN=****" in shown and "PLAIN=visible-value" in shown
