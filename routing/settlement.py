"""What a served attempt is settled at when the provider reported no usage to believe."""

from __future__ import annotations

from providers.types import Completion, Message, Usage
from routing.tokens import count_text, message_tokens
from routing.types import RankedCandidate, tokens_for

#: the attempt's detail when its usage is the router's estimate
ESTIMATED_DETAIL = "the provider reported no usage: settled at the estimate"


def estimated_usage(completion: Completion, candidate: RankedCandidate, catalog: str) -> Usage:
    """The reservation's input estimate and the output actually received, counted with the provider's margin.

    Counting is cheap (`routing.tokens.count_text` samples a huge text), so the received output is counted rather
    than the whole reserved output budget charged.
    """
    reply = Message(role="assistant", content=completion.text, tool_calls=completion.tool_calls)
    output = message_tokens([reply]) + (count_text(completion.reasoning) if completion.reasoning else 0)
    return Usage(input_tokens=candidate.input_tokens, output_tokens=tokens_for(output, catalog))
