"""`json_schema` on route_and_complete against the simulator's fakes of each wire: the answer comes back parsed and
validated; an invalid one is retried on the next candidate, then returned as an error naming what failed."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from tests.server.mcp_support import mcp_session, text_of

pytestmark = pytest.mark.anyio

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["name", "count"],
    "additionalProperties": False,
}
VALID = '{"name": "widget", "count": 3}'
INVALID = '{"name": "widget", "count": "three"}'
ACCOUNTS = ("zai", "kimi", "openai", "anthropic", "google-1", "google-2", "google-3")


@pytest.mark.parametrize(
    ("provider", "account"),
    [("openai", "openai"), ("zai", "zai"), ("anthropic", "anthropic"), ("google", "google-1")],
)
async def test_a_valid_answer_on_each_wire_comes_back_parsed_in_structured_content(
    tmp_path: Path, provider: str, account: str
) -> None:
    async with mcp_session(tmp_path) as s:
        for each in ACCOUNTS:
            s.sim.configure(each, reply=VALID)
        with anyio.fail_after(20):
            out = await s.ok("route_and_complete", prompt="Describe the widget.", provider=provider, json_schema=SCHEMA)
        body = s.sim.requests(out["account"])[-1].body
    assert out["provider"] == provider and out["account"].startswith(account.split("-")[0])
    assert out["json"] == {"name": "widget", "count": 3}
    assert json.loads(out["text"]) == out["json"]
    sent = body if isinstance(body, dict) else json.loads(body)
    if provider == "openai":
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    elif provider == "zai":  # JSON mode only: the schema travels in the system prompt
        assert sent["response_format"] == {"type": "json_object"}
        assert '"required": ["name", "count"]' in sent["messages"][0]["content"]
    elif provider == "anthropic":
        assert sent["tool_choice"] == {"type": "tool", "name": "structured_answer"}
        assert sent["tools"][-1]["input_schema"] == SCHEMA
    else:
        config = sent["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert "additionalProperties" not in config["responseSchema"]  # outside Gemini's subset
        assert config["responseSchema"]["required"] == ["name", "count"]


async def test_an_invalid_answer_is_retried_on_the_next_candidate(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        for each in ACCOUNTS:
            s.sim.configure(each, reply=VALID)
        s.sim.configure("openai", reply=INVALID)
        with anyio.fail_after(20):
            out = await s.ok("route_and_complete", prompt="Describe the widget.", provider="openai", json_schema=SCHEMA)
    first, second = out["attempts"]
    assert (first["provider"], first["error_class"]) == ("openai", "invalid_output")
    assert "$.count" in first["detail"]
    assert second["outcome"] == "success" and second["provider"] != "openai"
    assert out["reason"] == "failover" and out["json"] == {"name": "widget", "count": 3}


async def test_a_second_invalid_answer_is_an_error_showing_what_failed_validation(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        for each in ACCOUNTS:
            s.sim.configure(each, reply=INVALID)
        with anyio.fail_after(20):
            result = await s.call("route_and_complete", prompt="Describe the widget.", json_schema=SCHEMA)
        tried = sum(s.sim.stats(each).requests for each in ACCOUNTS)
    assert result.is_error
    message = text_of(result)
    assert "no answer matched json_schema" in message
    assert "at $.count: 'three' is not of type 'integer'" in message
    assert message.count("(invalid_output)") == 2 and tried == 2


async def test_a_schema_that_is_not_a_json_schema_is_refused_before_any_call(tmp_path: Path) -> None:
    async with mcp_session(tmp_path) as s:
        result = await s.call("route_and_complete", prompt="Describe the widget.", json_schema={"type": "objekt"})
        calls = sum(s.sim.stats(each).requests for each in ACCOUNTS)
    assert result.is_error and "`json_schema` is not a valid JSON Schema" in text_of(result)
    assert calls == 0
