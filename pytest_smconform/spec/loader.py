"""Find, validate and merge spec files into a Profile; report every problem at file:line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError, UsageError
from . import cache as spec_cache
from . import compiled
from .located import Located, YamlSyntaxError
from .model import Case, LaunchDecl, Parameter, Profile, Requirement

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_PLACEHOLDER = re.compile(r"\$\{([a-z][a-z0-9_]*)\}")
_REQUIRED_AFTER_MERGE = ("level", "rule", "how", "check")


def shipped_spec_files() -> list[Path]:
    root = resources.files("pytest_smconform.specs")
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith((".yaml", ".yml")))


def parse_shipped_checked() -> list[tuple[Path, str, Located]]:
    """Each shipped file as (path, spec cache key, document), parsed and validated against the schema;
    SpecError with every problem. For writing `compiled.json` (the tests validate them too)."""
    from .yamlpos import load_located

    schema = _schema_bytes()
    validator = _schema_validator(schema)
    parsed, problems = [], []
    for path in shipped_spec_files():
        located, key = load_located(path, trusted=True), _cache_key(path, schema)
        problems += _schema_problems(validator, located) + ([] if key else [f"{path}: unreadable"])
        parsed.append((path, key or "", located))
    if problems:
        raise SpecError(problems)
    return parsed


def _shipped_dir() -> Path:
    return Path(str(resources.files("pytest_smconform.specs")))


def _schema_bytes() -> bytes:
    return resources.files("pytest_smconform.spec").joinpath("spec-schema.json").read_bytes()


def _schema_validator(schema: bytes) -> Draft202012Validator:
    # Imported here: a run whose specs are all in the cache never needs the validator.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema))


@dataclass
class _Doc:
    located: Located

    @property
    def profile(self) -> str:
        return str(self.located.data["profile"])

    @property
    def extends(self) -> list[str]:
        ext = self.located.data.get("extends", [])
        return [ext] if isinstance(ext, str) else list(ext)


class SpecSet:
    """Every spec document known to this run: the shipped ones, then the user's."""

    def __init__(self, files: list[Path]) -> None:
        problems: list[str] = []
        self.docs: list[_Doc] = []
        schema = _schema_bytes()
        validator: Draft202012Validator | None = None
        directory, shipped_dir = spec_cache.cache_dir(), _shipped_dir()
        for path in files:
            key = _cache_key(path, schema)
            shipped = path.parent == shipped_dir
            located = compiled.lookup(path, key) if key and shipped else None
            if located is None and key:
                located = spec_cache.load(directory, key, path)
            if located is None:
                try:
                    from .yamlpos import load_located  # only on a cache miss (the parser's import is 10 ms)

                    located = load_located(path, trusted=shipped)
                except YamlSyntaxError as exc:
                    problems.append(exc.message)
                    continue
                if not shipped:
                    # The suite's own files are validated by its tests (tests/test_spec_loader.py), not on
                    # each machine's first run: importing the validator alone is 60 ms.
                    validator = validator or _schema_validator(schema)
                    found = _schema_problems(validator, located)
                    if found:
                        problems.extend(found)
                        continue
                if key:
                    spec_cache.store(directory, key, located)
            problems.extend(_duplicate_ids(located))
            self.docs.append(_Doc(located))
        problems.extend(self._unknown_parents())
        if problems:
            raise SpecError(problems)

    def profile_names(self, include_abstract: bool = False) -> list[str]:
        names = []
        for doc in self.docs:
            if doc.located.data.get("abstract") and not include_abstract:
                continue
            if doc.profile not in names:
                names.append(doc.profile)
        return sorted(names)

    def _documents_of(self, name: str) -> list[_Doc]:
        return [d for d in self.docs if d.profile == name]

    def _unknown_parents(self) -> list[str]:
        known = {d.profile for d in self.docs}
        out = []
        for doc in self.docs:
            for parent in doc.extends:
                if parent not in known:
                    where = doc.located.where(("extends",))
                    out.append(f"{where}: extends unknown profile {parent!r}")
        return out

    def linearize(self, name: str) -> list[_Doc]:
        """Documents in merge order: parents before children, each once."""
        order: list[_Doc] = []
        visiting: list[str] = []

        def visit(profile: str, via: _Doc | None) -> None:
            if profile in visiting:
                cycle = " -> ".join([*visiting, profile])
                where = via.located.where(("extends",)) if via is not None else "extends"
                raise SpecError([f"{where}: extends cycle: {cycle}"])
            visiting.append(profile)
            for doc in self._documents_of(profile):
                for parent in doc.extends:
                    visit(parent, doc)
                if doc not in order:
                    order.append(doc)
            visiting.pop()

        visit(name, None)
        return order

    def resolve(
        self,
        name: str,
        overrides: dict[str, str],
        known_checks: set[str],
        known_platforms: set[str],
    ) -> Profile:
        if name not in self.profile_names():
            choices = ", ".join(self.profile_names())
            raise UsageError(f"unknown profile {name!r}; choose one of: {choices}")
        docs = self.linearize(name)
        merged = _merge(docs)
        parameters = _apply_overrides(merged.parameters, overrides)
        values = {p.name: p.default for p in parameters.values()}
        problems: list[str] = []
        launches = {
            key: LaunchDecl(key, decl.platform, _substitute(decl.params, values, decl.origin, problems), decl.origin)
            for key, decl in merged.launches.items()
        }
        requirements = []
        ids = {raw["id"] for raw, _ in merged.requirements}
        for raw, origin in merged.requirements:
            req = _build_requirement(raw, origin, values, problems)
            if req is None:
                continue
            if req.check not in known_checks:
                problems.append(f"{origin}: {req.id}: unknown check kind {req.check!r}")
            if req.launch is not None and req.launch not in launches:
                problems.append(f"{origin}: {req.id}: unknown launch {req.launch!r}")
            for need in req.needs:
                if need not in ids:
                    problems.append(f"{origin}: {req.id}: needs unknown requirement {need!r}")
            requirements.append(req)
        for decl in launches.values():
            if decl.platform not in known_platforms:
                problems.append(f"{decl.origin}: launch {decl.name!r}: unknown platform {decl.platform!r}")
        if problems:
            raise SpecError(problems)
        description = next(
            (str(d.located.data["description"]) for d in reversed(docs) if "description" in d.located.data),
            "",
        )
        return Profile(
            name=name,
            description=description,
            parameters=parameters,
            launches=launches,
            requirements=requirements,
            files=[str(d.located.path) for d in docs],
            image_optional=any(d.located.data.get("image") == "optional" for d in docs),
        )


@dataclass
class _Merged:
    parameters: dict[str, Parameter]
    launches: dict[str, LaunchDecl]
    requirements: list[tuple[dict[str, Any], str]]


def _merge(docs: list[_Doc]) -> _Merged:
    parameters: dict[str, Parameter] = {}
    launches: dict[str, LaunchDecl] = {}
    reqs: dict[str, tuple[dict[str, Any], str]] = {}
    for doc in docs:
        data, loc = doc.located.data, doc.located
        for pname, pdecl in data.get("parameters", {}).items():
            ptype = pdecl.get("type") or _type_name(pdecl["default"])
            parameters[pname] = Parameter(
                pname, pdecl["default"], ptype, pdecl.get("help", ""), loc.where(("parameters", pname))
            )
        for lname, ldecl in data.get("launches", {}).items():
            launches[lname] = LaunchDecl(
                lname, ldecl["platform"], dict(ldecl.get("with", {})), loc.where(("launches", lname))
            )
        for index, raw in enumerate(data.get("requirements", [])):
            origin = loc.where(("requirements", index))
            if raw.get("remove"):
                reqs.pop(raw["id"], None)
                continue
            previous = reqs.get(raw["id"], ({}, origin))[0]
            reqs[raw["id"]] = ({**previous, **raw}, origin)
    return _Merged(parameters, launches, list(reqs.values()))


def _type_name(value: Any) -> str:
    for name, kind in (("boolean", bool), ("integer", int), ("number", float), ("string", str),
                       ("array", list), ("object", dict)):
        if isinstance(value, kind):
            return name
    return "string"


def _apply_overrides(parameters: dict[str, Parameter], overrides: dict[str, str]) -> dict[str, Parameter]:
    out = dict(parameters)
    for key, text in overrides.items():
        if key not in out:
            known = ", ".join(sorted(out)) or "(none)"
            raise UsageError(f"unknown option key {key!r} for --smconform-option; this profile has: {known}")
        param = out[key]
        out[key] = Parameter(key, parse_value(text, param.type, key), param.type, param.help, "command line")
    return out


def parse_value(text: str, type_name: str, key: str) -> Any:
    try:
        if type_name == "integer":
            return int(text)
        if type_name == "number":
            return float(text)
        if type_name == "boolean":
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return lowered in ("true", "1", "yes")
        if type_name in ("array", "object"):
            return json.loads(text)
    except (ValueError, json.JSONDecodeError):
        raise UsageError(f"--smconform-option {key}={text!r}: expected a value of type {type_name}") from None
    return text


def _substitute(value: Any, values: dict[str, Any], origin: str, problems: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, values, origin, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values, origin, problems) for v in value]
    if not isinstance(value, str):
        return value
    whole = _PLACEHOLDER.fullmatch(value)
    if whole:
        if whole.group(1) not in values:
            problems.append(f"{origin}: undefined parameter ${{{whole.group(1)}}}")
            return value
        return values[whole.group(1)]

    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            problems.append(f"{origin}: undefined parameter ${{{match.group(1)}}}")
            return match.group(0)
        return str(values[match.group(1)])

    return _PLACEHOLDER.sub(replace, value)


def _build_requirement(
    raw: dict[str, Any], origin: str, values: dict[str, Any], problems: list[str]
) -> Requirement | None:
    missing = [key for key in _REQUIRED_AFTER_MERGE if key not in raw]
    if missing:
        problems.append(f"{origin}: {raw['id']}: missing {', '.join(missing)} (and no parent spec gives it)")
        return None
    cases = tuple(
        Case(c["name"], _substitute(c.get("with", {}), values, origin, problems)) for c in raw.get("cases", [])
    )
    return Requirement(
        id=raw["id"],
        level=raw["level"],
        rule=raw["rule"],
        how=tuple(raw["how"]),
        check=raw["check"],
        params=_substitute(dict(raw.get("with", {})), values, origin, problems),
        origin=origin,
        source=str(raw.get("source", "")),
        launch=raw.get("launch"),
        needs=tuple(raw.get("needs", ())),
        fix=raw.get("fix", ""),
        cases=cases,
        fuzz_examples=raw.get("fuzz", {}).get("examples"),
    )


def _cache_key(path: Path, schema: bytes) -> str | None:
    try:
        return spec_cache.entry_key(path.read_bytes(), schema)
    except OSError:
        return None  # load_located says why it cannot be read


def _schema_problems(validator: Draft202012Validator, located: Located) -> list[str]:
    out = []
    for error in sorted(validator.iter_errors(located.data), key=lambda e: list(map(str, e.absolute_path))):
        json_path = tuple(error.absolute_path)
        field = "/".join(str(p) for p in json_path) or "(document)"
        out.append(f"{located.where(json_path)}: {field}: {_short(error.message)}")
    return out


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."


def _duplicate_ids(located: Located) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for index, raw in enumerate(located.data.get("requirements", [])):
        if raw["id"] in seen:
            first = seen[raw["id"]]
            out.append(
                f"{located.where(('requirements', index))}: duplicate requirement id {raw['id']} "
                f"(first at line {located.line_of(('requirements', first))})"
            )
        else:
            seen[raw["id"]] = index
    return out
