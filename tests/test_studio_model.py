"""Pure pieces: ContainerConfig limits, environment precedence, layer scanning, /proc parsing."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_smconform.engine.layers import scan_image_stream
from pytest_smconform.engine.procfs import _address, is_wildcard
from pytest_smconform.model.studio import (
    ARGUMENTS_MAX_CHARS,
    ARGUMENTS_MAX_ITEMS,
    ENVIRONMENT_MAX_ITEMS,
    ContainerConfig,
    container_config_problems,
    environment_problems,
    injected_environment,
)

pytestmark = pytest.mark.unit

_arg = st.text(max_size=ARGUMENTS_MAX_CHARS + 8)


@given(args=st.lists(_arg, max_size=ARGUMENTS_MAX_ITEMS + 5),
       entry=st.lists(st.text(max_size=8), max_size=3),
       env=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=ENVIRONMENT_MAX_ITEMS + 3))
def test_container_config_accepted_exactly_within_the_api_limits(
        args: list[str], entry: list[str], env: dict[str, str]) -> None:
    config = ContainerConfig(entrypoint=tuple(entry), arguments=tuple(args), environment=env)
    within = (len(entry) <= 1 and len(args) <= ARGUMENTS_MAX_ITEMS
              and all(len(a) <= ARGUMENTS_MAX_CHARS for a in args) and len(env) <= ENVIRONMENT_MAX_ITEMS)
    problems = container_config_problems(config)
    assert (problems == []) == within
    if len(args) > ARGUMENTS_MAX_ITEMS:
        assert any("ContainerArguments has" in p for p in problems)


def test_container_config_reads_the_api_spelling() -> None:
    config = ContainerConfig.from_api({"ContainerArguments": ["--x"], "ContainerEnvironmentVariables": {"A": "1"}})
    assert config.arguments == ("--x",) and config.environment == {"A": "1"} and config.entrypoint is None


@given(user=st.dictionaries(st.sampled_from(["AWS_REGION", "MINE", "SAGEMAKER_SPACE_NAME"]), st.text(max_size=5)))
def test_platform_variables_win_and_user_ones_pass_through(user: dict[str, str]) -> None:
    platform = {"AWS_REGION": "eu-south-2", "SAGEMAKER_SPACE_NAME": "s"}
    injected = injected_environment(user, platform)
    assert all(injected[k] == v for k, v in platform.items())
    assert injected.get("MINE") == user.get("MINE")
    assert environment_problems(injected, dict(injected)) == []
    clobbered = {**injected, "AWS_REGION": "us-east-1"}
    assert environment_problems(injected, clobbered) == [
        "AWS_REGION: injected 'eu-south-2', app process sees 'us-east-1'"]


def _layer(entries: list[tuple[str, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, uid in entries:
            info = tarfile.TarInfo(name)
            info.uid = uid
            data = b"x"
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _image(layers: list[bytes]) -> bytes:
    buffer = io.BytesIO()
    names = [f"l{i}/layer.tar" for i in range(len(layers))]
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in zip(names, layers, strict=True):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        manifest = json.dumps([{"Config": "c.json", "Layers": names}]).encode()
        for name, data in (("manifest.json", manifest), ("c.json", b'{"architecture": "amd64"}')):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_layer_scan_sees_deleted_files_and_applies_whiteouts() -> None:
    first = _layer([("opt/ml/model.bin", 0), ("tmp/big", 70000), ("etc/os-release", 0)])
    second = _layer([("tmp/.wh.big", 0), ("opt/ml/.wh..wh..opq", 0)])
    raw = _image([first, second])
    chunks = [raw[i:i + 1000] for i in range(0, len(raw), 1000)]
    scan = scan_image_stream(chunks, {"/etc/os-release"})
    assert [e.path for _, e in scan.every_entry() if e.uid > 65535] == ["/tmp/big"]
    tree = scan.final_tree()
    assert "/tmp/big" not in tree and "/opt/ml/model.bin" not in tree
    assert scan.contents["/etc/os-release"] == b"x"
    assert scan.config == {"architecture": "amd64"}


@pytest.mark.parametrize(("raw", "address"), [
    ("00000000", "0.0.0.0"),
    ("0100007F", "127.0.0.1"),
    ("00000000000000000000000000000000", "0:0:0:0:0:0:0:0"),
    ("0000000000000000FFFF00000100007F", "127.0.0.1"),
])
def test_proc_net_addresses(raw: str, address: str) -> None:
    assert _address(raw) == address


def test_wildcards() -> None:
    assert is_wildcard("0.0.0.0") and is_wildcard("0:0:0:0:0:0:0:0") and not is_wildcard("127.0.0.1")
