"""Infer a task type (coding / reasoning / creative / simple) from a prompt: fast, and explainable.

Each feature is a compiled regex with a weight for one task type; the type with the highest total wins, and the
matched features are the explanation. The latest user turn is what an agent is asking for now, so it is read in
full (up to a cap); the system prompt counts at half weight, since agents reuse one system prompt for every kind
of sub-task. With no feature at all, a short prompt is `simple` and a long one `reasoning` (low confidence).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from providers.models import TaskType
from providers.types import Message
from providers.values import read_only_hashable
from routing.types import Classification


@read_only_hashable
class Feature:
    label: str
    task_type: TaskType
    weight: float
    pattern: re.Pattern[str]
    #: the pattern is case-insensitive: it is matched, lowercased, against the lowercased text (see `_f`)
    folded: bool = False
    #: a match counts only where at most this many word characters precede it (0: it starts a word); the check
    #: stands in for a leading `\b` / `\b\w{0,N}`, which keeps re from scanning for the pattern's first letters
    within_word: int | None = None


@read_only_hashable
class Words:
    """Alternatives matched as whole words, case-insensitively (each starts with a letter)."""

    alternatives: tuple[str, ...]


def _f(
    label: str,
    task_type: TaskType,
    weight: float,
    pattern: str | Words,
    flags: int = re.IGNORECASE,
    within_word: int | None = None,
) -> Feature:
    """A feature. A case-insensitive one is compiled lowercased and without `re.IGNORECASE`, to be searched in the
    lowercased text: the same matches for ASCII text (for other scripts, Unicode's lowercase stands in for re's
    case folding), and far faster, since Python's re scans a case-sensitive pattern for its first letters."""
    if isinstance(pattern, Words):
        pattern, within_word = "(?:" + "|".join(pattern.alternatives) + r")\b", 0
    if flags & re.IGNORECASE:
        compiled = re.compile(_lowered(pattern), flags & ~re.IGNORECASE)
        return Feature(label, task_type, weight, compiled, folded=True, within_word=within_word)
    return Feature(label, task_type, weight, re.compile(pattern, flags), within_word=within_word)


def _lowered(pattern: str) -> str:
    """`pattern` with its literal letters lowercased; escapes (`\\S`, `\\W`, `\\b`, `\\(`…) kept as written."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        out.append(char if escaped else char.lower())
        escaped = not escaped and char == "\\"
    return "".join(out)


def _words(*words: str) -> Words:
    return Words(words)


_EXTENSIONS = "py|pyi|js|mjs|ts|tsx|jsx|go|rs|java|kt|kts|scala|c|cc|cpp|cxx|h|hpp|cs|rb|php|swift|m|mm|sql|sh|bash|zsh|ps1|lua|dart|ex|exs|erl|hs|ml|clj|vue|svelte|css|scss|html|toml|ya?ml|gradle|tf|proto|ipynb"  # noqa: E501

FEATURES: tuple[Feature, ...] = (
    # coding
    _f("code fence", "coding", 3.0, r"```"),
    _f(
        "stack trace",
        "coding",
        3.0,
        r"Traceback \(most recent call last\)|^\s+at [\w.$<>]+\(.*:\d+\)|panicked at",
        re.M,
    ),
    # `\b\w{0,60}(?:Error|Exception)\b…`: the name may be up to 60 word characters before "error"
    _f(
        "error with location", "coding", 2.0, r"(?:Error|Exception)\b[^\n]{0,200}?(?:line \d+|:\d+:\d+)", within_word=60
    ),
    # a file extension right after a name character: linear to match, unlike a full path pattern
    _f("source file", "coding", 2.0, r"(?<=[\w-])\.(?:" + _EXTENSIONS + r")\b(?![\w.-])"),
    _f(
        "code syntax",
        "coding",
        2.0,
        r"^\s*(?:def |class |import |from \S+ import |fn |func |#include|const |let |public |package )"
        r"|=>|\)\s*\{|;\s*$",
        re.M,
    ),
    _f(
        "coding verb",
        "coding",
        1.5,
        _words(
            "refactor\\w*",
            "implement\\w*",
            "debug\\w*",
            "compile\\w*",
            "lint\\w*",
            "deprecat\\w+",
            "rename the",
            "type[- ]check\\w*",
            "unit[- ]tests?",
            "regex\\w*",
            "segfault\\w*",
        ),
    ),
    _f("code identifier", "coding", 1.5, r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b|\b[a-z]+[A-Z][a-z]+\w*\(|\b\w+\(\)", 0),
    _f(
        "coding noun",
        "coding",
        1.0,
        _words(
            "function",
            "method",
            "class",
            "variable",
            "bug",
            "api",
            "endpoint",
            "module",
            "repo(?:sitory)?",
            "commit",
            "pull request",
            "diff",
            "patch",
            "script",
            "library",
            "dependenc(?:y|ies)",
            "database",
            "migrations?",
            "index",
            "column",
            "stack",
            "schema",
            "query",
            "sql",
            "json",
            "html",
            "css",
            "typescript",
            "python",
            "rust",
            "golang",
            "java(?:script)?",
            "pytest",
            "docker\\w*",
            "kubernetes",
            "git",
            "cli",
        ),
    ),
    # reasoning
    _f(
        "proof",
        "reasoning",
        3.0,
        _words("prove", "proof", "theorem", "lemma", "derive", "derivation", "invariant", "induction"),
    ),
    _f("why question", "reasoning", 1.5, _words("why", "how come", "explain why", "root cause")),
    _f(
        "analysis verb",
        "reasoning",
        2.0,
        _words(
            "analy[sz]e",
            "analysis",
            "evaluate",
            "assess",
            "compare",
            "trade-?offs?",
            "pros and cons",
            "reason about",
            "think through",
            "step[- ]by[- ]step",
            "justify",
            "diagnose",
            "critique",
            "weigh",
        ),
    ),
    _f(
        "planning",
        "reasoning",
        1.5,
        _words(
            "plan",
            "design",
            "architecture",
            "strategy",
            "approach",
            "decide",
            "should (?:we|i)",
            "which is better",
            "best way",
        ),
    ),
    _f(
        "math",
        "reasoning",
        2.0,
        r"\b(?:probability|expected (?:value|number)|equation|integral|derivative|complexity|O\([^)]*\)"
        r"|calculate|compute the|how many)\b|[=<>≤≥∑∫√]\s*\d",
    ),
    # creative
    _f(
        "creative form",
        "creative",
        3.0,
        _words(
            "poem",
            "poetry",
            "haiku",
            "sonnet",
            "limerick",
            "lyrics",
            "song",
            "story",
            "short story",
            "fiction",
            "fairy tale",
            "screenplay",
            "script for a video",
            "dialogue between",
        ),
    ),
    _f(
        "creative verb",
        "creative",
        2.0,
        _words(
            "imagine",
            "invent",
            "brainstorm",
            "write a (?:blog post|tweet|slogan|tagline|toast|speech)",
            "come up with",
            "make up",
            "rhym\\w+",
            "creative\\w*",
        ),
    ),
    _f(
        "creative noun",
        "creative",
        1.0,
        _words(
            "character",
            "plot",
            "narrative",
            "metaphor",
            "tone of voice",
            "marketing copy",
            "slogan",
            "tagline",
            "names for",
        ),
    ),
    # simple
    _f(
        "summarise",
        "simple",
        2.5,
        _words("summar(?:y|i[sz]e\\w*)", "tl;?dr", "condense", "shorten", "key points", "bullet points"),
    ),
    _f(
        "transform text",
        "simple",
        2.5,
        _words(
            "translate",
            "rephrase",
            "reword",
            "paraphrase",
            "proofread",
            "fix (?:the )?(?:typos?|spelling|grammar)",
            "spell[- ]check",
            "capitali[sz]e",
            "format (?:this|as)",
            "convert (?:this|to)",
            "extract",
            "classify",
            "label",
            "list (?:the|all)",
            "count the",
        ),
    ),
    _f(
        "lookup question",
        "simple",
        1.5,
        r"^\s*(?:what is|what's|what are|who is|who was|when (?:is|was|did)|where is|define|meaning of)\b",
    ),
    _f("yes/no", "simple", 1.0, _words("yes or no", "true or false", "one word", "one sentence", "briefly")),
)

#: The latest user turn is read up to this many characters (head and tail): features live at the edges.
MAX_CHARS = 20_000
SHORT_PROMPT_WORDS = 25
#: A long prompt with no feature is most likely an open question; a short one most likely a quick lookup.
LONG_PROMPT_WORDS = 120
_PRIORITY: tuple[TaskType, ...] = ("coding", "reasoning", "creative", "simple")


def _clip(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    half = MAX_CHARS // 2
    return text[:half] + "\n" + text[-half:]


def _score(text: str, factor: float, scores: dict[TaskType, float], hits: list[tuple[float, str]]) -> None:
    lowered = text.lower()
    for feature in FEATURES:
        if _found(feature, lowered if feature.folded else text):
            weight = feature.weight * factor
            scores[feature.task_type] += weight
            hits.append((weight, feature.label))


def _found(feature: Feature, text: str) -> bool:
    """Whether `feature` matches `text` somewhere its `within_word` allows (re's `search` from each next start)."""
    limit = feature.within_word
    if limit is None:
        return feature.pattern.search(text) is not None
    search = feature.pattern.search
    position = 0
    while (match := search(text, position)) is not None:
        start = match.start()
        if _word_run_before(text, start, limit) <= limit:
            return True
        position = start + 1
    return False


def _word_run_before(text: str, end: int, limit: int) -> int:
    """How many word characters (re's `\\w`) run right before `end`, counted up to `limit` + 1."""
    count, index = 0, end - 1
    while count <= limit and index >= 0 and (text[index].isalnum() or text[index] == "_"):
        count, index = count + 1, index - 1
    return count


def classify_text(prompt: str, system: str | None = None) -> Classification:
    """The task type of `prompt` (the latest user turn), with the features that decided it."""
    scores: dict[TaskType, float] = dict.fromkeys(_PRIORITY, 0.0)
    hits: list[tuple[float, str]] = []
    _score(_clip(prompt), 1.0, scores, hits)
    if system:
        _score(_clip(system), 0.5, scores, hits)
    words = len(prompt.split())
    if words <= SHORT_PROMPT_WORDS:
        scores["simple"] += 1.5
        hits.append((1.5, f"short prompt ({words} words)"))
    ranked = sorted(_PRIORITY, key=lambda t: (-scores[t], _PRIORITY.index(t)))
    best, second = ranked[0], ranked[1]
    features = tuple(label for _, label in sorted(hits, key=lambda hit: -hit[0]))
    if scores[best] == 0:
        task_type: TaskType = "reasoning" if words >= LONG_PROMPT_WORDS else "simple"
        return Classification(task_type=task_type, confidence=0.3, features=("no feature matched",), scores=scores)
    # margin over the runner-up, damped when the evidence is thin (one weak feature)
    margin = (scores[best] - scores[second]) / scores[best]
    strength = min(1.0, scores[best] / 4.0)
    confidence = round(min(1.0, 0.25 + 0.75 * margin * strength + 0.25 * strength * (1 - margin)), 3)
    return Classification(task_type=best, confidence=confidence, features=features, scores=scores)


def latest_user_text(messages: Sequence[Message]) -> str:
    """The content of the last user turn (the request being routed), or of the last turn of any role."""
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return messages[-1].content if messages else ""


def classify(messages: Sequence[Message], system: str | None = None) -> Classification:
    """The task type of a conversation's latest request."""
    return classify_text(latest_user_text(messages), system)
