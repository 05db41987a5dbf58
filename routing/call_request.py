"""One candidate's call as the attempt loop builds it: the chat request (a conversation moving to another provider
carries its history converted, or starts afresh) and the errors of a call that never answered."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from providers.errors import ProviderError, ProviderTransportError, ServerError
from providers.models import ModelProfile, ProviderConfig
from providers.types import ChatRequest, Message
from routing.convert import convert_history
from routing.ports import ConversationRecord
from routing.request import RouteRequest
from routing.tokens import estimate_tokens
from routing.types import RankedCandidate, Task

log = logging.getLogger(__name__)


def chat_request(
    candidate: RankedCandidate,
    provider: ProviderConfig,
    profile: ModelProfile,
    *,
    task: Task,
    request: RouteRequest,
    record: ConversationRecord,
    preserve_context: bool,
) -> ChatRequest | None:
    """The request for one candidate; a conversation moving to another provider carries its history converted
    (preserveContext) or starts afresh. None: the converted history does not fit the candidate's window."""
    messages: Sequence[Message] = task.messages
    system = task.system
    if moves_history(record, candidate):
        if not preserve_context:
            messages = request.messages
        else:
            converted = convert_history(
                messages,
                system,
                target=provider.kind,
                context_window=profile.context_window,
                max_output_tokens=candidate.output_tokens,
                count=lambda msgs, sys: estimate_tokens(msgs, sys, provider=provider.catalog),
            )
            if not converted.fits:
                return None
            messages, system = converted.messages, converted.system
    return ChatRequest(
        model=profile.id,
        messages=tuple(messages),
        system=system,
        max_output_tokens=candidate.output_tokens,
        temperature=request.temperature,
        tools=request.tools,
        json_output=request.json_output,
        json_schema=request.json_schema,
    )


def moves_history(record: ConversationRecord, candidate: RankedCandidate) -> bool:
    """Whether the conversation has history and this candidate is another provider than the one it is on."""
    current = record.state.current_provider
    return bool(record.messages) and current is not None and candidate.provider != current


def timed_out(candidate: RankedCandidate, timeout_s: float, cause: TimeoutError) -> ProviderError:
    """A call with no answer within the request timeout: a transport error (failover moves on)."""
    error = ProviderTransportError(
        f"no answer within {timeout_s:g} s", provider=candidate.provider, account=candidate.account,
        model=candidate.model,
    )  # fmt: skip
    error.__cause__ = cause
    return error


def unexpected_error(candidate: RankedCandidate, cause: Exception) -> ProviderError:
    """A failure of the adapter itself (a bug, not the provider's answer): logged with its traceback, and treated
    as the provider's server error so the request moves on."""
    log.exception("unexpected %s while calling %s", type(cause).__name__, candidate.label)
    error = ServerError(
        f"unexpected {type(cause).__name__} while calling the provider (details in the server log)",
        provider=candidate.provider, account=candidate.account, model=candidate.model, status_code=0,
    )  # fmt: skip
    error.__cause__ = cause
    return error
