"""Hypothesis strategies for documents near a JSON schema: mostly well-formed, with junk mixed in.

Our own small generator (the JSON-schema keywords our two schemas use): every node is either a
value its schema allows or, now and then, junk of any JSON type, and objects sometimes gain an
unknown key or lose a required one. That is what adversarial input looks like: almost right.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

JUNK_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=12)
JUNK = st.recursive(JUNK_SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
MAX_DEPTH = 7


def near(schema: dict[str, Any], root: dict[str, Any] | None = None, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values near `schema`: valid three times in four, junk otherwise."""
    root = root or schema
    valid = _valid(schema, root, depth)
    return st.one_of(valid, valid, valid, JUNK)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _valid(schema: dict[str, Any], root: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    schema = _resolve(schema, root)
    if depth > MAX_DEPTH:
        return JUNK_SCALARS
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return st.one_of([_valid(sub, root, depth) for sub in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_valid({**schema, "type": k}, root, depth) for k in kind])
    if kind == "object" or "properties" in schema:
        return _object(schema, root, depth)
    if kind == "array":
        items = schema.get("items", {})
        return st.lists(near(items, root, depth + 1), min_size=schema.get("minItems", 0), max_size=3)
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: len(s) < 80)
        return st.text(min_size=schema.get("minLength", 0), max_size=20)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        return st.floats(min_value=schema.get("minimum"), max_value=schema.get("maximum"), allow_nan=False,
                         allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return JUNK


def _object(schema: dict[str, Any], root: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    properties = schema.get("properties", {})
    required = [key for key in schema.get("required", []) if key in properties]
    fixed = {key: near(properties[key], root, depth + 1) for key in required}
    optional = {key: near(sub, root, depth + 1) for key, sub in properties.items() if key not in required}
    base = st.fixed_dictionaries(fixed, optional=optional)
    extra_schema = schema.get("additionalProperties")
    if isinstance(extra_schema, dict):
        names = schema.get("propertyNames", {})
        name_strategy = _valid(names, root, depth) if names else st.text(min_size=1, max_size=10)
        extras = st.dictionaries(name_strategy.filter(lambda n: isinstance(n, str)),
                                 near(extra_schema, root, depth + 1), max_size=3)
        base = st.tuples(base, extras).map(lambda pair: {**pair[1], **pair[0]})
    # Now and then an unknown key, or a required key missing.
    return st.tuples(base, st.integers(0, 9), st.text(min_size=1, max_size=8), JUNK).map(_spoil(required))


def _spoil(required: list[str]) -> Any:
    def spoil(args: tuple[dict[str, Any], int, str, Any]) -> dict[str, Any]:
        doc, dice, name, junk = args
        if dice == 0:
            doc = {**doc, name: junk}
        elif dice == 1 and required:
            doc = {k: v for k, v in doc.items() if k != required[0]}
        return doc

    return spoil
