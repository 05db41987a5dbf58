"""analyse(): a request becomes a Task with its token estimate, task type and capability needs."""

from __future__ import annotations

from collections.abc import Sequence

from providers.types import ChatRequest, ImagePart, Message, ToolSpec
from routing.analyse import analyse, analyse_request
from routing.request import for_history


def fixed(messages: Sequence[Message], system: str | None) -> int:
    return 1234


def test_a_given_task_type_is_kept_and_fully_certain() -> None:
    task = analyse([Message(role="user", content="hi")], task_type="reasoning", count=fixed)
    assert (task.task_type, task.task_type_inferred, task.task_type_confidence) == ("reasoning", False, 1.0)
    assert task.classification is None
    assert task.estimated_input_tokens == 1234


def test_a_missing_task_type_is_inferred_with_its_explanation() -> None:
    task = analyse([Message(role="user", content="Refactor src/app.py to remove the global state")], count=fixed)
    assert task.task_type == "coding" and task.task_type_inferred
    assert task.classification is not None and "source file" in task.classification.features


def test_tools_json_and_images_become_capability_needs() -> None:
    task = analyse(
        [Message(role="user", content="look")],
        tools=[ToolSpec(name="search")],
        json_output=True,
        images=True,
        count=fixed,
    )
    assert task.needs == {"tools", "json", "vision"}


def test_the_default_counter_is_tiktoken() -> None:
    task = analyse([Message(role="user", content="hello world")], system="be brief", task_type="simple")
    assert 10 < task.estimated_input_tokens < 30


def test_a_chat_request_carries_its_tools_output_budget_and_pins() -> None:
    request = ChatRequest(
        model="m", messages=(Message(role="user", content="x"),), tools=(ToolSpec(name="t"),), max_output_tokens=77
    )
    task = analyse_request(request, task_type="simple", provider="kimi", conversation_id="c", count=fixed)
    assert task.needs == {"tools"} and task.max_output_tokens == 77
    assert (task.provider, task.conversation_id, task.model) == ("kimi", "c", None)


def test_an_image_in_the_new_turn_needs_vision_and_is_counted_per_wire() -> None:
    image = ImagePart(media_type="image/png", data="", width=1024, height=1024, sha256="h", path="a.png")
    task = analyse([Message(role="user", content="What is it?", images=(image,))], task_type="simple")
    assert "vision" in task.needs
    assert task.image_tokens == {"openai": 765, "anthropic": 1399, "gemini": 1032}


def test_a_stored_turn_keeps_a_reference_to_its_image_and_not_the_image() -> None:
    image = ImagePart(media_type="image/png", data="QUJD", width=4, height=2, sha256="abc", path="shot.png")
    (stored,) = for_history([Message(role="user", content="Look", images=(image,))])
    assert stored.images == ()
    assert stored.content == "Look\n[image shot.png: image/png 4x2, sha256 abc, not kept in the conversation]"
