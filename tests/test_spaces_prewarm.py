"""The pre-warming DaemonSet of seed 003 (smconform-prewarm and --smconform-prewarm)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pytest_smconform.prewarm import PrewarmError, container_names, daemonset, daemonset_yaml, main

REPO = "example.invalid/sagemaker/sagemaker-distribution"


def seed_daemonset() -> dict[str, Any]:
    """Seed 003's example, with its two GPU images renamed to a placeholder registry."""
    def container(name: str, tag: str) -> dict[str, Any]:
        return {"name": name, "image": f"{REPO}:{tag}", "command": ["sleep"], "args": ["infinity"],
                "resources": {"requests": {"cpu": "1m", "memory": "16Mi"}, "limits": {"cpu": "5m", "memory": "32Mi"}}}

    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "image-preload-ds"},
            "spec": {"selector": {"matchLabels": {"app": "image-preloader"}},
                     "template": {"metadata": {"labels": {"app": "image-preloader"}},
                                  "spec": {"containers": [container("preloader-3-4-2", "3.4.2-gpu"),
                                                          container("preloader-3-3-2", "3.3.2-gpu")]}}}}


@pytest.mark.unit
def test_the_seed_example_is_reproduced() -> None:
    images = [f"{REPO}:3.4.2-gpu", f"{REPO}:3.3.2-gpu"]
    assert daemonset(images) == seed_daemonset()
    assert yaml.safe_load(daemonset_yaml(images)) == seed_daemonset()


@pytest.mark.unit
def test_container_names_are_unique_dns_labels() -> None:
    images = [f"{REPO}:3.4.2-gpu", f"{REPO}:3.4.2-cpu", "busybox", "a/b@sha256:" + "ab" * 32, "x/y:Latest_1"]
    names = container_names(images)
    assert len(set(names)) == len(names)
    assert names[:2] == ["preloader-3-4-2-gpu", "preloader-3-4-2-cpu"]
    assert all(len(n) <= 63 and n == n.lower() and n.startswith("preloader-") for n in names)


@pytest.mark.unit
@pytest.mark.parametrize("images", [[], ["has space:1"]])
def test_bad_input_is_refused(images: list[str]) -> None:
    with pytest.raises(PrewarmError):
        daemonset(images)


@pytest.mark.unit
def test_console_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([f"{REPO}:3.4.2-gpu,{REPO}:3.3.2-gpu", "--namespace", "namespace_1"]) == 2  # namespace_1: not DNS
    capsys.readouterr()
    assert main([f"{REPO}:3.4.2-gpu", f"{REPO}:3.3.2-gpu"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == seed_daemonset()


@pytest.mark.unit
def test_suite_option_writes_the_daemonset_into_the_report(run_suite: Any) -> None:
    run = run_suite("spaces", None, f"--smconform-prewarm={REPO}:3.4.2-gpu,{REPO}:3.3.2-gpu")
    section = run.report["prewarm_daemonset"]
    assert yaml.safe_load(section["yaml"]) == seed_daemonset()
