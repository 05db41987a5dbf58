"""What one routed request came to: the served answer, or every attempt and when something frees up (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from providers.attempts import AttemptRecord
from providers.errors import InvalidOutput, ProviderError
from providers.types import Completion, Message
from routing.ports import Change
from routing.results import Attempt, InvalidOutputError, InvalidRequestError, NoRouteAvailable, RouteError
from routing.types import RUNTIME_FILTERS, CandidateState, Exclusion, RankedCandidate


@dataclass(frozen=True)
class Served:
    ranked: RankedCandidate
    completion: Completion
    cost_usd: float
    reply: Message
    #: where the conversation belongs from now on (None: unchanged)
    preferred: tuple[str, str] | None


@dataclass
class Outcome:
    served: Served | None = None
    attempts: list[AttemptRecord] = field(default_factory=list[AttemptRecord])
    #: what the serving attempt left to write; the router writes it with the decision (`bookkeeping.finish`)
    changes: list[Change] = field(default_factory=list[Change])
    stop: ProviderError | None = None
    retry_at: datetime | None = None
    #: the overall deadline (seconds) that cut the request short, if it did
    deadline_s: float | None = None
    #: the router's own failure that ended the loop (e.g. the ledger stayed locked), said to the caller as it is
    failure: Exception | None = None
    #: the last answer that failed the request's json_schema (the error names what failed validation)
    invalid: InvalidOutput | None = None

    def note_retry_at(self, when: datetime | None) -> None:
        if when is not None and (self.retry_at is None or when < self.retry_at):
            self.retry_at = when

    def error(self, decision_id: int | None) -> RouteError:
        """The error the caller sees: the provider's rejection, or every attempt with the earliest retry time."""
        attempts = tuple(Attempt.of(attempt) for attempt in self.attempts)
        if self.invalid is not None:
            return InvalidOutputError(
                f"no answer matched json_schema; the last, from {self.invalid.provider}/{self.invalid.model}: "
                f"{self.invalid.message}",
                attempts=attempts,
                decision_id=decision_id,
                fix="simplify the schema or say more about the expected shape in the prompt, then call again",
            )
        if self.stop is not None:
            return InvalidRequestError(
                f"{self.stop.provider} rejected the request: {self.stop.message}",
                attempts=attempts,
                decision_id=decision_id,
                fix="change the request (another provider would reject it the same way)",
            )
        tried = sum(1 for a in attempts if a.outcome != "skipped")
        why = f"{tried} tried, {len(attempts) - tried} refused by limits"
        if self.deadline_s is not None:
            why += f"; the deadline of {self.deadline_s:g} s passed"
        if self.failure is not None:
            # the failure's own text names its fix (storage errors do): no provider was at fault
            return NoRouteAvailable(
                f"the router could not finish this request ({why}): {self.failure}",
                attempts=attempts,
                decision_id=decision_id,
                fix="see the message above (the router failed, not a provider)",
            )
        return NoRouteAvailable(
            f"no provider could serve this request ({why})",
            attempts=attempts,
            retry_at=self.retry_at,
            decision_id=decision_id,
            fix=no_route_fix(self.retry_at),
        )


def no_route_fix(retry_at: datetime | None) -> str:
    """What to do when nothing could serve: wait for the named time when something frees up then, else the rest."""
    others = "add an account or provider, or relax budget_mode / max_cost_usd"
    if retry_at is None:
        return f"{others} (no known reset frees a candidate by waiting)"
    return f"retry after {retry_at.isoformat(timespec='seconds')}, or {others}"


def frees_at(
    excluded: Iterable[Exclusion], states: Mapping[tuple[str, str, str], CandidateState], now: datetime
) -> datetime | None:
    """The earliest instant at which a candidate that only runtime state (quota, cooldown, breaker) excluded may
    serve again; None when none of them will by waiting (or no reset time is known)."""
    earliest: datetime | None = None
    for exclusion in excluded:
        if exclusion.filter not in RUNTIME_FILTERS:
            continue
        state = states.get((exclusion.provider, exclusion.account, exclusion.model))
        when = _free_at(state, exclusion, now) if state is not None else None
        if when is not None and (earliest is None or when < earliest):
            earliest = when
    return earliest


def _free_at(state: CandidateState, exclusion: Exclusion, now: datetime) -> datetime | None:
    if exclusion.filter == "cooldown":
        return state.cooldown_until
    if exclusion.filter == "unhealthy":
        return state.breaker_open_until
    if state.exhausted_until is not None and state.exhausted_until > now:
        return state.exhausted_until
    resets = [w.resets_at for w in state.windows if w.remaining <= 0 and w.resets_at is not None]
    return max(resets, default=None)
