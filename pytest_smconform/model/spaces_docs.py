"""WorkspaceTemplate / Workspace documents: parse (with lines), normalise the idle spelling, schema-check.

Two spellings of the idle-shutdown fields exist: the AWS "Customize add-on" page's
(`idleShutdownTimeoutMinutes`, `minTimeoutMinutes`, `maxTimeoutMinutes`) and the operator's
(`idleTimeoutInMinutes`, `minIdleTimeoutInMinutes`, `maxIdleTimeoutInMinutes`). Both are accepted
and renamed to the operator's; each document remembers which spelling it used.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..spec.yamlpos import (
    JsonPath,
    Located,
    YamlShapeError,
    compose_all_bounded,
    line_in,
    reader_error_line,
    reader_error_message,
)
from ..spec.yamlpos import _convert as _located_tree  # the line-recording converter

API_VERSION = "workspace.jupyter.org/v1alpha1"
KINDS = ("WorkspaceTemplate", "Workspace")
SEED, OPERATOR = "seed", "operator"

# where idle objects sit, per kind: (path to the IdleShutdownSpec, path to the override policy)
_IDLE_SPEC_PATHS = {"WorkspaceTemplate": ("spec", "defaultIdleShutdown"), "Workspace": ("spec", "idleShutdown")}
_OVERRIDES_PATH = ("spec", "idleShutdownOverrides")
TIMEOUT_RENAMES = {"idleShutdownTimeoutMinutes": "idleTimeoutInMinutes"}
BOUND_RENAMES = {"minTimeoutMinutes": "minIdleTimeoutInMinutes", "maxTimeoutMinutes": "maxIdleTimeoutInMinutes"}
OLD_OPERATOR_NAMES = {"timeoutMinutes": "idleTimeoutInMinutes"}  # before the operator's rename (#264)
RESERVED_PREFIX = "workspace.jupyter.org/"


@dataclass(frozen=True)
class SchemaError:
    where: str  # file:line
    field: str  # dotted path
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field or '(document)'}: {self.message}"


@dataclass
class Document:
    """One YAML document of kind WorkspaceTemplate or Workspace, in the operator's spelling."""

    path: Path
    index: int  # position of the document in its file (0-based)
    data: dict[str, Any]
    lines: dict[JsonPath, int] = field(default_factory=dict)
    spellings: set[str] = field(default_factory=set)  # seed and/or operator
    rename_errors: list[SchemaError] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or f"<unnamed #{self.index + 1}>")

    @property
    def namespace(self) -> str | None:
        ns = self.metadata.get("namespace")
        return str(ns) if ns else None

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.data.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def spelling(self) -> str:
        """Which idle-field spelling the document used: seed, operator, mixed or none."""
        if len(self.spellings) > 1:
            return "mixed"
        return next(iter(self.spellings), "none")

    def line_of(self, json_path: JsonPath) -> int:
        return line_in(self.lines, json_path)

    def where(self, json_path: JsonPath = ()) -> str:
        return f"{self.path}:{self.line_of(json_path)}"

    @property
    def label(self) -> str:
        """`Workspace default/my-ws (ws.yaml:3)`: how violations name a document."""
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind or 'document'} {ns}{self.name} ({self.where()})"


class DocumentError(Exception):
    """A file that is not YAML, or a document that is not a mapping of a known kind."""

    def __init__(self, errors: list[SchemaError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def load_documents(path: Path, text: str | None = None) -> tuple[list[Document], list[SchemaError]]:
    """Every WorkspaceTemplate/Workspace document of a file, and the errors that kept others out."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return [], [SchemaError(f"{path}:1", "", f"cannot read: {exc}")]
    try:
        nodes = compose_all_bounded(text)
    except YamlShapeError as exc:
        return [], [SchemaError(f"{path}:{exc.line}", "", exc.message)]
    except yaml.reader.ReaderError as exc:
        return [], [SchemaError(f"{path}:{reader_error_line(text, exc)}", "", reader_error_message(exc))]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return [], [SchemaError(f"{path}:{line}", "", f"YAML syntax: {exc.problem or exc}")]
    except yaml.YAMLError as exc:
        return [], [SchemaError(f"{path}:1", "", f"YAML: {exc}")]
    docs: list[Document] = []
    errors: list[SchemaError] = []
    for index, node in enumerate(nodes):
        lines: dict[JsonPath, int] = {}
        try:
            data = _located_tree(node, (), lines)
        except YamlShapeError as exc:
            errors.append(SchemaError(f"{path}:{exc.line}", "", exc.message))
            continue
        except yaml.YAMLError as exc:
            errors.append(SchemaError(f"{path}:{node.start_mark.line + 1}", "", f"YAML: {exc}"))
            continue
        if not isinstance(data, dict):
            errors.append(SchemaError(f"{path}:{lines.get((), 1)}", "",
                                      "a document must be a mapping with apiVersion, kind, metadata, spec"))
            continue
        doc = Document(path=path, index=index, data=data, lines=lines)
        _normalise_spelling(doc)
        docs.append(doc)
    return docs, errors


def document_from_data(data: dict[str, Any], path: Path | None = None, index: int = 0) -> Document:
    """A document built in memory (tests, generated documents); lines all point at line 1."""
    doc = Document(path=path or Path("<memory>"), index=index, data=copy.deepcopy(data), lines={(): 1})
    _normalise_spelling(doc)
    return doc


def located(doc: Document) -> Located:
    return Located(path=doc.path, data=doc.data, lines=doc.lines)


# -- spelling ----------------------------------------------------------------------------------


def _normalise_spelling(doc: Document) -> None:
    spec_path = _IDLE_SPEC_PATHS.get(doc.kind)
    if spec_path is not None:
        _rename(doc, spec_path, TIMEOUT_RENAMES)
    if doc.kind == "WorkspaceTemplate":
        _rename(doc, _OVERRIDES_PATH, BOUND_RENAMES)


def _rename(doc: Document, at: tuple[str, ...], renames: dict[str, str]) -> None:
    holder: Any = doc.data
    for key in at:
        holder = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(holder, dict):
        return
    for new in renames.values():
        if new in holder:
            doc.spellings.add(OPERATOR)
    for old, new in renames.items():
        if old not in holder:
            continue
        doc.spellings.add(SEED)
        if new in holder:
            doc.rename_errors.append(SchemaError(
                doc.where((*at, old)), ".".join((*at, old)),
                f"both {old} (AWS page spelling) and {new} (operator spelling) are set; keep one"))
            continue
        # keep the key order and every recorded line, under the new name
        items = list(holder.items())
        holder.clear()
        for key, value in items:
            holder[new if key == old else key] = value
        for path in [p for p in doc.lines if p[:len(at) + 1] == (*at, old)]:
            doc.lines[(*at, new, *path[len(at) + 1:])] = doc.lines[path]


def operator_spelling(doc: Document) -> dict[str, Any]:
    """The document as the operator's CRD reads it (already normalised)."""
    return copy.deepcopy(doc.data)


def seed_spelling(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a normalised document written in the AWS page's spelling (for tests and examples)."""
    out = copy.deepcopy(data)
    spec = out.get("spec") if isinstance(out.get("spec"), dict) else None
    if spec is None:
        return out
    for key in ("idleShutdown", "defaultIdleShutdown"):
        idle = spec.get(key)
        if isinstance(idle, dict) and "idleTimeoutInMinutes" in idle:
            idle["idleShutdownTimeoutMinutes"] = idle.pop("idleTimeoutInMinutes")
    over = spec.get("idleShutdownOverrides")
    if isinstance(over, dict):
        for old, new in BOUND_RENAMES.items():
            if new in over:
                over[old] = over.pop(new)
    return out


# -- schema ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("spaces-schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # here: importing this module (every run registers the spaces platform) must not cost it

    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


def schema_errors(doc: Document) -> list[SchemaError]:
    """SP-TPL-SCHEMA for one document: JSON Schema, the CRDs' CEL rules, spelling conflicts."""
    errors = list(doc.rename_errors)
    for err in sorted(_validator().iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path]):
        errors.extend(_explain(doc, err))
    errors.extend(_cel_rules(doc))
    # one message per field and text (anyOf/if-then can repeat themselves)
    unique: dict[tuple[str, str], SchemaError] = {}
    for error in errors:
        unique.setdefault((error.field, error.message), error)
    return sorted(unique.values(), key=lambda e: (_line(e.where), e.field))


def _line(where: str) -> int:
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _explain(doc: Document, err: Any) -> list[SchemaError]:
    path = tuple(err.absolute_path)
    dotted = ".".join(str(p) for p in path)
    if err.validator == "additionalProperties":
        extras = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        out = []
        for key in extras:
            hint = ""
            if key in OLD_OPERATOR_NAMES:
                hint = f" (an old operator spelling; use {OLD_OPERATOR_NAMES[key]})"
            out.append(SchemaError(doc.where((*path, key)), ".".join(str(p) for p in (*path, key)),
                                   f"unknown field {key!r}{hint}"))
        return out
    if err.validator == "required":
        return [SchemaError(doc.where(path), dotted, err.message.replace("property", "field"))]
    if err.validator == "anyOf" and "quantity" in json.dumps(err.schema):
        return [SchemaError(doc.where(path), dotted, f"{err.instance!r} is not a Kubernetes quantity")]
    if err.validator == "anyOf":
        return [SchemaError(doc.where(path), dotted, f"{err.instance!r} must be an integer or a string")]
    if err.validator == "const" and path == ("apiVersion",):
        return [SchemaError(doc.where(path), dotted, f"apiVersion must be {API_VERSION}, not {err.instance!r}")]
    if err.validator == "enum" and path == ("kind",):
        return [SchemaError(doc.where(path), dotted, f"kind must be one of {', '.join(KINDS)}, not {err.instance!r}")]
    return [SchemaError(doc.where(path), dotted, err.message)]


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def _metadata_rules(doc: Document) -> list[SchemaError]:
    """What the apiserver checks on every object's metadata: a DNS-subdomain name, valid labels."""
    out: list[SchemaError] = []
    meta = doc.metadata
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        out.append(SchemaError(doc.where(("metadata",)), "metadata.name", "the object needs metadata.name"))
    elif isinstance(name, str) and (len(name) > 253 or not _DNS_SUBDOMAIN.match(name)):
        out.append(SchemaError(doc.where(("metadata", "name")), "metadata.name",
                               f"{name!r} is not a valid name (lowercase letters, digits, '-' and '.')"))
    labels = meta.get("labels")
    for key, value in (labels.items() if isinstance(labels, dict) else []):
        prefix, _, label = str(key).rpartition("/")
        if (not label or len(label) > 63 or not _LABEL_NAME.match(label)
                or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)))):
            out.append(SchemaError(doc.where(("metadata", "labels", str(key))), f"metadata.labels.{key}",
                                   f"{key!r} is not a valid label key"))
        if isinstance(value, str) and (len(value) > 63 or not _LABEL_NAME.match(value)):
            out.append(SchemaError(doc.where(("metadata", "labels", str(key))), f"metadata.labels.{key}",
                                   f"{value!r} is not a valid label value (at most 63 letters, digits, '-', '_', "
                                   "'.'; starting and ending with a letter or digit)"))
    return out


def _cel_rules(doc: Document) -> list[SchemaError]:
    """The CRDs' CEL rules that a single document can break, and the apiserver's metadata rules."""
    out: list[SchemaError] = _metadata_rules(doc)
    spec = doc.spec
    if doc.kind == "WorkspaceTemplate" and isinstance(spec.get("baseLabels"), list):
        for i, label in enumerate(spec["baseLabels"]):
            if isinstance(label, dict) and str(label.get("key", "")).startswith(RESERVED_PREFIX):
                out.append(SchemaError(doc.where(("spec", "baseLabels", i, "key")), f"spec.baseLabels.{i}.key",
                                       f"baseLabels cannot use reserved prefix {RESERVED_PREFIX}"))
    if doc.kind == "Workspace" and isinstance(spec.get("volumes"), list):
        for i, vol in enumerate(spec["volumes"]):
            if isinstance(vol, dict) and vol.get("name") == "workspace-storage":
                out.append(SchemaError(doc.where(("spec", "volumes", i, "name")), f"spec.volumes.{i}.name",
                                       "volume name 'workspace-storage' is reserved"))
    return out

