"""`--smconform-list` and `--smconform-explain=ID`: what a profile requires, without running anything."""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import yaml

from ..checks import kind
from ..spec.model import Profile, Requirement
from .sources import candidate_dirs, find_passage, seed_file, source_ids

WRAP = 100
_EXPECTED = re.compile(r'ContractViolation\(\s*f?"([^"{}]{8,})"')


def list_lines(profile: Profile) -> list[str]:
    """One line per requirement (id, level, how, rule), then the parameters --smconform-option sets."""
    lines = [f"profile {profile.name}: {profile.description}", ""]
    width = max((len(r.id) for r in profile.requirements), default=10)
    lines.append(f"{'ID':{width}}  {'LEVEL':6} {'HOW':12} RULE")
    for req in profile.requirements:
        lines.append(f"{req.id:{width}}  {req.level:6} {'+'.join(req.how):12} {req.rule}")
    lines += ["", f"{len(profile.requirements)} requirements; parameters (--smconform-option KEY=VALUE):"]
    for param in profile.parameters.values():
        default = param.default if not isinstance(param.default, dict) else "{...}"
        lines.append(f"  {param.name} = {default}  ({param.help})")
    return lines


def _expectations(fn: Callable[..., object]) -> list[str]:
    """What the check demands, in its own words: the `expected` text of each ContractViolation it raises."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return []
    found = [m.group(1) for m in _EXPECTED.finditer(source)]
    return list(dict.fromkeys(found))


def _launch_description(profile: Profile, name: str) -> str:
    decl = profile.launches[name]
    path = Path(decl.origin.rpartition(":")[0])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return str(data["launches"][name].get("description", ""))
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return ""


def how_checked(req: Requirement, profile: Profile) -> list[str]:
    """The check kind (its docs and what it expects), and the launch it observes."""
    fn = kind(req.check)
    module = inspect.getmodule(fn)
    doc = inspect.getdoc(fn) or (inspect.getdoc(module) or "").split("\n\n")[0]
    lines = [f"check kind `{req.check}` ({' + '.join(req.how)}), {fn.__module__}.{fn.__name__}"
             + (f": {doc}" if doc else "")]
    lines += [f"expects: {text}" for text in _expectations(fn)]
    if req.launch is not None:
        decl = profile.launches[req.launch]
        described = _launch_description(profile, req.launch)
        lines.append(f"on a real container: launch `{req.launch}` ({decl.platform} platform)"
                     + (f": {described}" if described else ""))
    if req.params:
        shown = {k: v for k, v in req.params.items() if k != "description"}
        if shown:
            lines.append(f"parameters: {shown}")
    if req.cases:
        lines.append("cases: " + ", ".join(c.name for c in req.cases))
    if req.needs:
        lines.append("judged after: " + ", ".join(req.needs) + " (skipped as blocked if those fail)")
    if req.fuzz_examples or "fuzz" in doc.lower() or "hypothesis" in doc.lower():
        lines.append("fuzzed with Hypothesis from the run's seed (--smconform-seed reproduces a run)")
    return lines


def explain_lines(req: Requirement, profile: Profile, rootdir: Path | None = None) -> list[str]:
    lines = [f"{req.id} ({req.level}, profile {profile.name})", "",
             "rule:", *_wrapped(req.rule)]
    lines += ["", f"source: {req.source or 'not given'} (spec {req.origin})"]
    seeds = source_ids(req.source)
    dirs = candidate_dirs(rootdir)
    for seed in seeds:
        path = seed_file(seed, dirs)
        if path is None:
            lines.append(f"  seed {seed}: document not found (set SMCONFORM_SOURCES to the seeds directory)")
            continue
        passage = find_passage(req.rule, seed, path)
        if passage is None:
            lines.append(f"  seed {seed} ({path.name}): no passage shares the rule's terms")
            continue
        lines.append(f"  seed {seed}, \"{passage.document}\", line {passage.first_line}:")
        lines += _wrapped(passage.text, "    > ")
    lines += ["", "how the suite checks it:"]
    for entry in how_checked(req, profile):
        lines += _wrapped(entry, "  ", "    ")
    if req.fix:
        lines += ["", "how to fix a failure:", *_wrapped(req.fix)]
    return lines


def _wrapped(text: str, first: str = "  ", rest: str | None = None) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), WRAP, initial_indent=first,
                         subsequent_indent=first if rest is None else rest) or [first.rstrip()]


def print_catalog(profile_name: str | None, explain: str | None, options: dict[str, str],
                  spec_files: list[Path], rootdir: Path | None) -> int:
    """Print the listing or the explanation; raises UsageError for an unknown profile or id."""
    from ..checks import known_kinds
    from ..errors import UsageError
    from ..platform import known_platforms
    from ..spec.loader import SpecSet, shipped_spec_files

    specs = SpecSet(shipped_spec_files() + spec_files)
    names = [profile_name] if profile_name else specs.profile_names()
    profiles = [specs.resolve(name, options if profile_name else {}, known_kinds(), known_platforms())
                for name in names]
    if explain is None:
        if profile_name is None:
            raise UsageError("--smconform-list needs a profile: pytest --smconform=PROFILE --smconform-list")
        print("\n".join(list_lines(profiles[0])))
        return 0
    for profile in profiles:
        for req in profile.requirements:
            if req.id == explain:
                print("\n".join(explain_lines(req, profile, rootdir)))
                return 0
    where = f"profile {profile_name}" if profile_name else "any profile"
    raise UsageError(f"--smconform-explain: no requirement {explain!r} in {where}")
