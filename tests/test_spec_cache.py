"""The parsed-spec cache: a hit gives the same documents and lines without parsing; anything
changed, corrupt or invalid is parsed (and reported) as if there were no cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_smconform.checks import known_kinds
from pytest_smconform.errors import SpecError
from pytest_smconform.platform import known_platforms
from pytest_smconform.spec import compiled, yamlpos
from pytest_smconform.spec.loader import SpecSet, shipped_spec_files
from pytest_smconform.spec.yamlpos import load_located

pytestmark = pytest.mark.unit

USER_SPEC = """\
schema: smconform-spec/1
profile: mine
extends: jupyterlab
requirements:
  - id: MY-WORKDIR
    level: SHOULD
    rule: the working directory is the user's home
    how: [static]
    check: workdir-under
    with: {path: /home}
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty spec cache, and no compiled entries for the shipped files (tests/test_spec_compiled.py
    has those): the shipped files then go through the cache as a user's do."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("SMCONFORM_SPEC_CACHE", str(directory))
    monkeypatch.setattr(compiled, "_entries", dict)
    return directory


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    parsed: list[Path] = []
    def counting(path: Path, trusted: bool = False) -> Any:
        parsed.append(path)
        return load_located(path, trusted)

    monkeypatch.setattr(yamlpos, "load_located", counting)  # the loader imports it on a miss only
    return parsed


def _summary(specs: SpecSet) -> list[tuple[str, Any, dict[Any, int]]]:
    return [(str(doc.located.path), doc.located.data, doc.located.lines) for doc in specs.docs]


def test_a_hit_gives_the_same_documents_and_lines_without_parsing(cache: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = SpecSet(shipped_spec_files())
    assert len(list(cache.glob("*.json"))) == len(shipped_spec_files())
    parsed = _no_parsing(monkeypatch)
    second = SpecSet(shipped_spec_files())
    assert parsed == []
    assert _summary(second) == _summary(first)
    profile = second.resolve("jupyterlab", {}, known_kinds(), known_platforms())
    assert "JL-HEALTH" in {r.id for r in profile.requirements}


def test_a_changed_file_is_parsed_again(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(USER_SPEC)
    SpecSet([*shipped_spec_files(), mine])
    mine.write_text(USER_SPEC.replace("level: SHOULD", "level: MUST"))
    parsed = _no_parsing(monkeypatch)
    specs = SpecSet([*shipped_spec_files(), mine])
    assert parsed == [mine]
    profile = specs.resolve("mine", {}, known_kinds(), known_platforms())
    assert next(r for r in profile.requirements if r.id == "MY-WORKDIR").level == "MUST"


def test_a_corrupt_entry_is_a_miss(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text(USER_SPEC)
    first = SpecSet([*shipped_spec_files(), mine])
    for entry in cache.glob("*.json"):
        entry.write_text('{"data": {"profile": "mine"}, "lines": [[')
    parsed = _no_parsing(monkeypatch)
    again = SpecSet([*shipped_spec_files(), mine])
    assert parsed == [*shipped_spec_files(), mine]
    assert _summary(again) == _summary(first)


def test_an_invalid_spec_is_never_stored_and_is_reported_every_time(cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(USER_SPEC.replace("level: SHOULD", "level: OFTEN"))
    for _ in range(2):
        with pytest.raises(SpecError) as info:
            SpecSet([bad])
        assert any(problem.startswith(f"{bad}:6:") and "level" in problem for problem in info.value.problems)
    assert list(cache.glob("*.json")) == []


def test_an_unusable_cache_directory_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("SMCONFORM_SPEC_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(compiled, "_entries", dict)
    parsed = _no_parsing(monkeypatch)
    specs = SpecSet(shipped_spec_files())
    assert len(parsed) == len(shipped_spec_files())
    monkeypatch.setenv("SMCONFORM_SPEC_CACHE", "")  # empty: no cache
    assert _summary(SpecSet(shipped_spec_files())) == _summary(specs)


def test_a_run_with_every_spec_cached_does_not_import_the_validator(cache: Path, tmp_path: Path) -> None:
    """The validator is imported for a user's spec file on a cache miss only; the suite's own files are
    never validated at run time (tests/test_spec_loader.py validates them)."""
    mine = tmp_path / "mine.yaml"
    mine.write_text(USER_SPEC)

    def imports_validator(*files: str) -> str:
        probe = ("import sys; from pathlib import Path; from pytest_smconform.spec.loader import SpecSet, "
                 f"shipped_spec_files; SpecSet(shipped_spec_files() + [Path(f) for f in {list(files)!r}]); "
                 "print('jsonschema' in sys.modules)")
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()

    assert imports_validator() == "False"  # an empty cache: the shipped files are parsed, not validated
    assert [imports_validator(str(mine)) for _ in range(2)] == ["True", "False"]
