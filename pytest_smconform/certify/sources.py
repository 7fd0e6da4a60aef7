"""The source documents (seeds) requirements cite, and the passage of one that backs a rule.

The seeds are machine translations; rules are in English. What survives translation is the
code-like vocabulary (API names, paths, variable names, numbers), so a passage is found by
those tokens, the rarer in the document the more they count.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "SMCONFORM_SOURCES"
_WORD = re.compile(r"[A-Za-z_/.][A-Za-z0-9_./-]*[A-Za-z0-9_]|\d{2,}")
_CONTEXT_LINES = 2


@dataclass(frozen=True)
class Passage:
    seed: str
    document: str
    first_line: int
    text: str


def source_ids(source: str) -> list[str]:
    """`"000, 002"` -> ["000", "002"]; non-numeric sources (e.g. "field") are not documents."""
    return [part for part in re.split(r"[,\s]+", source) if part.isdigit()]


def candidate_dirs(rootdir: Path | None = None) -> list[Path]:
    """Where the seeds may be: $SMCONFORM_SOURCES, else a `shared/seeds` beside the checkout."""
    found = []
    if os.environ.get(ENV_VAR):
        found.append(Path(os.environ[ENV_VAR]))
    bases = [rootdir] if rootdir is not None else []
    bases.append(Path(__file__).resolve().parents[2])
    found += [base.parent / "shared" / "seeds" for base in bases]
    return found


def seed_file(seed: str, dirs: Iterable[Path]) -> Path | None:
    for directory in dirs:
        hits = sorted(directory.glob(f"{seed}_*.txt")) if directory.is_dir() else []
        if hits:
            return hits[0]
    return None


def code_tokens(text: str) -> set[str]:
    """Words that read the same in every language: identifiers, paths, numbers."""
    out = set()
    for word in _WORD.findall(text):
        word = word.strip("./-")
        codey = ("_" in word or "/" in word or any(c.isdigit() for c in word)
                 or (len(word) > 2 and word.isupper()) or re.search(r"[a-z][A-Z]", word) is not None)
        if codey and len(word) >= 2:
            out.add(word.lower())
    return out


def find_passage(rule: str, seed: str, path: Path) -> Passage | None:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    # Code-like words first; if none is in the document, longer plain words (cognates survive).
    return (_best_window(lines, code_tokens(rule), seed)
            or _best_window(lines, {w.lower() for w in re.findall(r"[A-Za-z]{6,}", rule)}, seed))


def _best_window(lines: list[str], wanted: set[str], seed: str) -> Passage | None:
    if not wanted or not lines:
        return None
    lowered = [line.lower() for line in lines]
    # A token found on few lines tells more than one found everywhere.
    weight = {}
    for token in wanted:
        on = sum(1 for line in lowered if token in line)
        if on:
            weight[token] = math.log(1 + len(lines) / on)
    if not weight:
        return None

    def score(index: int) -> float:
        window = " ".join(lowered[max(0, index - _CONTEXT_LINES): index + _CONTEXT_LINES + 1])
        return sum(w for token, w in weight.items() if token in window)

    best = max(range(len(lines)), key=lambda i: (score(i), -i))
    start = max(0, best - _CONTEXT_LINES)
    chosen = [line.strip() for line in lines[start: best + _CONTEXT_LINES + 1]]
    text = " ".join(line for line in chosen if line)
    return Passage(seed=seed, document=lines[0].strip(), first_line=start + 1, text=text)
