"""The task-type classifier on realistic agent sub-task prompts; every verdict comes with its features."""

from __future__ import annotations

import time

import pytest

from providers.types import Message
from routing.classify import classify, classify_text

PROMPTS: list[tuple[str, str]] = [
    ("Refactor `storage/quota.py` so reserve() and settle() share one transaction helper.", "coding"),
    (
        "Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>\nKeyError: 'id'\nFix this.",
        "coding",
    ),
    ("```python\ndef add(a, b):\n    return a - b\n```\nThe test fails, what's wrong?", "coding"),
    ("Write unit tests with pytest for the parse_retry_after function, covering HTTP-dates.", "coding"),
    ("Implement a TypeScript function that debounces an async callback.", "coding"),
    ("Add a migration that creates the attempts table with an index on decision_id.", "coding"),
    ("Prove that the reservation ledger can never overspend when two processes race.", "reasoning"),
    (
        "Why does the circuit breaker open after three timeouts but not after three 429s? Explain the trade-offs.",
        "reasoning",
    ),
    ("Compare round robin and least-used load balancing for five free-tier accounts and recommend one.", "reasoning"),
    ("What is the expected number of requests before all 5 accounts hit a 20/day limit, step by step?", "reasoning"),
    (
        "Design the architecture for sharing quotas across machines and evaluate the approach against SQLite.",
        "reasoning",
    ),
    ("Write a haiku about rate limits.", "creative"),
    ("Write a short story about a router that falls in love with a free tier.", "creative"),
    ("Brainstorm ten names for a CLI that routes prompts to cheap models.", "creative"),
    ("Summarize this changelog in three bullet points.", "simple"),
    ("Translate 'quota exhausted' into German.", "simple"),
    ("Fix the typos in: 'teh quick brwon fox'", "simple"),
    ("What is the capital of Australia?", "simple"),
    ("Extract every email address from the text below as a list.", "simple"),
    ("hello", "simple"),
]


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS, ids=[p[:40] for p, _ in PROMPTS])
def test_realistic_prompts_are_classified_with_their_features(prompt: str, expected: str) -> None:
    verdict = classify_text(prompt)
    assert verdict.task_type == expected, verdict
    assert verdict.features
    assert 0.0 <= verdict.confidence <= 1.0


def test_a_clear_coding_prompt_is_more_confident_than_a_vague_one() -> None:
    clear = classify_text("```py\nimport os\n```\nRefactor utils.py and fix the TypeError at line 3")
    vague = classify_text("Look at the thing we talked about and improve it a bit, you know what I mean, thanks a lot")
    assert clear.confidence > vague.confidence


def test_a_long_prompt_without_any_feature_is_treated_as_open_reasoning_with_low_confidence() -> None:
    verdict = classify_text(" ".join(["lorem ipsum dolor sit amet"] * 40))
    assert verdict.task_type == "reasoning"
    assert verdict.confidence < 0.5
    assert verdict.features == ("no feature matched",)


def test_the_latest_user_turn_decides_not_the_history() -> None:
    history = [
        Message(role="user", content="Write a poem about autumn."),
        Message(role="assistant", content="Leaves fall..."),
        Message(role="user", content="Now refactor src/router.py to use dependency injection."),
    ]
    assert classify(history).task_type == "coding"


def test_the_system_prompt_counts_at_half_weight() -> None:
    verdict = classify([Message(role="user", content="Do the next step.")], system="You are a coding agent in a repo.")
    assert any(feature == "coding noun" for feature in verdict.features)


def test_a_megabyte_prompt_is_classified_from_its_edges() -> None:
    prompt = "Summarize the following log.\n" + ("x" * 1_000_000)
    assert classify_text(prompt).task_type == "simple"


@pytest.mark.parametrize(
    "text",
    ["x." * 20_000, "a/" * 20_000, "FooError " * 5_000, "(" * 30_000, " " * 50_000, "\n  at a.b(" * 3_000],
    ids=["dots", "slashes", "errors", "parens", "spaces", "frames"],
)
def test_adversarial_prompts_are_classified_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    classify_text(text)
    assert time.perf_counter() - started < 1.0  # generous: ~40 ms here; quadratic backtracking took seconds


def test_feature_words_match_only_as_whole_words_in_any_case() -> None:
    assert "creative form" in classify_text("Write a POEM about queues.").features
    assert "creative form" not in classify_text("The apoem and poems_ variables are unrelated.").features
    assert "creative form" in classify_text("story-telling, then a poem").features


def test_an_error_with_its_location_needs_the_error_name_within_sixty_word_characters_of_its_start() -> None:
    near = "x" * 60 + "Error: bad value at line 3"
    far = "x" * 61 + "Error: bad value at line 3"
    assert "error with location" in classify_text(near).features
    assert "error with location" not in classify_text(far).features
    assert "error with location" in classify_text("raised " + far[1:] + " and ValueError at line 4").features
