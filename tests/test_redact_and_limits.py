"""Which names hide secrets, how values are masked; sizes for the disk guard; the containment policy."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_smconform import redact
from pytest_smconform.engine.containment import contained_host_config
from pytest_smconform.engine.disk_guard import parse_size
from pytest_smconform.engine.plan import LaunchPlan

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["API_TOKEN", "db_password", "AWS_SECRET_ACCESS_KEY", "GITHUB_PAT_KEY",
                                  "HF_TOKEN", "MY_PASS", "PRIVATE_KEY_PEM", "AWS_SESSION_TOKEN", "apikey"])
def test_secret_names(name: str) -> None:
    assert redact.is_secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "HOME", "AWS_REGION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                  "SAGEMAKER_SPACE_NAME", "TOKEN_FILE", "KEYBOARD_LAYOUT", "MONKEY"])
def test_plain_names(name: str) -> None:
    assert not redact.is_secret_name(name)


def test_remembered_values_are_masked_everywhere() -> None:
    redact.forget_all()
    try:
        redact.remember({"DB_PASSWORD": "hunter2-but-long", "SHORT_TOKEN": "abc", "PLAIN": "visible-value"})
        assert redact.redact("login with hunter2-but-long now") == "login with **** now"
        assert redact.redact("abc visible-value") == "abc visible-value"  # too short to mask; not secret
        tree = redact.redact_tree({"a": ["x hunter2-but-long"], "b": 3})
        assert tree == {"a": ["x ****"], "b": 3}
        line = LaunchPlan(name="x", image="img", env={"DB_PASSWORD": "hunter2-but-long", "PLAIN": "v"}).reproduce()
        assert "DB_PASSWORD=****" in line and "hunter2" not in line and "PLAIN=v" in line
    finally:
        redact.forget_all()


@pytest.mark.parametrize(("text", "size"), [("10g", 10 << 30), ("512m", 512 << 20), ("1.5G", 3 << 29),
                                            ("2048", 2048), ("64KiB", 64 << 10), (" 1 t ", 1 << 40)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "10x", "-1g", "1 g b"])
def test_not_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


class _RecordingApi:
    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs


def test_containment_policy_cannot_be_loosened_by_a_caller() -> None:
    config = contained_host_config(_RecordingApi(), ports=[8888])
    assert config["privileged"] is False and config["pids_limit"] > 0 and config["mem_limit"]
    assert config["port_bindings"] == {8888: ("127.0.0.1", None)}
    for bad in ({"network_mode": "host"}, {"network_mode": "container:abc"}, {"privileged": True},
                {"cap_add": ["SYS_ADMIN"]}, {"pid_mode": "host"}, {"port_bindings": {1: ("0.0.0.0", 1)}}):
        with pytest.raises(ValueError):
            contained_host_config(_RecordingApi(), **bad)
