"""Structured output: a `json_schema` request's answer read from the wire's reply and validated (`jsonschema`).

Each wire asks in its own way (providers' request builders); whatever came back is checked here before it is
returned: an answer that is not JSON, or not valid against the schema, is an `InvalidOutput` naming what failed
(the JSON path and the validator's message), and the router tries the next candidate once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from providers.anthropic_request import WRAPPED_KEY, is_object_schema
from providers.attempts import AttemptRecord
from providers.errors import InvalidOutput, ProviderError
from providers.models import ModelProfile
from providers.types import STRUCTURED_NAME, Completion, Usage
from routing.cost import is_free_tier, usage_cost_usd
from routing.failover import Action
from routing.ports import Hold, Settle

if TYPE_CHECKING:
    from jsonschema import ValidationError

#: answers that fail the request's json_schema before it stops (the first is retried on the next candidate)
MAX_INVALID_OUTPUTS = 2
#: validation errors named in one message (the rest are counted)
SHOWN_ERRORS = 3
_FENCE = "```"
#: keywords whose values are data, not schemas (a `$ref` key inside them is not a reference)
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


class Where(Protocol):
    """The candidate that answered (a `RankedCandidate`)."""

    @property
    def provider(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def model(self) -> str: ...


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ValueError naming the fix when `schema` is not a usable JSON Schema (checked before any call)."""
    from jsonschema import SchemaError  # jsonschema loads with the first json_schema request, not at start-up
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as error:
        where = _path(error.absolute_path)
        raise ValueError(
            f"`json_schema` is not a valid JSON Schema (at {where}: {error.message}); fix the schema and call again"
        ) from None
    _check_refs(schema)


def _check_refs(schema: dict[str, Any]) -> None:
    """Every `$ref` must resolve inside the schema (nothing is fetched): one that leads nowhere would fail only
    while validating an answer, after the call was paid for. Refs under a nested `$id` are left to validation."""
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    resolver = Registry().resolver_with_root(Resource.from_contents(schema, default_specification=DRAFT202012))
    for where, ref in _refs(schema, ("$",)):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            raise ValueError(
                f"`json_schema`'s reference at {'.'.join(where)} ({ref!r}) cannot be resolved: only references "
                "inside the schema (like `#/$defs/name`) are followed; fix the schema and call again"
            ) from None


def _refs(node: Any, where: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    if isinstance(node, list):
        return [found for n, item in enumerate(node) for found in _refs(item, (*where[:-1], f"{where[-1]}[{n}]"))]
    if not isinstance(node, dict) or (len(where) > 1 and "$id" in node):
        return []
    found = [((*where, "$ref"), node["$ref"])] if isinstance(node.get("$ref"), str) else []
    for key, value in node.items():
        if key not in _DATA_KEYWORDS and key != "$ref":
            found.extend(_refs(value, (*where, str(key))))
    return found


def structured_answer(completion: Completion, schema: dict[str, Any], candidate: Where) -> Completion:
    """`completion` with its text the answer as JSON text (a forced tool's input taken as the answer).

    Raises:
        InvalidOutput: the answer is not JSON, or not valid against `schema`; the message says where and why.
    """
    from jsonschema.validators import validator_for

    value = _answer(completion, schema, candidate)
    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        raise _invalid(candidate, completion, _describe(errors))
    others = tuple(call for call in completion.tool_calls if call.name != STRUCTURED_NAME)
    text = json.dumps(value, ensure_ascii=False)
    return completion.model_copy(update={"text": text, "tool_calls": others})


def after_invalid_output(action: Action, attempts: Sequence[AttemptRecord]) -> Action:
    """What an invalid answer leads to: the next candidate, unless this was the last one allowed (`attempts` are
    those before it)."""
    earlier = sum(1 for attempt in attempts if attempt.error_class == "invalid_output")
    return dataclasses.replace(action, stop=True) if earlier + 1 >= MAX_INVALID_OUTPUTS else action


def failed_settlement(hold: Hold, error: ProviderError, profile: ModelProfile) -> Settle:
    """A failed attempt the provider counted: settled empty, or at what an answer that failed validation used."""
    if not isinstance(error, InvalidOutput):
        return Settle(hold, Usage(), 0.0)
    return Settle(hold, error.usage, usage_cost_usd(error.usage, profile, free=is_free_tier(profile, None)))


def parsed(text: str) -> Any:
    """The JSON value of a structured answer's text (as `structured_answer` left it)."""
    return json.loads(text)


def _answer(completion: Completion, schema: dict[str, Any], candidate: Where) -> Any:
    call = next((c for c in completion.tool_calls if c.name == STRUCTURED_NAME), None)
    text = call.arguments if call is not None else _unfenced(completion.text)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        shown = text.strip()[:120] or "an empty answer"
        raise _invalid(candidate, completion, f"the answer is not JSON: {shown!r}") from None
    if call is not None and not is_object_schema(schema) and isinstance(value, dict):
        # the Anthropic wire's forced tool wraps a schema that is not an object
        return value.get(WRAPPED_KEY)
    return value


def _unfenced(text: str) -> str:
    """The text without a Markdown code fence around it (```json … ```), which some models add in JSON mode."""
    stripped = text.strip()
    if stripped.startswith(_FENCE) and stripped.endswith(_FENCE) and len(stripped) > 2 * len(_FENCE):
        body = stripped[len(_FENCE) : -len(_FENCE)]
        first_line, _, rest = body.partition("\n")
        return rest if first_line.strip().isalpha() or not first_line.strip() else body
    return stripped


def _describe(errors: list[ValidationError]) -> str:
    shown = "; ".join(f"at {_path(e.absolute_path)}: {e.message[:200]}" for e in errors[:SHOWN_ERRORS])
    more = f" (and {len(errors) - SHOWN_ERRORS} more)" if len(errors) > SHOWN_ERRORS else ""
    return f"the answer does not match json_schema: {shown}{more}"


def _path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _invalid(candidate: Where, completion: Completion, message: str) -> InvalidOutput:
    return InvalidOutput(
        message,
        provider=candidate.provider,
        account=candidate.account,
        model=candidate.model,
        usage=completion.usage,
    )
