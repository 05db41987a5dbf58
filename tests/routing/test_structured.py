"""Reading and validating a structured answer: whatever wire it came from, the JSON and only valid JSON passes."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from providers.anthropic_request import structured_tool
from providers.errors import InvalidOutput
from providers.gemini_request import build_body as gemini_body
from providers.types import ChatRequest, Completion, Message, ToolCall, Usage
from routing.structured import check_schema, structured_answer

OBJECT = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
LIST = {"type": "array", "items": {"type": "string"}}


@dataclass(frozen=True)
class Where:
    provider: str = "p"
    account: str = "a"
    model: str = "m"


def _completion(text: str = "", calls: tuple[ToolCall, ...] = ()) -> Completion:
    return Completion(text=text, tool_calls=calls, finish_reason="stop", usage=Usage(output_tokens=5), model="m")


def test_a_json_answer_in_a_markdown_fence_is_read_as_its_json() -> None:
    checked = structured_answer(_completion('```json\n{"n": 2}\n```'), OBJECT, Where())
    assert json.loads(checked.text) == {"n": 2}


def test_a_forced_tools_input_is_the_answer_and_a_wrapped_non_object_is_unwrapped() -> None:
    assert structured_tool(LIST)["input_schema"]["properties"]["value"] == LIST
    call = ToolCall(id="t1", name="structured_answer", arguments='{"value": ["a", "b"]}')
    checked = structured_answer(_completion(calls=(call,)), LIST, Where())
    assert json.loads(checked.text) == ["a", "b"] and checked.tool_calls == ()


def test_an_answer_that_is_not_json_or_not_valid_names_what_failed_and_keeps_its_usage() -> None:
    with pytest.raises(InvalidOutput, match="the answer is not JSON: 'sure!'") as not_json:
        structured_answer(_completion("sure!"), OBJECT, Where())
    assert not_json.value.usage.output_tokens == 5 and not_json.value.error_class == "invalid_output"
    with pytest.raises(InvalidOutput, match=r"at \$: 'n' is a required property"):
        structured_answer(_completion("{}"), OBJECT, Where())


def test_a_schema_that_is_not_json_schema_is_refused_with_where() -> None:
    with pytest.raises(ValueError, match=r"at \$.properties.n.type"):
        check_schema({"type": "object", "properties": {"n": {"type": 5}}})


def test_gemini_gets_the_schema_cut_to_the_keywords_it_accepts() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "additionalProperties": False, **OBJECT}
    request = ChatRequest(model="g", messages=(Message(role="user", content="hi"),), json_schema=schema)
    config = gemini_body(request)["generationConfig"]
    assert config["responseSchema"] == {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


@pytest.mark.parametrize(
    ("ref", "named"),
    [("#/$defs/missing", "#/$defs/missing"), ("https://example.invalid/item.json", "https://example.invalid")],
)
def test_a_schema_whose_ref_leads_nowhere_is_refused_before_any_call(ref: str, named: str) -> None:
    schema = {"type": "object", "properties": {"n": {"$ref": ref}}, "$defs": {"int": {"type": "integer"}}}
    with pytest.raises(ValueError, match=r"at \$\.properties\.n\.\$ref.*cannot be resolved") as caught:
        check_schema(schema)
    assert named in str(caught.value)


def test_a_schema_whose_refs_resolve_inside_it_is_accepted() -> None:
    defs = {"int": {"type": "integer"}}
    check_schema({"type": "object", "properties": {"n": {"$ref": "#/$defs/int"}}, "$defs": defs})
    check_schema({"type": "object", "enum": [{"$ref": "not a reference, a value"}]})
