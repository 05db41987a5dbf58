"""decide(): the pure routing policy — from a task, the candidates' state, the preferences, the conversation and the
time, a ranked list with every exclusion explained. No I/O and no clock (`now` is passed in); tests enforce both.

The policy, in the order it applies (the README's "How routing decides" has the full text):

1. Filters, in this order; a candidate is reported under the first it fails: disabled, no_key, retired (catalogue
   date or a learned 404), capability, budget_mode (free_only never keeps a paid model), context (the estimate with
   the provider's tokenizer margin + the output budget > window), max_cost (worst-case cost), quota (exhausted,
   a window at zero, spend budget), cooldown (rate limited), unhealthy (circuit breaker open).
2. A target: the pin (the call's provider/model, else the conversation's switch_provider, else the global one), else
   the conversation's provider when it must stay (see below), else none. A target that cannot serve is an error
   when autoSwitch (or, for a quota/rate limit, switchOnLimit) forbids moving; otherwise the request moves on.
3. Rank: (provider, model) groups by lexicographic tiers — target, quality list, cost_first list (budget mode
   cost_first: it ranks like a quality list, after the explicit one), window (max_context), task list, default —
   then by the weighted score (routing/score.py); the accounts of a group follow their pool strategy.
4. A conversation stays on its provider unless its history is below Preferences.switch_threshold_tokens, the task
   type changed significantly, the user pinned another provider, or its provider cannot serve; after a failover it
   returns to its preferred provider as soon as that one can serve again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from providers.models import TaskType
from routing.preferences import BudgetMode, Preferences
from routing.score import Context, Evaluation, Group, account_headroom, build_groups, pool_order
from routing.types import (
    LIMIT_FILTERS,
    RUNTIME_FILTERS,
    CandidateState,
    ConversationState,
    Decision,
    DecisionError,
    ErrorKind,
    Exclusion,
    Filter,
    ManualSwitch,
    RankedCandidate,
    Reason,
    SwitchInfo,
    SwitchWhy,
    Task,
    Tiers,
    norm_provider,
)

#: A score margin this large between the first two groups gives full confidence.
CONFIDENT_MARGIN = 0.15
#: Below this classifier confidence an inferred task type change does not unstick a conversation.
TASK_CHANGE_MIN_CONFIDENCE = 0.5
#: Task type changes that do not unstick a conversation (the same kind of model serves both).
_RELATED_TYPES: frozenset[frozenset[TaskType]] = frozenset({frozenset({"coding", "reasoning"})})


def significant_change(previous: TaskType | None, task: Task) -> bool:
    """Whether a conversation's task type changed enough to reconsider its provider."""
    if previous is None or previous == task.task_type:
        return False
    if frozenset({previous, task.task_type}) in _RELATED_TYPES:
        return False
    return not task.task_type_inferred or task.task_type_confidence >= TASK_CHANGE_MIN_CONFIDENCE


@dataclass(frozen=True, slots=True)
class _Target:
    prov: str
    model: str | None
    kind: str  # "pin" | "sticky" | "policy"
    returning: bool = False


#: What a model contributes to every one of its candidates: retired, missing capabilities, too big for the window,
#: input tokens (with margin), output tokens, worst-case cost when paid, free by the catalogue.
# --------------------------------------------------------------------------------------------------- filters


def _evaluate(candidates: Sequence[CandidateState], ctx: Context) -> list[Evaluation]:
    """Each candidate's first failing filter (None: it survives) and what it would cost.

    One loop with the shared values in locals: this runs for every candidate of every request.
    """
    model_info, models, norm, provs, now = ctx.model_info, ctx.models, ctx.norm, ctx.provs, ctx.now
    free_only, max_cost = ctx.free_only, ctx.task.max_cost_usd
    out: list[Evaluation] = []
    for c in candidates:
        info = models.get((id(c.model), c.kind)) or model_info(c.model, c.kind)
        retired, missing, too_big, inp, out_tokens, paid_cost, model_free = info
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
        elif (
            stateful
            or c.budget_left_usd is not None
            or c.cooldown_until is not None
            or c.breaker_open_until is not None
        ):
            found = _state_filter(c, now, inp, cost)
        out.append(Evaluation(c, provs.get(c.provider) or norm(c.provider), found, inp, out_tokens, cost, headroom))
    return out


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


def _detail(e: Evaluation, ctx: Context) -> str:
    """Why the filter removed this candidate, in words (built only for excluded candidates)."""
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
    return _state_detail(e, ctx.now)


def _state_detail(e: Evaluation, now: datetime) -> str:
    c = e.c
    if e.filter == "quota":
        if c.exhausted_until is not None and c.exhausted_until > now:
            return f"quota exhausted until {c.exhausted_until.isoformat()}"
        for w in c.windows:
            if w.remaining <= 0 or (w.kind == "tokens" and w.remaining < e.input_tokens):
                resets = f" (resets {w.resets_at.isoformat()})" if w.resets_at else ""
                return f"{w.kind} per {w.period}: {w.remaining} of {w.limit} left{resets}"
        return f"spend budget ${c.budget_left_usd or 0:.4f} left < worst case ${e.cost:.4f}"
    if e.filter == "cooldown" and c.cooldown_until is not None:
        return _cooldown_detail(c.cooldown_until, c.cooldown_reason)
    until = c.breaker_open_until.isoformat() if c.breaker_open_until else "?"
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
        return f"{words} until {until.isoformat()}"
    return f"cooling down until {until.isoformat()}" + (f" ({reason})" if reason else "")


# --------------------------------------------------------------------------------------------------- ranking


def _target_tier(g: Group, target: _Target | None) -> int:
    if target is None or g.prov != target.prov:
        return 2
    return 0 if target.model is None or target.model == g.model else 1


def _rank(groups: list[Group], target: _Target | None, seed: int) -> tuple[list[Group], list[RankedCandidate]]:
    alive = [g for g in groups if g.survivors]
    if target is not None:
        for g in alive:
            tier = _target_tier(g, target)
            if tier != 2:
                t = g.tiers
                g.tiers = Tiers(tier, t.quality_list, t.cost_list, t.context_window, t.task_list, t.default)
        alive.sort(key=lambda g: (g.tiers.target, g.key))
    ranked: list[RankedCandidate] = []
    append = ranked.append
    for g in alive:
        tiers, score = g.tiers, g.score
        for position, e in enumerate(pool_order(g.survivors, seed)):
            c = e.c
            append(
                RankedCandidate(
                    c.provider,
                    g.model,
                    c.account,
                    len(ranked),
                    tiers,
                    score,
                    position,
                    e.headroom,
                    e.input_tokens,
                    e.output_tokens,
                    e.cost,
                    c.kind,
                    c.retirement_note if c.substituted_for is not None else None,
                )
            )
    return alive, ranked


# --------------------------------------------------------------------------------------------------- target


def _effective_pin(task: Task, conversation: ConversationState | None, manual: ManualSwitch | None) -> _Target | None:
    if task.provider or task.model:
        return _Target(norm_provider(task.provider) if task.provider else "", task.model, "pin")
    pin = conversation.pin if conversation is not None else None
    if pin is None and manual is not None and manual.conversation_id in (None, task.conversation_id):
        pin = manual
    return _Target(norm_provider(pin.provider), pin.model, "pin") if pin is not None else None


def _standing_in(target: _Target, candidates: Sequence[CandidateState]) -> _Target:
    """A target naming a configured model that has retired: its replacement, which routes in its place."""
    for c in candidates:
        if c.substituted_for == target.model and (not target.prov or norm_provider(c.provider) == target.prov):
            return _Target(target.prov, c.model.id, target.kind, target.returning)
    return target


def _model_pin(target: _Target, groups: list[Group]) -> _Target:
    """A pin naming only a model: the provider of the best group offering that model."""
    for g in groups:
        if g.model == target.model:
            return _Target(g.prov, target.model, "pin")
    return target


def _conversation_target(
    conversation: ConversationState | None, task: Task, prefs: Preferences, groups: list[Group]
) -> tuple[_Target | None, SwitchWhy | None]:
    """The provider a conversation must stay on (None: free to move, with why)."""
    if conversation is None or conversation.current_provider is None:
        return None, None
    if conversation.history_tokens < prefs.switch_threshold_tokens:
        return None, "small_history"
    if significant_change(conversation.last_task_type, task):
        return None, "task_type"
    current = norm_provider(conversation.current_provider)
    preferred = norm_provider(conversation.preferred_provider) if conversation.preferred_provider else current
    if preferred != current and any(g.prov == preferred and g.survivors for g in groups):
        return _Target(preferred, conversation.preferred_model, "sticky", returning=True), None
    return _Target(current, conversation.current_model, "sticky"), None


def _target_filters(target: _Target, evals: list[Evaluation]) -> set[Filter]:
    return {e.filter for e in evals if e.prov == target.prov and e.filter is not None}


def _blocked(target: _Target, evals: list[Evaluation], prefs: Preferences) -> DecisionError | None:
    """The error when the target cannot serve and the preferences forbid moving on; None when moving is allowed."""
    mine = [e for e in evals if e.prov == target.prov and e.filter is not None]
    filters = {e.filter for e in mine if e.filter is not None}
    limit_only = bool(filters) and filters <= LIMIT_FILTERS
    if prefs.auto_switch and (prefs.switch_on_limit or not limit_only):
        return None
    why = "; ".join(f"{e.c.account}: {e.filter}" for e in mine[:3]) or "no such provider or model is configured"
    if limit_only and prefs.auto_switch:
        fix = "wait for the reset, or set switchOnLimit to true to route around limits"
    elif target.kind == "pin":
        fix = "switch_provider to another provider, or set autoSwitch to true"
    else:
        fix = "set autoSwitch to true to fail over"
    kind: ErrorKind = "limit" if limit_only else "unavailable"
    name = target.prov or target.model or "?"
    return DecisionError(kind, name, tuple(sorted(filters)), f"{name} cannot serve ({why}); {fix}")


# --------------------------------------------------------------------------------------------------- reason


def _filters_reason(filters: set[Filter]) -> Reason:
    if filters & {"budget_mode", "max_cost"}:
        return "cost"
    if "context" in filters:
        return "context"
    if filters & LIMIT_FILTERS:
        return "limit"
    return "failover"


def _switch_why(filters: set[Filter]) -> SwitchWhy:
    if filters & LIMIT_FILTERS:
        return "limit"
    if "unhealthy" in filters:
        return "failing"
    if "context" in filters:
        return "context"
    return "unavailable"


_PART_REASON: dict[str, Reason] = {
    "quality": "quality",
    "preference": "quality",
    "cost": "cost",
    "latency": "latency",
    "speed": "latency",
    "headroom": "limit",
}


def _mode_reason(task: Task, budget_mode: BudgetMode) -> Reason:
    by_quality: dict[str, Reason] = {"max_speed": "latency", "max_quality": "quality", "max_context": "context"}
    if task.quality in by_quality:
        return by_quality[task.quality]
    return "cost" if budget_mode in ("cost_first", "free_only") else "preference"


def _decided_by(first: Group, runner_up: Group | None, task: Task, budget_mode: BudgetMode) -> tuple[Reason, float]:
    """Which tier or score part put `first` ahead of `runner_up`, and how decisively (0.5..1)."""
    if runner_up is None:
        return _mode_reason(task, budget_mode), 1.0
    a, b = first.tiers, runner_up.tiers
    tier_reasons: tuple[tuple[object, object, Reason], ...] = (
        (a.target, b.target, "preference"),
        (a.quality_list, b.quality_list, "preference"),
        (a.cost_list, b.cost_list, "cost"),
        (a.context_window, b.context_window, "context"),
        (a.task_list, b.task_list, "preference"),
        (a.default, b.default, "preference"),
    )
    for mine, theirs, reason in tier_reasons:
        if mine != theirs:
            return reason, 1.0
    diffs = {
        name: (getattr(first.score, name) - getattr(runner_up.score, name)) * w
        for name, w in first.score.weights.items()
    }
    part = max(diffs, key=lambda name: diffs[name])
    margin = first.score.total - runner_up.score.total
    decisiveness = 0.5 + 0.5 * min(1.0, max(0.0, margin) / CONFIDENT_MARGIN)
    return (_PART_REASON[part] if diffs[part] > 0 else _mode_reason(task, budget_mode)), decisiveness


# --------------------------------------------------------------------------------------------------- decide


def decide(
    task: Task,
    candidates: Sequence[CandidateState],
    preferences: Preferences,
    conversation: ConversationState | None = None,
    manual: ManualSwitch | None = None,
    *,
    now: datetime,
    seed: int = 0,
) -> Decision:
    """Choose where to send `task`: every candidate ranked or excluded, with the reason and a confidence.

    `now` must be timezone-aware like every datetime in the candidates. `manual` is the global switch_provider pin
    (a conversation's own pin lives in `conversation.pin` and wins). `seed` drives the `random` pool strategy.
    """
    ctx = Context(task, preferences, now)
    evals = _evaluate(candidates, ctx)
    groups = build_groups(evals, ctx)
    target = _effective_pin(task, conversation, manual)
    free_why: SwitchWhy | None = None
    if target is None:
        target, free_why = _conversation_target(conversation, task, preferences, groups)
    if target is not None and target.model is not None and any(c.substituted_for for c in candidates):
        target = _standing_in(target, candidates)
    if target is not None and not target.prov:
        target = _model_pin(target, groups)
    restricted = not (preferences.auto_switch and preferences.switch_on_limit)
    if target is None and restricted:
        top = next((g for g in groups if not (g.filters - RUNTIME_FILTERS) or g.survivors), None)
        target = _Target(top.prov, top.model, "policy") if top is not None else None
    error: DecisionError | None = None
    target_filters: set[Filter] = set()
    if target is not None and not any(g.prov == target.prov and g.survivors for g in groups):
        target_filters = _target_filters(target, evals)
        error = _blocked(target, evals, preferences)
    alive, ranked = _rank(groups, target, seed)
    chosen = ranked[0] if ranked and error is None else None
    if chosen is None and error is None:
        error = DecisionError("no_candidate", None, (), _no_candidate_message(evals))
    reason, confidence = _reason(chosen, alive, groups, target, target_filters, ctx)
    switch = _switch(chosen, conversation, target, target_filters, free_why, preferences)
    excluded = tuple(
        Exclusion(e.c.provider, e.c.model.id, e.c.account, e.filter, _detail(e, ctx))
        for e in evals
        if e.filter is not None
    )
    return Decision(
        chosen=chosen,
        ranked=tuple(ranked),
        excluded=excluded,
        reason=reason,
        confidence=confidence,
        switch=switch,
        explanation=_explain(ctx, chosen, reason, excluded, switch, error),
        failover_on_error=preferences.auto_switch,
        failover_on_limit=preferences.auto_switch and preferences.switch_on_limit,
        error=error,
        task_type=task.task_type,
        task_type_inferred=task.task_type_inferred,
        quality=task.quality,
        budget_mode=ctx.budget_mode,
        estimated_input_tokens=task.estimated_input_tokens,
    )


def _reason(
    chosen: RankedCandidate | None,
    alive: list[Group],
    groups: list[Group],
    target: _Target | None,
    target_filters: set[Filter],
    ctx: Context,
) -> tuple[Reason | None, float]:
    if chosen is None:
        return None, 0.0
    prov = norm_provider(chosen.provider)
    task = ctx.task
    certainty = 1.0 if not task.task_type_inferred else 0.5 + 0.5 * task.task_type_confidence
    if target is not None and target.kind != "policy":
        if prov == target.prov:
            if target.kind == "pin":
                return "manual", 1.0
            return ("preference" if target.returning else "sticky"), 1.0
        return _filters_reason(target_filters), round(certainty, 3)
    top = groups[0]
    if prov != top.prov and not top.survivors:
        return _filters_reason(top.filters), round(certainty, 3)
    first = alive[0]
    reason, decisiveness = _decided_by(first, alive[1] if len(alive) > 1 else None, task, ctx.budget_mode)
    return reason, round(decisiveness * certainty, 3)


def _switch(
    chosen: RankedCandidate | None,
    conversation: ConversationState | None,
    target: _Target | None,
    target_filters: set[Filter],
    free_why: SwitchWhy | None,
    prefs: Preferences,
) -> SwitchInfo | None:
    if chosen is None or conversation is None or conversation.current_provider is None:
        return None
    prov = norm_provider(chosen.provider)
    if prov == norm_provider(conversation.current_provider):
        return None
    why: SwitchWhy
    if target is not None and target.kind != "policy" and prov != target.prov:
        why = _switch_why(target_filters)
    elif target is not None and target.kind == "pin":
        why = "manual"
    elif target is not None and target.returning:
        why = "recovered"
    else:
        why = free_why or "small_history"
    return SwitchInfo(
        from_provider=conversation.current_provider,
        from_model=conversation.current_model,
        to_provider=chosen.provider,
        to_model=chosen.model,
        why=why,
        history_tokens=conversation.history_tokens,
        carry_history=prefs.preserve_context,
        temporary=why in ("limit", "failing", "unavailable"),
    )


def _filter_counts(filters: Sequence[Filter]) -> str:
    counts: dict[str, int] = {}
    for name in filters:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items(), key=lambda item: -item[1]))


def _no_candidate_message(evals: list[Evaluation]) -> str:
    if not evals:
        return "no provider is configured; run `provider-router setup`"
    summary = _filter_counts([e.filter for e in evals if e.filter is not None])
    return f"no candidate can serve this request ({summary})"


def _explain(
    ctx: Context,
    chosen: RankedCandidate | None,
    reason: Reason | None,
    excluded: tuple[Exclusion, ...],
    switch: SwitchInfo | None,
    error: DecisionError | None,
) -> tuple[str, ...]:
    task = ctx.task
    lines = []
    if task.task_type_inferred and task.classification is not None:
        features = ", ".join(task.classification.features[:4])
        lines.append(f"task type {task.task_type} inferred ({task.task_type_confidence:.2f}) from: {features}")
    else:
        lines.append(f"task type {task.task_type}" + (" (inferred)" if task.task_type_inferred else ""))
    lines.append(f"quality {task.quality or 'none'}, budget mode {ctx.budget_mode}")
    if excluded:
        lines.append(f"{len(excluded)} excluded: " + _filter_counts([x.filter for x in excluded]))
    if chosen is not None:
        lines.append(f"chose {chosen.label} ({reason}; score {chosen.score.total:.3f})")
        if chosen.substitution is not None:
            lines.append(f"routed as the replacement: {chosen.substitution}")
    if switch is not None:
        lines.append(f"conversation moves {switch.from_provider} -> {switch.to_provider} ({switch.why})")
    if error is not None:
        lines.append(error.message)
    return tuple(lines)
