"""Turn a request into a Task: count its tokens, infer its task type when the caller gave none, and list the
capabilities a model needs to serve it. Counting loads the tokenizer on first use (see routing/tokens.py); run the
call in a worker thread when that first load must not block the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from providers.image_tokens import images_tokens
from providers.models import Capability, TaskType
from providers.types import ChatRequest, Message, ToolSpec
from routing.classify import classify
from routing.preferences import BudgetMode, QualityMode
from routing.tokens import estimate_tokens
from routing.types import Task

#: (messages, system) -> o200k_base token count; injectable so tests and benchmarks need no tokenizer
Counter = Callable[[Sequence[Message], str | None], int]


def needs_for(
    *, tools: Sequence[ToolSpec] = (), json_output: bool = False, images: bool = False, reasoning: bool = False
) -> frozenset[Capability]:
    """The capabilities a request needs: tool definitions need tools, images vision, a JSON reply json."""
    needs: set[Capability] = set()
    if tools:
        needs.add("tools")
    if json_output:
        needs.add("json")
    if images:
        needs.add("vision")
    if reasoning:
        needs.add("reasoning")
    return frozenset(needs)


def analyse(
    messages: Sequence[Message],
    *,
    system: str | None = None,
    task_type: TaskType | None = None,
    quality: QualityMode | None = None,
    budget_mode: BudgetMode | None = None,
    max_output_tokens: int | None = None,
    max_cost_usd: float | None = None,
    tools: Sequence[ToolSpec] = (),
    json_output: bool = False,
    images: bool = False,
    reasoning: bool = False,
    conversation_id: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    count: Counter | None = None,
    history: Sequence[Message] = (),
    history_tokens: int | None = None,
) -> Task:
    """The Task for a request: `history` (a conversation's earlier turns) followed by `messages`.

    `history_tokens`, when known (routing.tokens.message_tokens of `history`, kept with the conversation), spares
    counting the history again: only the new messages are counted. Images in `messages` (or `images`) need vision;
    their tokens are counted per wire (providers.image_tokens), a history never holds any (routing.request).
    """
    counter: Counter = count or estimate_tokens
    if history and history_tokens is not None:
        estimated = counter(messages, system) + history_tokens
    else:
        estimated = counter((*history, *messages), system)
    pictures = tuple(image for message in messages for image in message.images)
    messages = (*history, *messages)
    classification = None
    confidence = 1.0
    if task_type is None:
        classification = classify(messages, system)
        task_type = classification.task_type
        confidence = classification.confidence
    return Task(
        messages=tuple(messages),
        system=system,
        estimated_input_tokens=estimated,
        image_tokens=images_tokens(pictures),
        max_output_tokens=max_output_tokens,
        task_type=task_type,
        task_type_inferred=classification is not None,
        task_type_confidence=confidence,
        classification=classification,
        quality=quality,
        budget_mode=budget_mode,
        max_cost_usd=max_cost_usd,
        needs=needs_for(tools=tools, json_output=json_output, images=images or bool(pictures), reasoning=reasoning),
        conversation_id=conversation_id,
        provider=provider,
        model=model,
    )


def analyse_request(
    request: ChatRequest,
    *,
    task_type: TaskType | None = None,
    quality: QualityMode | None = None,
    budget_mode: BudgetMode | None = None,
    max_cost_usd: float | None = None,
    images: bool = False,
    conversation_id: str | None = None,
    provider: str | None = None,
    count: Counter | None = None,
) -> Task:
    """analyse() for a ChatRequest (its model, if set, is not a pin: pass `provider` to pin)."""
    return analyse(
        request.messages,
        system=request.system,
        task_type=task_type,
        quality=quality,
        budget_mode=budget_mode,
        max_output_tokens=request.max_output_tokens,
        max_cost_usd=max_cost_usd,
        tools=request.tools,
        json_output=request.json_output,
        images=images,
        conversation_id=conversation_id,
        provider=provider,
        count=count,
    )
