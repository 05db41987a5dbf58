"""The tools' published output schemas in an equivalent form that a validating client checks faster.

pydantic writes an optional field as `anyOf: [{type: T, …}, {type: "null"}]`. A client that validates each result
against the outputSchema (the MCP SDK's `Client` does, with `jsonschema`) descends into every branch it tries,
and builds an error for each branch a null fails first. The same constraint written `type: [T, "null"]` (with
null added to an `enum`) accepts exactly the same documents in one step: for route_and_complete's usual result,
42 descents instead of 66 and no discarded errors. Nothing else changes: properties, required fields, titles,
descriptions and defaults stay where pydantic put them.
"""

from __future__ import annotations

from typing import Any

#: keywords a `{type: T}` branch may carry and still merge: they constrain only values of type T (so a null
#: passes them) or, for `enum`, get null added
_MERGEABLE = frozenset(
    {
        "type",
        "enum",
        "title",
        "description",
        "format",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
    }
)
_NULL = {"type": "null"}
#: what may stand beside such an `anyOf` (annotations only: nothing that would then also apply to the null)
_ANNOTATIONS = frozenset({"anyOf", "title", "description", "default", "examples"})


def compact_schema(node: Any) -> Any:
    """`node` (a JSON Schema, or a part of one) with each optional `anyOf` of one type and null merged."""
    if isinstance(node, list):
        return [compact_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: compact_schema(value) for key, value in node.items()}
    branch = _nullable_branch(node.get("anyOf"))
    if branch is None or not set(node) <= _ANNOTATIONS:
        return node
    merged: dict[str, Any] = {"type": [branch["type"], "null"]}
    merged |= {key: value for key, value in branch.items() if key != "type"}
    if "enum" in branch:
        merged["enum"] = [*branch["enum"], None]
    return merged | {key: value for key, value in node.items() if key != "anyOf"}


def _nullable_branch(any_of: Any) -> dict[str, Any] | None:
    """The non-null branch of `[branch, {type: null}]` (either order) when it can merge, else None."""
    if not isinstance(any_of, list) or len(any_of) != 2 or _NULL not in any_of:
        return None
    branch = any_of[0] if any_of[1] == _NULL else any_of[1]
    if not isinstance(branch, dict) or not isinstance(branch.get("type"), str) or branch["type"] == "null":
        return None
    if not set(branch) <= _MERGEABLE or (branch.get("enum") is not None and None in branch["enum"]):
        return None
    return branch
