"""Bad input, fuzzed: spec files, spaces documents, ContainerConfig, AppImageConfig and DockerSettings
documents near their schemas (and YAML made to hurt) never raise anything but the suite's own
one-line errors, and each of those points at file:line."""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schema_strategies import JUNK, near

from pytest_smconform.checks import known_kinds
from pytest_smconform.checks.spaces_docs import documents
from pytest_smconform.errors import SmconformError, SpecError, UsageError
from pytest_smconform.model.docker_settings import check_docker_settings
from pytest_smconform.model.kernelgateway import AppImageConfig, ConfigError
from pytest_smconform.model.spaces import Options, evaluate
from pytest_smconform.model.studio import container_config_problems
from pytest_smconform.platform import known_platforms
from pytest_smconform.settings import load_container_config
from pytest_smconform.spec.loader import SpecSet, shipped_spec_files

pytestmark = pytest.mark.unit

# SMCONFORM_FUZZ_EXAMPLES=2000 for a long soak; CI keeps the default.
EXAMPLES = int(os.environ.get("SMCONFORM_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])
WORKDIR = Path(tempfile.mkdtemp(prefix="smconform-fuzz-"))
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)  # one per test process; none left behind
AT_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+)(:|$)")

SPEC_SCHEMA = json.loads(resources.files("pytest_smconform.spec").joinpath("spec-schema.json").read_text())
SPACES_SCHEMA = json.loads(resources.files("pytest_smconform.model").joinpath("spaces-schema.json").read_text())
CONTAINER_CONFIG_SCHEMA = {"type": "object", "properties": {
    "ContainerEntrypoint": {"type": "array", "items": {"type": "string"}},
    "ContainerArguments": {"type": "array", "items": {"type": "string"}},
    "ContainerEnvironmentVariables": {"type": "object", "additionalProperties": {"type": "string"}}}}
KERNEL_GATEWAY_IMAGE_CONFIG = {"type": "object", "properties": {
    "KernelSpecs": {"type": "array", "items": {"type": "object", "required": ["Name"], "properties": {
        "Name": {"type": "string"}, "DisplayName": {"type": "string"}}}},
    "FileSystemConfig": {"type": "object", "properties": {
        "MountPath": {"type": "string", "pattern": "^/[a-z/-]{0,20}$"},
        "DefaultUid": {"type": "integer"}, "DefaultGid": {"type": "integer"}}}}}
APP_IMAGE_CONFIG_SCHEMA = {"type": "object", "properties": {"KernelGatewayImageConfig": KERNEL_GATEWAY_IMAGE_CONFIG}}
DOCKER_SETTINGS_SCHEMA = {"type": "object", "properties": {"DockerSettings": {"type": "object", "properties": {
    "EnableDockerAccess": {"enum": ["ENABLED", "DISABLED", "enabled"]},
    "VpcOnlyTrustedAccounts": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{10,13}$"}},
    "RootlessDocker": {"enum": ["ENABLED", "DISABLED"]}}}}}

# YAML made to hurt: exploding and recursive aliases, nesting beyond any parser's recursion,
# non-scalar keys, tags that construct objects, tabs, NUL, a lone document separator.
LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9))
HOSTILE_YAML = [
    LAUGHS,
    "a: &a [*a]\n",
    "[" * 5000 + "]" * 5000,
    "? [1, 2]\n: x\n",
    "!!python/object/apply:os.system ['true']\n",
    "schema: smconform-spec/1\n\tprofile: x\n",
    "schema: \x00\n",
    "---\n",
    "- just\n- a list\n",
]

_KINDS, _PLATFORMS = known_kinds(), known_platforms()


def _write(name: str, text: str) -> Path:
    path = WORKDIR / name
    path.write_text(text, encoding="utf-8")
    return path


def _mutated(doc: Any, how: int, where: int, insert: str) -> str:
    """The YAML of `doc`, then cut short or with text pushed into it."""
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    cut = where % (len(text) + 1)
    return text if how == 0 else text[:cut] if how == 1 else text[:cut] + insert + text[cut:]


def _assert_at_line(problem: str, path: Path) -> None:
    match = AT_LINE.match(problem)
    assert match and match.group("file") == str(path), f"no file:line in {problem!r}"


def judge_spec_file(path: Path, profile: Any) -> None:
    """What a run does with one user spec file: load it beside the shipped ones, resolve its profile."""
    try:
        specs = SpecSet([*shipped_spec_files(), path])
        specs.resolve(profile if isinstance(profile, str) else "jupyterlab", {}, _KINDS, _PLATFORMS)
    except SpecError as exc:
        assert exc.problems
        for problem in exc.problems:
            _assert_at_line(problem, path)
    except UsageError as exc:
        assert str(exc) and "\n" not in str(exc)


@FUZZ
@given(near(SPEC_SCHEMA), st.integers(0, 2), st.integers(0, 10**6), st.text(max_size=6))
@example({"schema": "smconform-spec/1", "profile": "mine", "extends": "mine"}, 0, 0, "")
@example({"schema": "smconform-spec/1", "profile": "mine", "extends": ["jupyterlab"],
          "requirements": [{"id": "JL-UID", "remove": True}, {"id": "NEW-ONE", "check": "no-such-check"}]}, 0, 0, "")
def test_fuzzed_spec_files(doc: Any, how: int, where: int, insert: str) -> None:
    path = _write("spec.yaml", _mutated(doc, how, where, insert))
    judge_spec_file(path, doc.get("profile") if isinstance(doc, dict) else None)


@pytest.mark.parametrize("text", HOSTILE_YAML, ids=range(len(HOSTILE_YAML)))
def test_hostile_yaml_spec_file(text: str) -> None:
    path = _write("hostile.yaml", text)
    with pytest.raises(SmconformError) as caught:
        SpecSet([*shipped_spec_files(), path])
    for problem in caught.value.problems if isinstance(caught.value, SpecError) else [str(caught.value)]:
        _assert_at_line(problem, path)


def _spaces_document() -> st.SearchStrategy[Any]:
    defs = SPACES_SCHEMA["$defs"]

    def of_kind(kind: str) -> st.SearchStrategy[Any]:
        spec = defs["templateSpec"] if kind == "WorkspaceTemplate" else defs["workspaceSpec"]
        return st.fixed_dictionaries({
            "apiVersion": st.just("workspace.jupyter.org/v1alpha1"), "kind": st.just(kind),
            "metadata": near(defs["metadata"], SPACES_SCHEMA), "spec": near(spec, SPACES_SCHEMA)})

    return st.one_of(st.sampled_from(["WorkspaceTemplate", "Workspace"]).flatmap(of_kind), JUNK)


def judge_spaces_file(path: Path) -> None:
    ctx: Any = SimpleNamespace(settings=SimpleNamespace(templates=[path], workspaces=[]))
    templates, workspaces, problems = documents(ctx)
    for problem in problems:
        _assert_at_line(problem.where, path)
    evaluate(templates, workspaces, Options(), problems)


@FUZZ
@given(st.lists(_spaces_document(), min_size=1, max_size=3), st.integers(0, 2), st.integers(0, 10**6),
       st.text(max_size=6))
def test_fuzzed_spaces_documents(docs: list[Any], how: int, where: int, insert: str) -> None:
    text = "---\n".join(_mutated(doc, how if i == len(docs) - 1 else 0, where, insert) for i, doc in enumerate(docs))
    judge_spaces_file(_write("workspace.yaml", text))


@pytest.mark.parametrize("text", HOSTILE_YAML, ids=range(len(HOSTILE_YAML)))
def test_hostile_yaml_spaces_file(text: str) -> None:
    judge_spaces_file(_write("hostile-workspace.yaml", text))


def _json_text(doc: Any, how: int, where: int) -> str:
    text = json.dumps(doc)
    return text if how != 1 else text[:where % (len(text) + 1)]


@FUZZ
@given(st.one_of(near(CONTAINER_CONFIG_SCHEMA),
                 st.fixed_dictionaries({"ContainerConfig": near(CONTAINER_CONFIG_SCHEMA)}),
                 JUNK), st.integers(0, 1), st.integers(0, 10**6))
@example({"ContainerEnvironmentVariables": True}, 0, 0)  # found by a 1000-example soak: was a traceback
@example({"ContainerArguments": "--one-string"}, 0, 0)
def test_fuzzed_container_config(doc: Any, how: int, where: int) -> None:
    path = _write("container-config.json", _json_text(doc, how, where))
    try:
        config = load_container_config(path)
    except UsageError as exc:
        assert str(exc).startswith("--smconform-container-config:") and str(path) in str(exc)
        return
    assert all(isinstance(p, str) for p in container_config_problems(config))


@FUZZ
@given(st.one_of(near(APP_IMAGE_CONFIG_SCHEMA), near(KERNEL_GATEWAY_IMAGE_CONFIG)))
def test_fuzzed_app_image_config(doc: Any) -> None:
    defaults = AppImageConfig(kernels=(), mount_path="/home/sagemaker-user", uid=1000, gid=100)
    if not isinstance(doc, dict):
        return  # a non-object is refused before the model sees it (declared_config)
    try:
        config = AppImageConfig.from_api(doc, defaults)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(config.uid, int) and isinstance(config.mount_path, str)


@FUZZ
@given(st.one_of(near(DOCKER_SETTINGS_SCHEMA), JUNK))
def test_fuzzed_docker_settings(doc: Any) -> None:
    findings = check_docker_settings(doc)
    assert all(isinstance(p, str) for p in [*findings.problems, *findings.warnings])
