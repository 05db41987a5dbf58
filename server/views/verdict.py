"""Who won a decision and why, in words (README "4. Reason"): the reason's meaning and what decided it — the tier
that put the winner ahead of the runner-up (the pin, a preference list with both positions, the cost_first list,
the context window, the default), max_speed's predicted completion, the score part with the largest lead, a
failed first choice, or the filter that removed the wanted provider. Shared by `log --id` and the dashboard's
decision page, from the logged decision alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from server.views.decisions import DecisionDetail

MEANING: dict[str, str] = {
    "manual": "the chosen provider is the one pinned with switch",
    "sticky": "the conversation stayed on its provider",
    "preference": "a preference list, the default provider or the pinned/conversation's provider decided",
    "limit": "quota or a cooldown removed the wanted provider, or quota headroom decided",
    "context": "the wanted provider's context window was too small, or max_context chose the largest window",
    "cost": "the budget mode or max_cost removed the wanted provider, the cost_first list decided, or cost did",
    "failover": "the wanted provider was unavailable or failed, and the next in the ranking served",
    "quality": "the score decided by the model's quality or its preference score",
    "latency": "the measured speed decided (max_speed, a de-ranked account, or the score's latency part)",
    "cache": "the answer came from the response cache: no provider was called, $0",
}
#: the filters behind each reason when they removed the wanted provider
_FILTERS: dict[str, frozenset[str]] = {
    "limit": frozenset({"quota", "cooldown", "paced"}),
    "context": frozenset({"context"}),
    "cost": frozenset({"budget_mode", "max_cost"}),
    "latency": frozenset({"latency"}),
}


def _label(c: Mapping[str, Any]) -> str:
    return f"{c.get('provider')}/{c.get('model')}"


def _place(position: object) -> str:
    return f"#{position + 1}" if isinstance(position, int) else "not listed"


def _list_name(tier: str, detail: DecisionDetail) -> str | None:
    names = {
        "quality_list": f"the {detail.quality} list (qualityPreferences.{detail.quality})",
        "cost_list": "the cost_first list (qualityPreferences.cost_first)",
        "task_list": f"the {detail.task_type} list (taskPreferences.{detail.task_type})",
    }
    return names.get(tier)


def _tier_line(tier: str, mine: object, theirs: object, w: str, r: str, detail: DecisionDetail) -> str:
    listed = _list_name(tier, detail)
    if listed is not None:
        return f"{listed}: {w} is {_place(mine)}, {r} {_place(theirs)}"
    if tier == "target":
        return f"the pinned or conversation's provider comes first: {w}, ahead of {r}"
    if tier == "context_window":
        return f"the largest context window (max_context): {w} {_tokens(mine)}, {r} {_tokens(theirs)}"
    return f"the default provider (preferences.default): {w}, ahead of {r}"


def _tokens(window: object) -> str:
    return f"{window:,} tokens" if isinstance(window, int) else "unknown"


def _score_line(win: Mapping[str, Any], run: Mapping[str, Any], w: str, r: str) -> str | None:
    a, b = win.get("score"), run.get("score")
    if not isinstance(a, dict) or not isinstance(b, dict) or not isinstance(a.get("weights"), dict):
        return None
    leads = {name: (float(a.get(name, 0.0)) - float(b.get(name, 0.0))) * float(weight)
             for name, weight in a["weights"].items()}  # fmt: skip
    part = max(leads, key=lambda name: leads[name])
    total = f"the score: {w} {float(a.get('total', 0.0)):.3f}, {r} {float(b.get('total', 0.0)):.3f}"
    return total + (f", led by {part} (+{leads[part]:.3f})" if leads[part] > 0 else "")


def ranking_line(detail: DecisionDetail) -> str | None:
    """What put the winner's group ahead of the next group in the ranking (None: nothing ranked)."""
    ranked = detail.candidates
    if not ranked:
        return None
    at = next((i for i, c in enumerate(ranked) if (c.get("provider"), c.get("model")) == (detail.provider,
               detail.model)), 0)  # fmt: skip
    win = ranked[at]
    run = next((c for c in ranked[at + 1 :] if _label(c) != _label(win)), None)
    w = _label(win)
    if run is None:
        return f"elimination: {w} was the only candidate left" if len({_label(c) for c in ranked}) == 1 else None
    r = _label(run)
    mine, theirs = win.get("tiers") or {}, run.get("tiers") or {}
    if mine.get("target") != theirs.get("target"):
        return _tier_line("target", None, None, w, r, detail)
    if detail.quality == "max_speed" and win.get("predicted_ms") != run.get("predicted_ms"):
        return f"predicted completion (max_speed): {w} {_ms(win)}, {r} {_ms(run)}"
    if run.get("deranked") and not win.get("deranked"):
        return f"{r} is de-ranked (far slower than its pool, or failing)"
    for tier in ("quality_list", "cost_list", "context_window", "task_list", "default"):
        if mine.get(tier) != theirs.get(tier):
            return _tier_line(tier, mine.get(tier), theirs.get(tier), w, r, detail)
    return _score_line(win, run, w, r)


def _ms(c: Mapping[str, Any]) -> str:
    value = c.get("predicted_ms")
    return f"{float(value) / 1000:.1f} s" if isinstance(value, int | float) else "not measured yet"


def _removed(detail: DecisionDetail, filters: frozenset[str]) -> str | None:
    hits = [e for e in detail.exclusions if e.get("filter") in filters]
    if not hits:
        return None
    return "removed before ranking: " + "; ".join(_excluded(e) for e in hits[:3])


def _excluded(e: Mapping[str, Any]) -> str:
    why = e.get("detail") or e.get("reason")
    where = f"{e.get('provider')}/{e.get('model', '*')}@{e.get('account', '*')}"
    return f"{where} ({e.get('filter')}{': ' + str(why) if why else ''})"


def _failed(attempts: Sequence[Any], served: str) -> str:
    failed = [f"{a.provider}/{a.model}@{a.account} ({a.error_class or a.outcome})" for a in attempts
              if a.outcome != "success"]  # fmt: skip
    return f"the first choice failed: {', '.join(failed)}; {served} served next"


def decided_by(detail: DecisionDetail) -> list[str]:
    """The reason's meaning, then what decided it, as lines for a person."""
    reason = detail.reason
    if reason is None:
        return ["no candidate could serve: see the explanation and the excluded candidates"]
    lines = [f"{reason}: {MEANING.get(reason, 'see README, 4. Reason')}"]
    served = f"{detail.provider}/{detail.model}@{detail.account}"
    if reason == "cache":
        return lines
    if any(a.outcome != "success" for a in detail.attempts) and detail.served:
        lines.append(_failed(detail.attempts, served))
    removed = _removed(detail, _FILTERS.get(reason, frozenset()))
    if removed is not None:
        lines.append(removed)
    if reason == "manual" and detail.switch is None:
        lines.append(f"pinned: every request goes to {detail.provider} until `switch auto`")
    elif reason == "sticky":
        lines.append(f"the conversation stays on {detail.provider} while it can serve")
    ranking = ranking_line(detail)
    if ranking is not None:
        lines.append(f"decided by {ranking}")
    return lines
