"""Overview: requests per minute, spend against each budget, every provider and account with its health, blocks and
quota (with the forecast), the pins in force, the latest decisions. Its live part is redrawn over SSE."""

from __future__ import annotations

from server.views import (
    AccountQuota,
    ActivityView,
    DecisionLogView,
    QuotaReport,
    StatusReport,
    activity_view,
    decision_log,
    quota_report,
    router_status,
)
from server.web.html import attrs, count, esc, link, section, table, usd, when
from server.web.svg import sparkline
from server.wiring import App

RECENT = 10
_HEALTH = {
    "healthy": "ok",
    "degraded": "warn",
    "cooling_down": "warn",
    "exhausted": "bad",
    "circuit_open": "bad",
    "disabled": "muted",
    "no_key": "bad",
}


def _meter(spent: float, cap: float | None, key: str) -> str:
    if cap is None:
        return f"{usd(spent, key)} <span class='muted'>no cap</span>"
    return f"{usd(spent, key)} of {usd(cap)} <progress{attrs(max=cap, value=min(spent, cap))}></progress>"


def _kpis(status: StatusReport, activity: ActivityView) -> str:
    spend = status.spend
    cards = [
        ("Requests in the last minute", count(activity.last_minute, "activity.last_minute")),
        ("Requests in the last hour", count(activity.last_hour, "activity.last_hour")
         + sparkline(activity.per_minute, "requests per minute, last hour")),
        ("Spend today", _meter(spend.day_usd, spend.daily_budget_usd, "spend.day_usd")),
        ("Spend this month", _meter(spend.month_usd, spend.monthly_budget_usd, "spend.month_usd")),
        ("Budget mode", f"<strong data-key='budget_mode'>{esc(status.budget_mode)}</strong>"),
    ]  # fmt: skip
    pins = []
    if status.manual_switch is not None:
        pin = status.manual_switch
        pins.append(f"every conversation → {esc(pin.provider)}{'/' + esc(pin.model) if pin.model else ''}")
    pins += [f"conversation {esc(p.conversation_id)} → {esc(p.provider)}" for p in status.conversation_pins]
    cards.append(("Pins in force", "<br>".join(pins) or "<span class='muted'>none: automatic routing</span>"))
    return '<div class="cards">' + "".join(f"<div class='card'><h3>{esc(t)}</h3>{v}</div>" for t, v in cards) + "</div>"


def _bars(q: AccountQuota | None) -> str:
    """A bar per daily limit of the account (requests, tokens), with its use."""
    if q is None:
        return ""
    limits = (("requests", q.requests_used, q.requests_limit), ("tokens", q.tokens_used, q.tokens_limit))
    bars = [
        f"<progress{attrs(max=limit, value=min(used, limit))}></progress> {count(used)}/{limit:,} {name} today"
        for name, used, limit in limits
        if limit
    ]
    return "<br>".join(bars)


def _providers(status: StatusReport, quota: QuotaReport) -> str:
    forecasts = {(a.provider, a.account): a for p in quota.providers for a in p.accounts}
    rows = []
    for p in status.providers:
        for a in p.accounts:
            q = forecasts.get((p.id, a.id))
            blocks = "<br>".join(f"{esc(b.kind)}{' ' + esc(b.model) if b.model else ''} until {when(b.until)}"
                                 for b in a.blocks)  # fmt: skip
            bar = _bars(q)
            rows.append([
                esc(p.label),
                esc(a.id),
                f"<span{attrs(class_='pill ' + _HEALTH.get(a.health, 'muted'), data_health=a.health)}>"
                f"{esc(a.health.replace('_', ' '))}</span>",
                blocks or "<span class='muted'>–</span>",
                bar or "<span class='muted'>no request limit</span>",
                esc(q.forecast) if q else "",
                usd(a.spend.day_usd, f"spend.{p.id}.{a.id}"),
            ])  # fmt: skip
    return table(["provider", "account", "health", "blocked", "quota", "forecast", "spend today"], rows,
                 id_="providers", empty="No provider is configured: run `provider-router setup`.")  # fmt: skip


def decision_rows(log: DecisionLogView) -> list[list[str]]:
    rows = []
    for d in log.decisions:
        outcome = "served" if d.served else ("failed" if d.attempts else "no attempt")
        if d.failover and d.served:
            outcome = "failover"
        if d.dry_run:
            outcome = "dry run"
        rows.append([
            link(f"/routing/{d.id}", f"#{d.id}", data_decision_id=d.id),
            when(d.created_at),
            esc(d.task_type or ""),
            esc(f"{d.provider or '–'}/{d.model or '–'}"),
            esc(d.reason or ""),
            f"<span class='pill {'ok' if d.served else 'bad'}'>{esc(outcome)}</span>",
            str(len(d.attempts)),
            usd(d.cost_usd),
        ])  # fmt: skip
    return rows


DECISION_HEADERS = ["decision", "time", "task", "routed to", "reason", "outcome", "attempts", "cost"]


async def live(app: App) -> str:
    """The part of the overview the live stream redraws."""
    status = await router_status(app)
    activity = await activity_view(app)
    quota = await quota_report(app, "day")
    log = await decision_log(app, RECENT)
    problems = "".join(f"<li>{esc(p)}</li>" for p in status.problems)
    return (
        f"<div{attrs(id='live', data_watermark=activity.last_decision_id, data_generated=activity.generated_at)}>"
        + (f"<ul class='problems'>{problems}</ul>" if problems else "")
        + _kpis(status, activity)
        + section("Providers and accounts", _providers(status, quota))
        + section(
            "Latest decisions",
            table(DECISION_HEADERS, decision_rows(log), id_="recent", empty="No request routed yet."),
        )  # fmt: skip
        + "</div>"
    )
