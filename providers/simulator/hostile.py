"""Answers no provider should send, on demand (`HostileFault`): usage that is NaN, infinite, absurd or negative,
no usage at all, an infinite cost, rate-limit headers saying `inf`, a reply or an error body of megabytes.

They check that the router treats what it cannot believe as missing, and a reply it cannot hold as malformed.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

from providers.simulator.answers import Answer
from providers.simulator.faults import JSON_TYPE
from providers.simulator.httpserver import Headers, Response
from providers.simulator.spec import HostileFault

#: what `huge_usage` reports as the prompt's tokens
HUGE_TOKENS = 10**20
#: what `negative_usage` reports as the prompt's tokens
NEGATIVE_TOKENS = -1_000_000
#: every flavour's rate-limit headers, all saying `inf`
INF_HEADERS: Headers = (
    ("x-ratelimit-limit-requests", "inf"),
    ("x-ratelimit-remaining-requests", "inf"),
    ("x-ratelimit-reset-requests", "inf"),
    ("x-ratelimit-limit-tokens", "inf"),
    ("anthropic-ratelimit-requests-limit", "inf"),
    ("anthropic-ratelimit-requests-remaining", "inf"),
    ("anthropic-ratelimit-requests-reset", "inf"),
    ("retry-after", "inf"),
)
_WORD = "x" * 999 + " "


def hostile_answer(answer: Answer, fault: HostileFault, huge_bytes: int) -> Answer:
    """`answer` carrying what `fault` sends (`inf_header` and `huge_error` leave it as it is)."""
    if fault == "nan_usage":
        return replace(answer, input_tokens=math.nan)
    if fault == "huge_usage":
        return replace(answer, input_tokens=HUGE_TOKENS)
    if fault == "negative_usage":
        return replace(answer, input_tokens=NEGATIVE_TOKENS)
    if fault == "no_usage":
        return replace(answer, usage=False)
    if fault == "inf_cost":
        return replace(answer, cost=math.inf)
    if fault == "huge_body":
        text = _WORD * (huge_bytes // len(_WORD) + 1)
        return replace(answer, text=text, output_tokens=max(1, len(text) // 4), truncated=False)
    return answer


def huge_error_response(huge_bytes: int, extra: Headers = ()) -> Response:
    """A 500 whose JSON error message alone is `huge_bytes` long."""
    body = json.dumps({"error": {"message": "x" * huge_bytes, "type": "server_error"}}).encode()
    return Response(500, (JSON_TYPE, *extra), body)
