"""What a simulated provider account does: its wire, whose errors it speaks, its limits, and its faults on demand."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, model_validator

from providers.types import Frozen, WireKind
from providers.values import read_only_hashable

#: Which real provider's bodies, headers and stream quirks an account reproduces.
Flavour = Literal["openai", "zai", "moonshot", "deepseek", "openrouter", "anthropic", "gemini"]

#: A failure the simulator produces on demand (see `Simulator.script` and `Simulator.set_down`).
Fault = Literal[
    "rate_limited",
    "rate_limited_no_retry_after",
    "quota_exhausted",
    "server_error",
    "bad_gateway",
    "unavailable",
    "overloaded",
    "timeout",
    "reset",
    "malformed",
    "error_in_stream",
    "truncated_stream",
    "auth",
    "model_not_found",
    "context_too_long",
    "invalid",
]
FAULTS: tuple[Fault, ...] = get_args(Fault)

#: A 200 answer (or an error body) no provider should send: impossible usage, none at all, an impossible rate-limit
#: header, a body of megabytes (see `providers.simulator.hostile`).
HostileFault = Literal[
    "nan_usage",
    "huge_usage",
    "negative_usage",
    "no_usage",
    "inf_cost",
    "inf_header",
    "huge_body",
    "huge_error",
]
HOSTILE_FAULTS: tuple[HostileFault, ...] = get_args(HostileFault)
AnyFault = Fault | HostileFault

_FLAVOURS_OF_KIND: dict[WireKind, tuple[Flavour, ...]] = {
    "openai": ("openai", "zai", "moonshot", "deepseek", "openrouter"),
    "anthropic": ("anthropic",),
    "gemini": ("gemini",),
}


class SimAccount(Frozen):
    """One simulated account, addressed by the URL path prefix `/<id>/` (so keyless local accounts work).

    `flavour` defaults to the kind's own provider. `quota_requests`: after that many successful answers every
    request gets the flavour's real quota-exhausted error. `rpm`: a fixed 60 s window whose rate-limit headers
    count down; over it, the flavour's real 429. `models` maps model id -> context window (None: any model,
    no window). `reply` is a template with `{account}`, `{model}`, `{prompt}` and `{n}` (the request number);
    `output_tokens` defaults to the reply's length / 4. `api_key`, when set, must be sent the flavour's way
    (by the model listing too).
    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")
    kind: WireKind = "openai"
    flavour: Flavour | None = None
    latency_ms: float = Field(default=0.0, ge=0)
    #: pause between stream frames (0 sends the whole stream in one write)
    chunk_latency_ms: float = Field(default=0.0, ge=0)
    #: a latency profile of streamed answers: the time to the first token, the output rate after it (None:
    #: instant), `jitter` (a fraction: each answer's times vary by up to ± that, repeatably), and `slowdown` (a
    #: factor on both, to slow an account down on demand with `Simulator.configure`)
    ttft_ms: float = Field(default=0.0, ge=0)
    tokens_per_s: float | None = Field(default=None, gt=0)
    jitter: float = Field(default=0.0, ge=0, lt=1)
    slowdown: float = Field(default=1.0, gt=0)
    quota_requests: int | None = Field(default=None, ge=0)
    rpm: int | None = Field(default=None, ge=1)
    models: dict[str, int] | None = None
    reply: str | None = None
    output_tokens: int | None = Field(default=None, ge=1)
    api_key: str | None = None
    #: the retry-after a scripted `rate_limited` fault announces (an `rpm` overflow announces the real wait)
    retry_after_s: int = Field(default=1, ge=0)
    #: extra headers sent with every answer, errors included (e.g. `x-ratelimit-limit-requests: 0`)
    headers: dict[str, str] = Field(default_factory=dict)
    #: the `usage.cost` an OpenRouter-flavoured account reports (None: its own small price)
    cost_usd: float | None = None
    #: the most models one page of the wire's model listing holds (None: one page); Anthropic and Gemini page
    listing_page_size: int | None = Field(default=None, ge=1)
    #: the size of the reply a `huge_body` fault sends, and of the error body of `huge_error`
    huge_body_bytes: int = Field(default=12 * 1024 * 1024, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _default_flavour(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("flavour") is None:
            kind = data.get("kind", "openai")
            return {**data, "flavour": _FLAVOURS_OF_KIND.get(kind, ("openai",))[0]}
        return data

    @model_validator(mode="after")
    def _flavour_fits_kind(self) -> SimAccount:
        if self.flavour not in _FLAVOURS_OF_KIND[self.kind]:
            raise ValueError(f"flavour {self.flavour!r} does not speak the {self.kind!r} wire")
        return self

    @property
    def wire_flavour(self) -> Flavour:
        """The flavour, never None once validated."""
        return self.flavour or _FLAVOURS_OF_KIND[self.kind][0]


class SimSpec(Frozen):
    """The accounts one simulator serves; ids are unique."""

    accounts: tuple[SimAccount, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> SimSpec:
        ids = [account.id for account in self.accounts]
        if len(ids) != len(set(ids)):
            raise ValueError("account ids must be unique")
        return self


@read_only_hashable
class SimRequest:
    """One request as the simulator received it, credentials redacted, and what it answered.

    `status` is 0 when the answer was a connection reset or a hang.
    """

    seq: int
    account: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    model: str | None
    stream: bool
    status: int
    fault: AnyFault | None


@read_only_hashable
class AccountStats:
    """Counters of one account since the start or the last `reset_counters`."""

    requests: int
    succeeded: int
    failed: int
