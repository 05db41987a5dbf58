"""JSON Schema (as MCP clients and pydantic write it) cut down to the OpenAPI subset Gemini's `Schema` accepts.

Gemini rejects unknown keys (`additionalProperties`, `$schema`, `title`, …) with a 400, has no `$ref`, and spells
`"type": ["string", "null"]` / `anyOf: [..., {"type": "null"}]` as `nullable`. Local `$ref`s are inlined to a
bounded depth, so a recursive schema is cut off rather than looping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SCHEMA_KEYS = frozenset(
    {
        "type",
        "format",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "default",
        "minimum",
        "maximum",
        "propertyOrdering",
    }
)
_MAX_SCHEMA_DEPTH = 24


def gemini_schema(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's JSON-schema `parameters` as a Gemini `Schema` (local `$defs`/`definitions` references inlined)."""
    defs: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        if isinstance(parameters.get(key), Mapping):
            defs.update(parameters[key])
    return _sanitize_schema(parameters, defs, 0)


def _sanitize_schema(schema: Any, defs: Mapping[str, Any], depth: int) -> dict[str, Any]:
    """A JSON schema cut down to the OpenAPI subset Gemini accepts, with local `$ref`s inlined."""
    if not isinstance(schema, Mapping) or depth > _MAX_SCHEMA_DEPTH:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1], {})
        merged = {**target, **{key: value for key, value in schema.items() if key != "$ref"}}
        return _sanitize_schema(merged, defs, depth + 1)
    result: dict[str, Any] = {key: value for key, value in schema.items() if key in _SCHEMA_KEYS}
    if isinstance(schema.get("type"), list):
        types = [kind for kind in schema["type"] if kind != "null"]
        del result["type"]
        result.update(_one_type(types, nullable=len(types) < len(schema["type"])))
    if "const" in schema:
        result["enum"] = [schema["const"]]
    if isinstance(schema.get("properties"), Mapping):
        result["properties"] = {
            name: _sanitize_schema(sub, defs, depth + 1) for name, sub in schema["properties"].items()
        }
        if isinstance(result.get("required"), list):
            result["required"] = [name for name in result["required"] if name in result["properties"]]
    if "items" in schema:
        result["items"] = _sanitize_schema(schema["items"], defs, depth + 1)
    variants = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(variants, list):
        result.update(_any_of([_sanitize_schema(sub, defs, depth + 1) for sub in variants]))
    return result


def _one_type(types: list[str], *, nullable: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"nullable": True} if nullable else {}
    if len(types) == 1:
        result["type"] = types[0]
    elif types:
        result["anyOf"] = [{"type": kind} for kind in types]
    return result


def _any_of(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """`anyOf` without its `{"type": "null"}` member, which Gemini spells `nullable`."""
    kept = [variant for variant in variants if variant.get("type") != "null"]
    result: dict[str, Any] = {"nullable": True} if len(kept) < len(variants) else {}
    if len(kept) == 1:
        result.update(kept[0])
    elif kept:
        result["anyOf"] = kept
    return result
