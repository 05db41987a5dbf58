"""decide(): the pure routing policy (README "How routing decides"): from a task, the candidates' state, the
preferences, the conversation and `now`, a ranked list with every exclusion explained. No I/O, no clock.

It filters (routing/filters.py), picks a target (routing/target.py), ranks (here, on routing/score.py) and says
why (routing/reason.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from routing.filters import evaluate, exclusions, filter_counts, no_candidate_message
from routing.latency import latency_notes
from routing.preferences import Preferences
from routing.reason import decided_by, filters_reason, switch_why
from routing.score import Context, Evaluation, Group, build_groups, pool_order, strategy_order
from routing.spend_order import pace, spend_order
from routing.target import (
    Target,
    blocked,
    conversation_target,
    effective_pin,
    filters_of_target,
    model_pin,
    standing_in,
)
from routing.types import (
    RUNTIME_FILTERS,
    CandidateState,
    ConversationState,
    Decision,
    DecisionError,
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


def _target_tier(g: Group, target: Target | None) -> int:
    if target is None or g.prov != target.prov:
        return 2
    return 0 if target.model is None or target.model == g.model else 1


def _pool(g: Group, seed: int, ctx: Context) -> tuple[list[Evaluation], str | None]:
    """A pool's accounts in the order to try them: measured speed first under max_speed or when an account is
    probed or de-ranked (routing/latency.py); otherwise the quota outlook and the warm prompt cache
    (routing/spend_order.py) among the strategy's otherwise equal accounts."""
    if len(g.survivors) < 2:
        return g.survivors, None
    if not (g.timed or ctx.max_speed):  # no member is de-ranked or probed
        return spend_order(strategy_order(g.survivors, seed), ctx)
    order = pool_order(g.survivors, seed, ctx.max_speed)
    if ctx.max_speed or any(e.probe or e.deranked for e in order):
        return order, None
    return spend_order(order, ctx)


def _rank(
    groups: list[Group], target: Target | None, seed: int, ctx: Context
) -> tuple[list[Group], list[RankedCandidate]]:
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
        tiers, score, model, survivors = g.tiers, g.score, g.model, g.survivors
        order, note = (survivors, None) if len(survivors) < 2 else _pool(g, seed, ctx)
        for position, e in enumerate(order):
            c = e.c
            speed = c.speed
            # positional, in the field order of RankedCandidate (keywords cost more, per survivor of every call)
            append(
                RankedCandidate(
                    c.provider,
                    model,
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
                    note if position == 0 else None,
                    e.predicted,
                    speed.ttft_p95_ms if speed is not None else None,
                    e.deranked,
                    e.probe,
                )
            )
    return alive, ranked


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
    evals, gathered = evaluate(candidates, ctx)
    groups, paced = pace(build_groups(gathered, ctx), ctx)
    target = effective_pin(task, conversation, manual)
    free_why: SwitchWhy | None = None
    if target is None:
        target, free_why = conversation_target(conversation, task, preferences, groups)
    if target is not None and target.model is not None and any(c.substituted_for for c in candidates):
        target = standing_in(target, candidates)
    if target is not None and not target.prov:
        target = model_pin(target, groups)
    restricted = not (preferences.auto_switch and preferences.switch_on_limit)
    if target is None and restricted:
        top = next((g for g in groups if not (g.filters - RUNTIME_FILTERS) or g.survivors), None)
        target = Target(top.prov, top.model, "policy") if top is not None else None
    error: DecisionError | None = None
    target_filters: set[Filter] = set()
    if target is not None and not any(g.prov == target.prov and g.survivors for g in groups):
        target_filters = filters_of_target(target, evals)
        error = blocked(target, evals, preferences)
    alive, ranked = _rank(groups, target, seed, ctx)
    chosen = ranked[0] if ranked and error is None else None
    if chosen is None and error is None:
        error = DecisionError("no_candidate", None, (), no_candidate_message(evals))
    reason, confidence = _reason(chosen, alive, groups, target, target_filters, ctx)
    if reason is not None and _won_by_pacing(alive, paced, target):
        reason = "limit"
    switch = _switch(chosen, conversation, target, target_filters, free_why, preferences)
    excluded = exclusions(evals, ctx)
    return Decision(
        chosen=chosen,
        ranked=tuple(ranked),
        excluded=excluded,
        reason=reason,
        confidence=confidence,
        switch=switch,
        explanation=_explain(ctx, ranked, chosen, reason, excluded, switch, error, _paced_lines(alive, paced)),
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
    target: Target | None,
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
        return filters_reason(target_filters), round(certainty, 3)
    top = groups[0]
    if prov != top.prov and not top.survivors:
        return filters_reason(top.filters), round(certainty, 3)
    first = alive[0]
    reason, decisiveness = decided_by(first, alive[1] if len(alive) > 1 else None, task, ctx.budget_mode)
    return reason, round(decisiveness * certainty, 3)


def _won_by_pacing(alive: list[Group], paced: set[tuple[str, str]], target: Target | None) -> bool:
    """Whether the first group leads only because the one the score preferred is paced (kept for its own task
    types): the same tiers, a lower score."""
    if not paced or len(alive) < 2 or (target is not None and target.kind != "policy"):
        return False
    first = alive[0]
    return any(
        (g.prov, g.model) in paced and g.key[:6] == first.key[:6] and g.score.total > first.score.total
        for g in alive[1:]
    )


def _paced_lines(alive: list[Group], paced: set[tuple[str, str]]) -> tuple[str, ...]:
    if not paced:
        return ()
    return tuple(
        f"paced {g.prov}/{g.model}: every account runs out before its reset at this rate; kept for the task types "
        "that rank it first"
        for g in alive
        if (g.prov, g.model) in paced
    )


def _switch(
    chosen: RankedCandidate | None,
    conversation: ConversationState | None,
    target: Target | None,
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
        why = switch_why(target_filters)
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


def _explain(
    ctx: Context,
    ranked: list[RankedCandidate],
    chosen: RankedCandidate | None,
    reason: Reason | None,
    excluded: tuple[Exclusion, ...],
    switch: SwitchInfo | None,
    error: DecisionError | None,
    paced: tuple[str, ...] = (),
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
        lines.append(f"{len(excluded)} excluded: " + filter_counts([x.filter for x in excluded]))
    if chosen is not None:
        if ctx.timed:  # otherwise no candidate is de-ranked or probed
            lines.extend(latency_notes(ranked))
        lines.append(f"chose {chosen.label} ({reason}; score {chosen.score.total:.3f})")
        if chosen.substitution is not None:
            lines.append(f"routed as the replacement: {chosen.substitution}")
        if chosen.pool_note is not None:
            lines.append(chosen.pool_note)
    lines.extend(paced)
    if switch is not None:
        lines.append(f"conversation moves {switch.from_provider} -> {switch.to_provider} ({switch.why})")
    if error is not None:
        lines.append(error.message)
    return tuple(lines)
