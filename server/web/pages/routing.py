"""Routing: the decision stream (filterable) and one decision's page: why this provider won, in five seconds."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import QueryParams

from server.views import DecisionDetail, decision_detail, decision_log
from server.views.team import member_names
from server.views.verdict import decided_by
from server.web.html import attrs, count, esc, link, ms, section, select, table, usd, when
from server.web.pages.overview import DECISION_HEADERS, decision_rows
from server.wiring import App
from storage import DECISION_OUTCOMES

TASKS = ("coding", "reasoning", "creative", "simple")
FILTERS = ("task", "provider", "reason", "outcome", "conversation", "member")


async def _members(app: App, chosen: str | None) -> str:
    """The member filter, when the team has members and the viewer may see them all."""
    names = await member_names(app)
    return f"<label>member {select('member', names, chosen, blank='everyone')}</label>" if names else ""


def _filters(app: App, query: QueryParams, members: str = "") -> str:
    providers = list(app.config.providers)
    reason = query.get("reason") or ""
    conversation = query.get("conversation") or ""
    return (
        '<form class="filters" method="get" action="/routing">'
        f"<label>task {select('task', TASKS, query.get('task'), blank='any')}</label>"
        f"<label>provider {select('provider', providers, query.get('provider'), blank='any')}</label>"
        f"<label>reason <input{attrs(name='reason', value=reason, placeholder='preference, failover…')}></label>"
        f"<label>outcome {select('outcome', DECISION_OUTCOMES, query.get('outcome'), blank='any')}</label>"
        f"<label>conversation <input{attrs(name='conversation', value=conversation)}></label>"
        f"{members}"
        '<button type="submit">Filter</button> <a href="/routing">clear</a></form>'
    )


async def stream(app: App, query: QueryParams) -> str:
    """The latest decisions matching the filters in the query string."""
    chosen = {name: query.get(name) or None for name in FILTERS}
    outcome = chosen["outcome"] if chosen["outcome"] in DECISION_OUTCOMES else None
    log = await decision_log(
        app, int(query.get("limit") or 100) if (query.get("limit") or "").isdigit() else 100,
        conversation_id=chosen["conversation"], provider=chosen["provider"], task_type=chosen["task"],
        reason=chosen["reason"], outcome=outcome, member=chosen["member"],
    )  # fmt: skip
    switches = [
        [when(s.created_at), esc(s.reason), esc(f"{s.from_provider or 'auto'} → {s.to_provider or 'auto'}"),
         esc(s.conversation_id or "every conversation"),
         link(f"/routing/{s.decision_id}", f"#{s.decision_id}") if s.decision_id else ""]
        for s in log.switches
    ]  # fmt: skip
    return (
        _filters(app, query, await _members(app, chosen["member"]))
        + section("Decisions", table(DECISION_HEADERS, decision_rows(log), id_="decisions",
                                     empty="No decision matches these filters."))
        + section("Switches", table(["time", "reason", "from → to", "scope", "decision"], switches, id_="switches",
                                    empty="No switch yet."))
    )  # fmt: skip


def _score(candidate: dict[str, Any]) -> tuple[str, str]:
    """The total and each weighted part, largest first (`quality 0.90 × 0.40 = 0.360`)."""
    score = candidate.get("score")
    if not isinstance(score, dict):
        return esc(score if score is not None else ""), ""
    weights = score.get("weights")
    weights = weights if isinstance(weights, dict) else {}
    parts = sorted(
        ((name, float(score.get(name, 0.0)), float(weight)) for name, weight in weights.items()),
        key=lambda part: -part[1] * part[2],
    )
    cells = "".join(
        f"<li><span class='part'>{esc(name)}</span> {value:.2f} × {weight:.2f} = <strong>{value * weight:.3f}</strong>"
        "</li>"
        for name, value, weight in parts
    )
    total = score.get("total")
    return (f"{float(total):.3f}" if isinstance(total, int | float) else ""), f"<ul class='parts'>{cells}</ul>"


def _candidates(detail: DecisionDetail) -> str:
    rows = []
    for rank, c in enumerate(detail.candidates, 1):
        chosen = c.get("provider") == detail.provider and c.get("model") == detail.model
        total, parts = _score(c)
        rows.append([
            f"<strong>{rank}</strong>" + (" ✓" if chosen else ""),
            esc(f"{c.get('provider')}/{c.get('model')}"),
            esc(c.get("account", "")),
            total,
            parts,
            esc(c.get("substitution") or ""),
        ])  # fmt: skip
    return table(["rank", "candidate", "account", "score", "score parts", "note"], rows, id_="candidates",
                 empty="No candidate was ranked.")  # fmt: skip


def _exclusions(detail: DecisionDetail) -> str:
    rows = [
        [esc(f"{e.get('provider')}/{e.get('model', '*')}"), esc(e.get("account", "")),
         f"<code>{esc(e.get('filter', ''))}</code>", esc(e.get("detail") or e.get("reason") or "")]
        for e in detail.exclusions
    ]  # fmt: skip
    return table(["candidate", "account", "filter", "why"], rows, id_="exclusions", empty="Nothing was excluded.")


def _attempts(detail: DecisionDetail) -> str:
    rows = [
        [str(i), esc(f"{a.provider}/{a.model}"), esc(a.account),
         f"<span class='pill {'ok' if a.outcome == 'success' else 'bad'}'>{esc(a.outcome)}</span>",
         f"<code>{esc(a.error_class)}</code>" if a.error_class else "", when(a.started_at), ms(a.latency_ms),
         count(a.usage.input_tokens) + " / " + count(a.usage.output_tokens), usd(a.cost_usd)]
        for i, a in enumerate(detail.attempts, 1)
    ]  # fmt: skip
    headers = [
        "#",
        "provider/model",
        "account",
        "outcome",
        "error class",
        "started",
        "latency",
        "tokens in/out",
        "cost",
    ]
    return table(headers, rows, id_="attempts", empty="No provider was called (a dry run or a refusal).")


def _verdict(detail: DecisionDetail) -> str:
    winner = f"{detail.provider or 'nobody'}/{detail.model or '–'}"
    outcome = "served" if detail.served else "not served"
    lines = [
        f"<p class='verdict'><strong>{esc(winner)}</strong> won: <em>{esc(detail.reason or 'no reason logged')}</em>"
        f" · {esc(outcome)}{' after a failover' if detail.failover else ''} · {usd(detail.cost_usd, 'cost_usd')}</p>",
        f"<p class='muted'>{esc(detail.task_type or 'unknown')} task · quality {esc(detail.quality or 'balanced')} · "
        f"{when(detail.created_at)}{' · conversation ' + esc(detail.conversation_id) if detail.conversation_id else ''}"
        f"</p>",
        f"<p>{esc(detail.task_summary)}</p>",
        "<ul id='decided-by' class='decided'>"
        + "".join(f"<li>{esc(line)}</li>" for line in decided_by(detail))
        + "</ul>",
    ]
    if detail.substitution:
        lines.append(f"<p class='notice'>{esc(detail.substitution)}</p>")
    return "".join(lines)


async def decision(app: App, decision_id: int) -> str | None:
    """One decision's page; None when there is no such decision."""
    detail = await decision_detail(app, decision_id)
    if detail is None:
        return None
    explanation = "".join(f"<li>{esc(line)}</li>" for line in detail.explanation)
    switch = ""
    if detail.switch is not None:
        switch = section("Switch", "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>"
                                                    for k, v in detail.switch.items()) + "</dl>")  # fmt: skip
    prompt = section("Prompt", f"<pre>{esc(detail.prompt)}</pre>") if detail.prompt is not None else ""
    return (
        f"<div{attrs(id='decision', data_decision_id=detail.id)}>"
        + _verdict(detail)
        + (section("Why", f"<ul>{explanation}</ul>") if explanation else "")
        + section("Ranked candidates", _candidates(detail))
        + section("Attempts", _attempts(detail))
        + switch
        + section("Excluded", _exclusions(detail))
        + prompt
        + "</div>"
    )
