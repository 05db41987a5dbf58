"""The published output schemas are pydantic's in an equivalent form: every document either accepts, the other does."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp.server.mcpserver import MCPServer

from server.mcp.schema import compact_schema
from server.mcp.server import build_server
from server.mcp.tools import RouteOutput

pytestmark = pytest.mark.anyio

PROBES: tuple[Any, ...] = (None, "x", "coding", "success", "rate_limited", 0, 1, -1, 1.5, True, [], [{}], {}, {"a": 1})


def _route_output() -> dict[str, Any]:
    out = RouteOutput(text="answer", provider="openai", model="gpt-5.2", account="a", reason="preference")
    data = out.model_dump(mode="json", by_alias=True)
    data["attempts"] = [{"provider": "openai", "model": "gpt-5.2", "account": "a", "outcome": "success"}]
    data["files"] = [{"path": "a.py", "tokens": 3}]
    return data


def _variants(document: dict[str, Any]) -> list[Any]:
    """`document` with each field (and each field of its nested objects) replaced by each probe, or left out."""
    variants: list[Any] = [document]
    for key, value in document.items():
        variants.append({k: v for k, v in document.items() if k != key})
        variants.extend(document | {key: probe} for probe in PROBES)
        nested = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value
        if isinstance(nested, dict):
            wrap = isinstance(value, list)
            variants.extend(document | {key: [inner] if wrap else inner} for inner in _variants(nested))
    return variants


async def test_the_compact_output_schemas_accept_exactly_the_documents_pydantics_accept() -> None:
    server = build_server(lambda: None)  # type: ignore[arg-type, return-value]
    original = {tool.name: tool.output_schema for tool in await MCPServer.list_tools(server)}
    published = {tool.name: tool.output_schema for tool in await server.list_tools()}
    assert set(published) == set(original)
    document = _route_output()
    route: list[tuple[bool, bool]] = []
    for name, schema in original.items():
        compact = published[name]
        assert schema is not None and compact is not None and compact == compact_schema(schema)
        assert compact["properties"].keys() == schema["properties"].keys()
        before, after = Draft202012Validator(schema), Draft202012Validator(compact)
        samples = _variants(document) if name == "route_and_complete" else [document, {}, {"x": None}]
        verdicts = [(before.is_valid(sample), after.is_valid(sample)) for sample in samples]
        assert all(a == b for a, b in verdicts), name
        route += verdicts if name == "route_and_complete" else []
    assert (True, True) in route and (False, False) in route


def test_an_optional_enum_gains_null_and_a_nullable_branch_with_other_keywords_is_left_as_it_is() -> None:
    optional_enum = {"anyOf": [{"enum": ["a", "b"], "type": "string"}, {"type": "null"}], "default": None}
    assert compact_schema(optional_enum) == {"type": ["string", "null"], "enum": ["a", "b", None], "default": None}
    const = {"anyOf": [{"const": "a", "type": "string"}, {"type": "null"}]}
    assert compact_schema(const) == const
    beside = {"anyOf": [{"type": "string"}, {"type": "null"}], "minLength": 2}
    assert compact_schema(beside) == beside
