"""Spec files: validation with file:line, inheritance, user extensions, parameter overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_smconform.checks import known_kinds
from pytest_smconform.errors import SpecError, UsageError
from pytest_smconform.platform import known_platforms
from pytest_smconform.spec.loader import SpecSet, shipped_spec_files
from pytest_smconform.spec.yamlpos import load_located

pytestmark = pytest.mark.unit
REQUIREMENTS = Path(__file__).resolve().parents[2] / "shared" / "REQUIREMENTS.md"


def resolve(files: list[Path], name: str, overrides: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return SpecSet(files).resolve(name, overrides or {}, known_kinds(), known_platforms())


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_specs_validate_and_resolve() -> None:
    specs = SpecSet(shipped_spec_files())
    assert "jupyterlab" in specs.profile_names()
    assert "common" not in specs.profile_names()
    profile = resolve(shipped_spec_files(), "jupyterlab")
    ids = [r.id for r in profile.requirements]
    assert len(ids) == len(set(ids))
    assert {"JL-UID", "JL-HEALTH", "IMG-LAYER-IDS", "IMG-ARCH"} <= set(ids)


@pytest.mark.parametrize("path", shipped_spec_files(), ids=lambda p: p.name)
def test_every_shipped_spec_file_is_valid_against_the_schema(path: Path) -> None:
    """A run does not validate the suite's own files (their cache entries are written unvalidated): here
    is where they are."""
    from pytest_smconform.spec.loader import _schema_bytes, _schema_problems, _schema_validator

    assert _schema_problems(_schema_validator(_schema_bytes()), load_located(path)) == []


@pytest.mark.parametrize("path", shipped_spec_files(), ids=lambda p: p.name)
def test_the_fast_parser_of_shipped_specs_gives_the_same_documents_and_lines(path: Path) -> None:
    """Shipped specs are parsed with libyaml (trusted, and ten times faster): nothing may differ."""
    import yaml

    assert getattr(yaml, "CSafeLoader", None) is not None, "PyYAML without libyaml: the fast path is never taken"
    fast, slow = load_located(path, trusted=True), load_located(path)
    assert fast.data == slow.data
    assert fast.lines == slow.lines


def test_every_jupyterlab_catalogue_id_is_in_the_spec_with_its_level() -> None:
    if not REQUIREMENTS.exists():
        pytest.skip("../shared/REQUIREMENTS.md is not beside the repository")
    rows = [line.split("|") for line in REQUIREMENTS.read_text().splitlines() if line.startswith("| JL-")]
    catalogue = {cells[1].strip(): cells[2].strip() for cells in rows}
    profile = resolve(shipped_spec_files(), "jupyterlab")
    levels = {r.id: r.level for r in profile.requirements}
    assert set(catalogue) <= set(levels)
    assert all(levels[i] == catalogue[i] for i in catalogue)


def test_yaml_syntax_error_points_at_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "schema: smconform-spec/1\nprofile: x\nrequirements:\n  - id: [\n")
    with pytest.raises(SpecError) as info:
        SpecSet([bad])
    assert info.value.problems[0].startswith(f"{bad}:")
    assert "YAML syntax" in info.value.problems[0]


def test_every_schema_error_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    text = (
        "schema: smconform-spec/1\n"
        "profile: mine\n"
        "requirements:\n"
        "  - id: JL-UID\n"
        "    level: SOMETIMES\n"  # line 5
        "  - id: not-an-id\n"  # line 6
        "    colour: blue\n"  # line 7
    )
    path = write(tmp_path, "mine.yaml", text)
    with pytest.raises(SpecError) as info:
        SpecSet([path])
    problems = info.value.problems
    assert any(p.startswith(f"{path}:5:") and "SOMETIMES" in p for p in problems)
    assert any(p.startswith(f"{path}:6:") and "not-an-id" in p for p in problems)
    assert any(p.startswith(f"{path}:6:") and "colour" in p for p in problems)


def test_unknown_check_kind_and_unknown_parent_are_reported(tmp_path: Path) -> None:
    ext = write(tmp_path, "ext.yaml", "schema: smconform-spec/1\nprofile: mine\nextends: nosuch\n")
    with pytest.raises(SpecError) as info:
        SpecSet([*shipped_spec_files(), ext])
    assert f"{ext}:3: extends unknown profile 'nosuch'" in info.value.problems
    kind = write(tmp_path, "kind.yaml", (
        "schema: smconform-spec/1\nprofile: mine\nextends: jupyterlab\nrequirements:\n"
        "  - id: MY-RULE\n    level: MUST\n    how: [static]\n    rule: r\n    check: no-such-kind\n"))
    with pytest.raises(SpecError) as info:
        resolve([*shipped_spec_files(), kind], "mine")
    assert any("unknown check kind 'no-such-kind'" in p and f"{kind}:5" in p for p in info.value.problems)


def test_user_spec_extends_a_profile_adds_and_overrides(tmp_path: Path) -> None:
    user = write(tmp_path, "ours.yaml", (
        "schema: smconform-spec/1\nprofile: our-lab\nextends: jupyterlab\n"
        "parameters:\n  home: {default: /home/sagemaker-user/work}\n"
        "requirements:\n"
        "  - id: JL-STOP\n    level: MUST\n"
        "  - id: IMG-RESERVED-LOGS\n    remove: true\n"
        "  - id: OUR-NO-SRV\n    level: SHOULD\n    how: [static]\n    rule: nothing under /srv\n"
        "    check: no-content-under\n    with: {paths: [/srv]}\n"))
    profile = resolve([*shipped_spec_files(), user], "our-lab")
    ids = {r.id: r for r in profile.requirements}
    assert ids["JL-STOP"].level == "MUST"
    assert "IMG-RESERVED-LOGS" not in ids
    assert ids["OUR-NO-SRV"].params == {"paths": ["/srv"]}
    assert ids["JL-WORKDIR"].params["path"] == "/home/sagemaker-user/work"


def test_option_overrides_are_typed_and_unknown_keys_refused() -> None:
    profile = resolve(shipped_spec_files(), "jupyterlab", {"port": "9999"})
    assert profile.requirement("JL-PORT").params["port"] == 9999
    with pytest.raises(UsageError, match="unknown option key 'prot'"):
        resolve(shipped_spec_files(), "jupyterlab", {"prot": "1"})
    with pytest.raises(UsageError, match="expected a value of type integer"):
        resolve(shipped_spec_files(), "jupyterlab", {"port": "eighty"})


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(UsageError, match=r"unknown profile 'jupyterlabb'.*jupyterlab"):
        resolve(shipped_spec_files(), "jupyterlabb")
