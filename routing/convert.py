"""Carry a conversation's history to another provider safely — pure, so it can be tested on plain data.

Messages are provider-neutral already; what breaks on a switch is structure each wire enforces differently:
- thinking/reasoning text some models inline as <think>…</think> cannot be replayed (its signature is gone): dropped;
- Anthropic and Gemini take the system prompt apart from the turns: system turns are hoisted into `system`;
- every tool result must follow the call that asked for it, and every call needs its result: orphaned results
  and unanswered calls become plain text, so nothing is lost but nothing is malformed; empty call ids (Gemini's
  OpenAI-compatible endpoint sends "") get synthetic ones;
- Anthropic and Gemini want the turns to start with a user turn and to alternate: adjacent plain turns of one role
  merge, and a history that starts with the assistant gets a short user turn first.
Then the result is re-counted with the new provider's counter and checked against its window.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from providers.types import Message, ToolCall, WireKind
from providers.values import read_only_hashable

Counter = Callable[[Sequence[Message], str | None], int]

_THINKING = re.compile(r"<(think|thinking|reasoning)>.*?</\1>\s*", re.DOTALL | re.IGNORECASE)
CONTINUATION = "(continuing an earlier conversation)"


@read_only_hashable
class Converted:
    """A history ready for the new provider, with what changed and whether it fits."""

    messages: tuple[Message, ...]
    system: str | None
    input_tokens: int
    output_tokens: int
    context_window: int
    fits: bool
    changes: tuple[str, ...]


def _drop_thinking(messages: Sequence[Message], changes: list[str]) -> list[Message]:
    out: list[Message] = []
    dropped = 0
    for m in messages:
        if m.role == "assistant" and "<" in m.content:
            text = _THINKING.sub("", m.content)
            if text != m.content:
                dropped += 1
                m = m.model_copy(update={"content": text})
        out.append(m)
    if dropped:
        changes.append(f"dropped thinking from {dropped} assistant turn(s)")
    return out


def _hoist_system(messages: list[Message], system: str | None, changes: list[str]) -> tuple[list[Message], str | None]:
    parts = [m.content for m in messages if m.role == "system"]
    if not parts:
        return messages, system
    changes.append(f"moved {len(parts)} system turn(s) into the system prompt")
    joined = "\n\n".join([system, *parts] if system else parts)
    return [m for m in messages if m.role != "system"], joined


def _describe_call(call: ToolCall) -> str:
    return f"[called tool {call.name} with {call.arguments}]"


def _orphan(result: Message) -> Message:
    return Message(
        role="user", content=f"[result of tool {result.name or result.tool_call_id or '?'}]\n{result.content}"
    )


def _match(calls: list[ToolCall], results: list[Message]) -> tuple[dict[int, Message], list[Message]]:
    """Results matched to call indexes (by id, else by name, else in order) and the results left over."""
    matched: dict[int, Message] = {}
    left: list[Message] = []
    for result in results:
        index = next(
            (i for i, c in enumerate(calls) if i not in matched and c.id and c.id == result.tool_call_id), None
        )
        if index is None and not result.tool_call_id:
            named = (i for i, c in enumerate(calls) if i not in matched and (not result.name or c.name == result.name))
            index = next(named, None)
        if index is None:
            left.append(result)
        else:
            matched[index] = result
    return matched, left


def _tool_block(assistant: Message, results: list[Message], serial: list[int], changes: list[str]) -> list[Message]:
    calls = list(assistant.tool_calls)
    matched, left = _match(calls, results)
    kept: list[ToolCall] = []
    answers: list[Message] = []
    notes: list[str] = []
    for i, call in enumerate(calls):
        result = matched.get(i)
        if result is None:
            notes.append(_describe_call(call))
            continue
        if not call.id:
            serial[0] += 1
            call = call.model_copy(update={"id": f"call_{serial[0]}"})
        kept.append(call)
        answers.append(result.model_copy(update={"tool_call_id": call.id, "name": result.name or call.name}))
    if notes:
        changes.append(f"turned {len(notes)} unanswered tool call(s) into text")
    if left:
        changes.append(f"turned {len(left)} orphaned tool result(s) into text")
    content = "\n".join([assistant.content, *notes] if assistant.content else notes)
    head = assistant.model_copy(update={"tool_calls": tuple(kept), "content": content})
    return [head, *answers, *(_orphan(r) for r in left)]


def _fix_tool_turns(messages: list[Message], changes: list[str]) -> list[Message]:
    out: list[Message] = []
    serial = [0]
    i, n = 0, len(messages)
    while i < n:
        m = messages[i]
        if m.role == "assistant" and m.tool_calls:
            j = i + 1
            while j < n and messages[j].role == "tool":
                j += 1
            out.extend(_tool_block(m, messages[i + 1 : j], serial, changes))
            i = j
            continue
        if m.role == "tool":
            changes.append("turned 1 orphaned tool result into text")
            m = _orphan(m)
        out.append(m)
        i += 1
    return out


def _alternate(messages: list[Message], changes: list[str]) -> list[Message]:
    out: list[Message] = []
    merged = 0
    for m in messages:
        prev = out[-1] if out else None
        plain = m.role in ("user", "assistant") and not m.tool_calls
        if prev is not None and plain and prev.role == m.role and not prev.tool_calls:
            out[-1] = prev.model_copy(update={"content": f"{prev.content}\n\n{m.content}"})
            merged += 1
        else:
            out.append(m)
    if merged:
        changes.append(f"merged {merged} adjacent turn(s) of the same role")
    if out and out[0].role != "user":
        out.insert(0, Message(role="user", content=CONTINUATION))
        changes.append("added a user turn before the first assistant turn")
    return out


def convert_history(
    messages: Sequence[Message],
    system: str | None,
    *,
    target: WireKind,
    context_window: int,
    max_output_tokens: int,
    count: Counter,
) -> Converted:
    """The history rewritten for a provider speaking `target`, re-counted with `count` (the new provider's counter,
    margin included) and checked against `context_window` with room for `max_output_tokens`."""
    changes: list[str] = []
    out = _drop_thinking(messages, changes)
    if target in ("anthropic", "gemini"):
        out, system = _hoist_system(out, system, changes)
    out = _fix_tool_turns(out, changes)
    if target in ("anthropic", "gemini"):
        out = _alternate(out, changes)
    tokens = count(out, system)
    return Converted(
        messages=tuple(out),
        system=system,
        input_tokens=tokens,
        output_tokens=max_output_tokens,
        context_window=context_window,
        fits=tokens + max_output_tokens <= context_window,
        changes=tuple(changes),
    )
