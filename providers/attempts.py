"""One try at one provider/model/account (`AttemptRecord`): the value the router logs, the journal carries and
the store keeps; what a caller is shown of it (`routing.results.Attempt`) is rendered from it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from providers.errors import ErrorClass
from providers.types import Usage
from providers.values import read_only_hashable

#: `skipped`: the ledger refused the candidate before any request was sent
AttemptOutcome = Literal["success", "error", "skipped", "cancelled"]


@read_only_hashable
class AttemptRecord:
    """One try at one candidate, as measured: the latency is not rounded, `usage` and `cost_usd` are what it used."""

    provider: str
    model: str
    account: str
    outcome: AttemptOutcome
    latency_ms: float
    started_at: datetime
    error_class: ErrorClass | None = None
    usage: Usage = Usage()
    cost_usd: float = 0.0
    #: why the ledger refused a `skipped` attempt, or the error's message
    detail: str | None = None
    #: `usage` (and the cost) is the router's estimate: the provider reported none to believe
    estimated: bool = False
    #: time to the first content delta of a streamed answer (None: none streamed)
    ttft_ms: float | None = None
