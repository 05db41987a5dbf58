"""The filters of decide() (README "1. Filters"): each candidate's first failing filter, and the words that explain
it. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from routing.latency import predicted_p95_ms
from routing.score import Context, Evaluation, Group, account_headroom
from routing.types import RUNTIME_FILTERS, STATIC_FILTERS, CandidateState, Exclusion, Filter


def evaluate(candidates: Sequence[CandidateState], ctx: Context) -> tuple[list[Evaluation], list[Group]]:
    """Each candidate's first failing filter (None: it survives) and what it would cost; and the groups (one per
    provider and model, in first-seen order, not yet scored) of every candidate no static filter removed.

    One loop with the shared values in locals: this runs for every candidate of every request.
    """
    model_info, models, norm, provs, now = ctx.model_info, ctx.models, ctx.norm, ctx.provs, ctx.now
    free_only, max_cost = ctx.free_only, ctx.task.max_cost_usd
    max_latency_ms = ctx.task.max_latency_s * 1000 if ctx.task.max_latency_s is not None else None
    out: list[Evaluation] = []
    groups: dict[tuple[str, str], Group] = {}
    for c in candidates:
        model = c.model
        kind = c.kind
        found_info = models.get((id(model), kind))
        info = found_info[1] if found_info is not None and found_info[0] is model else model_info(model, kind)
        retired, missing, too_big, inp, out_tokens, paid_cost, model_free, model_id = info
        free = model_free if c.free_tier is None else c.free_tier
        cost = c.estimated_cost_usd if c.estimated_cost_usd is not None else (0.0 if free else paid_cost)
        stateful = c.windows or c.exhausted_until is not None
        headroom = account_headroom(c, now) if stateful else 1.0
        found: Filter | None = None
        if not c.enabled:
            found = "disabled"
        elif not c.has_key:
            found = "no_key"
        elif retired or c.model_retired:
            found = "retired"
        elif missing:
            found = "capability"
        elif free_only and not free:
            found = "budget_mode"
        elif too_big:
            found = "context"
        elif max_cost is not None and cost > max_cost:
            found = "max_cost"
        elif max_latency_ms is not None and (predicted_p95_ms(c.speed, ctx.expected_output) or 0.0) > max_latency_ms:
            found = "latency"
        elif (
            stateful
            or c.budget_left_usd is not None
            or c.cooldown_until is not None
            or c.breaker_open_until is not None
        ):
            found = _state_filter(c, now, inp, cost)
        provider = c.provider
        prov = provs.get(provider) or norm(provider)
        e = Evaluation(c, prov, found, inp, out_tokens, cost, headroom)
        out.append(e)
        if found is not None and found in STATIC_FILTERS:
            continue
        key = (prov, model_id)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(prov, model_id)
        g.members.append(e)
        if c.speed is not None:
            g.timed = True
        if found is None:
            g.survivors.append(e)
        else:
            g.filters = g.filters | {found}
    return out, list(groups.values())


def _state_filter(c: CandidateState, now: datetime, inp: int, cost: float) -> Filter | None:
    if c.exhausted_until is not None and c.exhausted_until > now:
        return "quota"
    for w in c.windows:
        if w.remaining <= 0 or (w.kind == "tokens" and w.remaining < inp):
            return "quota"
    if c.budget_left_usd is not None and cost > c.budget_left_usd:
        return "quota"
    if c.cooldown_until is not None and c.cooldown_until > now:
        return "cooldown"
    if c.breaker_open_until is not None and c.breaker_open_until > now:
        return "unhealthy"
    return None


def exclusions(evals: list[Evaluation], ctx: Context) -> tuple[Exclusion, ...]:
    """Every candidate a filter removed, with the filter and why in words."""
    out: list[Exclusion] = []
    for e in evals:
        if e.filter is not None:
            c = e.c
            out.append(Exclusion(c.provider, c.model.id, c.account, e.filter, detail(e, ctx)))
    return tuple(out)


def detail(e: Evaluation, ctx: Context) -> str:
    """Why the filter removed this candidate, in words (built only for excluded candidates)."""
    if e.filter in RUNTIME_FILTERS:  # the common ones first
        return _state_detail(e, ctx.now)
    c, model = e.c, e.c.model
    if e.filter == "disabled":
        return c.disabled_reason or "disabled in the configuration"
    if e.filter == "no_key":
        return f"no API key for account {c.account}; run `provider-router keys set {c.provider} --account {c.account}`"
    if e.filter == "retired":
        if c.retirement_note is not None:
            return c.retirement_note
        return f"model {model.id} is retired" + (f"; use {model.replacement}" if model.replacement else "")
    if e.filter == "capability":
        return f"{model.id} lacks {', '.join(sorted(ctx.task.needs - model.capabilities))}"
    if e.filter == "budget_mode":
        return f"{model.id} is paid and the budget mode is free_only"
    if e.filter == "context":
        return (
            f"{e.input_tokens} input + {e.output_tokens} output tokens > {model.id}'s window of {model.context_window}"
        )
    if e.filter == "max_cost":
        return f"worst case ${e.cost:.6f} > max_cost_usd ${ctx.task.max_cost_usd or 0:.6f}"
    if e.filter == "latency":
        p95 = predicted_p95_ms(c.speed, ctx.expected_output) or 0.0
        return f"predicted p95 {p95 / 1000:.1f} s > max_latency_s {ctx.task.max_latency_s or 0:g} s"
    return _state_detail(e, ctx.now)  # not reached: every filter is named above


def _state_detail(e: Evaluation, now: datetime) -> str:
    c = e.c
    if e.filter == "quota":
        if c.exhausted_until is not None and c.exhausted_until > now:
            return f"quota exhausted until {_iso(c.exhausted_until)}"
        for w in c.windows:
            if w.remaining <= 0 or (w.kind == "tokens" and w.remaining < e.input_tokens):
                resets = f" (resets {_iso(w.resets_at)})" if w.resets_at else ""
                return f"{w.kind} per {w.period}: {w.remaining} of {w.limit} left{resets}"
        return f"spend budget ${c.budget_left_usd or 0:.4f} left < worst case ${e.cost:.4f}"
    if e.filter == "cooldown" and c.cooldown_until is not None:
        return _cooldown_detail(c.cooldown_until, c.cooldown_reason)
    until = _iso(c.breaker_open_until) if c.breaker_open_until else "?"
    return f"failing: circuit breaker open until {until}"


#: what a cooldown is called, by the error class its recorded reason starts with
_COOLDOWN_WORDS = {
    "rate_limited": "rate limited",
    "server_error": "resting after a server error",
    "overloaded": "resting: the provider said it is overloaded",
    "transport": "resting after a transport failure (no answer)",
}


def _cooldown_detail(until: datetime, reason: str | None) -> str:
    words = _COOLDOWN_WORDS.get((reason or "").partition(":")[0])
    if words is not None:
        return f"{words} until {_iso(until)}"
    return f"cooling down until {_iso(until)}" + (f" ({reason})" if reason else "")


#: isoformat() by (instant, UTC offset), which fix the text: an account's cooldown, breaker or quota end repeats
#: across the calls of its rest, and isoformat() costs ~1 µs per excluded candidate; cleared when full
_ISO: dict[tuple[datetime, timedelta | None], str] = {}


def _iso(at: datetime) -> str:
    key = (at, at.utcoffset())
    text = _ISO.get(key)
    if text is None:
        if len(_ISO) >= 4096:
            _ISO.clear()
        text = _ISO[key] = at.isoformat()
    return text


def filter_counts(filters: Sequence[Filter]) -> str:
    counts: dict[str, int] = {}
    for name in filters:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items(), key=lambda item: -item[1]))


def no_candidate_message(evals: list[Evaluation]) -> str:
    if not evals:
        return "no provider is configured; run `provider-router setup`"
    summary = filter_counts([e.filter for e in evals if e.filter is not None])
    return f"no candidate can serve this request ({summary})"
