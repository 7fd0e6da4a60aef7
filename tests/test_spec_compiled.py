"""The shipped spec files' compiled entries: current, equal to a parse, used without the YAML parser,
and ignored for a file they were not compiled from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_smconform.spec import compiled, yamlpos
from pytest_smconform.spec.loader import SpecSet, shipped_spec_files

pytestmark = pytest.mark.unit


def _summary(specs: SpecSet) -> list[tuple[str, Any, dict[Any, int]]]:
    return [(str(doc.located.path), doc.located.data, doc.located.lines) for doc in specs.docs]


def _parsing_counted(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    parsed: list[Path] = []
    original = yamlpos.load_located

    def counting(path: Path, trusted: bool = False) -> Any:
        parsed.append(path)
        return original(path, trusted)

    monkeypatch.setattr(yamlpos, "load_located", counting)
    return parsed


def test_the_shipped_compiled_entries_are_current() -> None:
    shipped = Path(str(shipped_spec_files()[0].parent)) / compiled.NAME
    assert shipped.read_text(encoding="utf-8") == compiled.build(), (
        f"{shipped} is out of date: run `python -m pytest_smconform.spec.compiled`")


def test_a_compiled_entry_gives_what_parsing_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMCONFORM_SPEC_CACHE", "")
    parsed = _parsing_counted(monkeypatch)
    from_compiled = SpecSet(shipped_spec_files())
    assert parsed == []
    monkeypatch.setattr(compiled, "_entries", dict)
    from_parser = SpecSet(shipped_spec_files())
    assert parsed == shipped_spec_files()
    assert _summary(from_compiled) == _summary(from_parser)


def test_an_entry_compiled_from_other_bytes_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMCONFORM_SPEC_CACHE", "")
    stale = json.loads(json.dumps(compiled._entries()))
    first = shipped_spec_files()[0]
    stale[first.name]["key"] = "0" * 64
    stale[first.name]["data"]["description"] = "from an older file"
    monkeypatch.setattr(compiled, "_entries", lambda: stale)
    parsed = _parsing_counted(monkeypatch)
    specs = SpecSet(shipped_spec_files())
    assert parsed == [first]
    assert specs.docs[0].located.data["description"] != "from an older file"


def test_a_first_run_reads_the_shipped_files_without_the_yaml_parser(tmp_path: Path) -> None:
    probe = ("import sys; from pytest_smconform.spec.loader import SpecSet, shipped_spec_files; "
             "SpecSet(shipped_spec_files()); print(sorted(m for m in ('yaml', 'jsonschema') if m in sys.modules))")
    env = {**os.environ, "SMCONFORM_SPEC_CACHE": str(tmp_path / "empty")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
    assert not (tmp_path / "empty").exists()  # nothing to keep: the shipped files were never parsed
