"""The seed's "Dashboard Display": current provider and context use, a provider table (active, quota left, spend,
latency) and recent routing decisions with their reasons ("Z.AI → Google #1 (quota_exhausted, 12:30)").

`gather()` reads everything through server.views (the functions behind the MCP tools); the `render_*`
functions turn those reports into rich renderables. Used by `status`, `list`, `quota`, `log`, `monitor` and the
demo's final screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from providers.types import Frozen
from server.views import (
    AccountStatus,
    DecisionDetail,
    DecisionLogView,
    DecisionSummary,
    MetricsReport,
    ModelView,
    ProvidersReport,
    ProviderStatus,
    QuotaReport,
    StatusReport,
    decision_log,
    metrics_report,
    router_status,
)
from server.views.verdict import decided_by
from server.wiring import App

RECENT = 8
_HEALTH_STYLE = {
    "healthy": ("✓ active", "green"),
    "degraded": ("✓ degraded", "yellow"),
    "cooling_down": ("✗ cooling", "yellow"),
    "exhausted": ("✗ exhausted", "red"),
    "circuit_open": ("✗ failing", "red"),
    "disabled": ("– off", "dim"),
    "no_key": ("✗ no key", "red"),
}


class CurrentView(Frozen):
    """Where the latest request went and how much of that model's context window its conversation uses."""

    provider: str | None = None
    label: str | None = None
    model: str | None = None
    account: str | None = None
    context_tokens: int | None = None
    context_window: int | None = None
    manual: bool = False
    decided_at: datetime | None = None


class Dashboard(Frozen):
    status: StatusReport
    current: CurrentView
    log: DecisionLogView
    latency_by_account: dict[str, float] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class _Row:
    name: str
    provider: ProviderStatus
    account: AccountStatus


def account_labels(status: StatusReport) -> dict[str, str]:
    """A display name per account id: the provider's label, numbered inside a pool ("Google #2")."""
    labels: dict[str, str] = {}
    for provider in status.providers:
        pooled = len(provider.accounts) > 1
        for index, account in enumerate(provider.accounts, start=1):
            labels[account.id] = f"{provider.label} #{index}" if pooled else provider.label
        labels.setdefault(provider.id, provider.label)
    return labels


async def _current(app: App, log: DecisionLogView, status: StatusReport, labels: dict[str, str]) -> CurrentView:
    if status.manual_switch is not None:
        pin = status.manual_switch
        return CurrentView(provider=pin.provider, label=labels.get(pin.provider), model=pin.model, manual=True)
    served = next((d for d in log.decisions if d.served and not d.dry_run), None)
    if served is None or served.provider is None:
        return CurrentView()
    tokens: int | None = next((a.usage.input_tokens for a in served.attempts if a.outcome == "success"), None)
    if served.conversation_id:
        conversation = await app.conversations.get(served.conversation_id)
        tokens = conversation.tokens_used if conversation is not None else tokens
    provider = app.config.providers.get(served.provider)
    model = provider.models.get(served.model or "") if provider else None
    if provider is not None and model is None:  # a retired model's successor served in its place
        model = next((m for m in provider.successors.values() if m.id == served.model), None)
    return CurrentView(
        provider=served.provider,
        label=labels.get(served.account or "", labels.get(served.provider)),
        model=served.model,
        account=served.account,
        context_tokens=tokens,
        context_window=model.context_window if model else None,
        decided_at=served.created_at,
    )


async def gather(
    app: App, *, recent: int = RECENT, now: datetime | None = None, member: str | None = None
) -> Dashboard:
    """Everything the dashboard shows, read once from the shared database (decisions and latency of `member`'s
    requests only, when given)."""
    now = now or app.clock()
    status = await router_status(app, now=now)
    log = await decision_log(app, recent, member=member)
    metrics: MetricsReport = await metrics_report(
        app, since=now - timedelta(hours=24), until=now + timedelta(seconds=1), member=member
    )
    labels = account_labels(status)
    latency = {row.group: row.latency_p50_ms for row in metrics.by_account if row.latency_p50_ms is not None}
    current = await _current(app, log, status, labels)
    return Dashboard(status=status, current=current, log=log, latency_by_account=latency, labels=labels)


# --------------------------------------------------------------------------------------------------- rendering


def _local(at: datetime) -> str:
    return at.astimezone().strftime("%H:%M")


def _money(usd: float) -> str:
    if usd == 0:
        return "$0"
    return f"${usd:.4f}" if usd < 1 else f"${usd:,.2f}"


def _quota_left(account: AccountStatus) -> str:
    windows = [q for q in account.quota if q.limit > 0]
    if not windows:
        return "no limit"
    tight = min(windows, key=lambda q: q.remaining / q.limit)
    share = 100 * tight.remaining / tight.limit
    learned = f", {tight.model}, from headers" if tight.model else ""
    return f"{share:.0f}% left ({tight.remaining}/{tight.limit} {tight.kind}/{tight.period}{learned})"


def _active(account: AccountStatus) -> Text:
    label, style = _HEALTH_STYLE[account.health]
    until = account.exhausted_until or account.cooldown_until or account.breaker_open_until
    used_up = [q for q in account.quota if q.limit > 0 and q.remaining == 0]
    if account.health == "healthy" and used_up:
        # the ledger refuses the account until the window resets, though nothing failed
        label, style, until = "✗ quota used", "yellow", min((q.resets_at for q in used_up if q.resets_at), default=None)
    if until is not None and label != "✓ active":
        label = f"{label} → {_local(until)}"
    return Text(label, style=style)


def _rows(status: StatusReport, labels: dict[str, str]) -> list[_Row]:
    return [_Row(labels[a.id], p, a) for p in status.providers for a in p.accounts]


def provider_table(board: Dashboard) -> Table:
    """One row per account (a pool shows each member): active, quota left, spend today, latency p50."""
    table = Table(title="Providers", title_justify="left", expand=False)
    for column, justify in (("Provider", "left"), ("Active", "left"), ("Quota", "left"), ("Spend today", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("Latency p50", justify="right")
    for row in _rows(board.status, board.labels):
        latency = board.latency_by_account.get(row.account.id)
        table.add_row(
            row.name,
            _active(row.account),
            _quota_left(row.account),
            _money(row.account.spend.day_usd),
            f"{latency:.0f} ms" if latency is not None else "–",
        )
    return table


def decision_line(
    decision: DecisionSummary, previous: DecisionSummary | None, labels: dict[str, str], *, with_task: bool = True
) -> str:
    """ "Z.AI → Google #1 (failover: quota_exhausted, 12:30)" for a move, "Z.AI (preference, 12:31)" otherwise."""
    when = _local(decision.created_at)
    task = f" · {decision.task_type}" if decision.task_type and with_task else ""
    if decision.substitution:
        task += f" · {decision.substitution}"
    if decision.provider is None or not decision.served:
        return f"✗ no provider could serve ({when}){task}"
    to = labels.get(decision.account or "", decision.provider)
    failed = [a for a in decision.attempts if a.outcome != "success"]
    if failed:
        why = ", ".join(sorted({a.error_class or a.outcome for a in failed}))
        origin = labels.get(failed[0].account, failed[0].provider)
        return f"{origin} → {to} ({decision.reason}: {why}, {when}){task}"
    if previous is not None and previous.account and previous.account != decision.account:
        return f"{labels.get(previous.account, previous.provider or '?')} → {to} ({decision.reason}, {when}){task}"
    return f"{to} ({decision.reason}, {when}){task}"


def decision_lines(log: DecisionLogView, labels: dict[str, str]) -> list[str]:
    served = [d for d in log.decisions if not d.dry_run]
    return [
        decision_line(decision, served[index + 1] if index + 1 < len(served) else None, labels)
        for index, decision in enumerate(served)
    ]


def _header(board: Dashboard) -> Text:
    status, current = board.status, board.current
    text = Text("Provider Router Status\n\n", style="bold")
    if current.provider is None:
        text.append("Current Provider: none yet (no request routed)\n")
    else:
        manual = " — manual switch (undo: provider-router switch auto)" if current.manual else ""
        model = f" ({current.model})" if current.model else ""
        text.append(f"Current Provider: {current.label or current.provider}{model}{manual}\n")
    if current.context_tokens is not None and current.context_window:
        share = 100 * current.context_tokens / current.context_window
        text.append(f"Context: {current.context_tokens:,} / {current.context_window:,} tokens ({share:.1f}%)\n")
    spend = status.spend
    cap = f" of {_money(spend.daily_budget_usd)}" if spend.daily_budget_usd is not None else ""
    text.append(f"Budget mode: {status.budget_mode} · spent today {_money(spend.day_usd)}{cap}\n")
    for problem in status.problems:
        text.append(f"Problem: {problem}\n", style="red")
    for notice in status.retirements:
        text.append(f"Warning: {notice}\n", style="yellow")
    return text


def render_dashboard(board: Dashboard) -> RenderableType:
    """The whole dashboard: header, provider table, recent decisions."""
    lines = decision_lines(board.log, board.labels)
    decisions = Text("Routing decisions (latest first):\n", style="bold")
    for line in lines or ["none yet"]:
        decisions.append(f"- {line}\n", style="" if "✗" not in line else "red")
    parts: list[RenderableType] = [_header(board)]
    if board.status.providers:
        parts.append(provider_table(board))
    parts.append(decisions)
    return Group(*parts)


def render_providers(report: ProvidersReport) -> RenderableType:
    """`list`: each provider, its accounts and key references, and its models with prices and windows."""
    table = Table(title="Configured providers", title_justify="left")
    for column in ("Provider", "Kind", "Health", "Accounts (key)", "Models (context, $ in/out per 1M)"):
        table.add_column(column)
    for provider in report.providers:
        accounts = "\n".join(f"{account} ({provider.credentials[account]})" for account in provider.accounts)
        models = "\n".join(_model_line(m) for m in provider.models)
        label, style = _HEALTH_STYLE[provider.health]
        table.add_row(f"{provider.label} [{provider.id}]", provider.kind, Text(label, style=style), accounts, models)
    return Group(*_problems(report.problems), table)


def _model_line(model: ModelView) -> str:
    line = f"{model.id} ({model.context_window // 1000}k, {_price(model)})"
    return f"{line}\n  {model.retirement}" if model.retirement else line


def _price(model: ModelView) -> str:
    if model.free_tier:
        return "free"
    price = f"${model.input_cost_per_1m:g}/${model.output_cost_per_1m:g}"
    return price if model.price_known else f"price unknown, counted as {price}"


def _problems(problems: Sequence[str]) -> list[Text]:
    return [Text(f"Problem: {problem}", style="red") for problem in problems]


def render_quota(report: QuotaReport) -> RenderableType:
    """`quota`: requests, tokens and spend of the period per account, against limits and budgets, with a forecast."""
    cap = f" of {_money(report.budget_usd)}" if report.budget_usd is not None else " (no global cap)"
    title = f"Quota this {report.period} · spent {_money(report.spend_usd)}{cap}"
    table = Table(title=title, title_justify="left")
    for column in ("Account", "Requests", "Tokens", "Spend", "Resets", "Forecast"):
        table.add_column(column)
    for provider in report.providers:
        for account in provider.accounts:
            requests = f"{account.requests_used}" + (f" / {account.requests_limit}" if account.requests_limit else "")
            tokens = f"{account.tokens_used:,}" + (f" / {account.tokens_limit:,}" if account.tokens_limit else "")
            spend = _money(account.spend_usd) + (f" / {_money(account.budget_usd)}" if account.budget_usd else "")
            table.add_row(
                f"{provider.id} · {account.account}",
                requests,
                tokens,
                spend,
                _local(account.resets_at),
                account.forecast,
            )
    return Group(*_problems(report.problems), table)


def render_log(log: DecisionLogView, labels: dict[str, str]) -> RenderableType:
    """`log`: the decisions, newest first, each with its reason and attempts, then the manual/failover switches."""
    table = Table(title="Routing decisions (latest first)", title_justify="left")
    for column in ("#", "Time", "Task", "Route", "Attempts", "Cost"):
        table.add_column(column)
    served = [d for d in log.decisions if not d.dry_run]
    previous = {d.id: served[i + 1] for i, d in enumerate(served) if i + 1 < len(served)}
    for decision in log.decisions:
        attempts = ", ".join(f"{a.account}:{a.error_class or a.outcome}" for a in decision.attempts)
        route = (
            "dry run"
            if decision.dry_run
            else decision_line(decision, previous.get(decision.id), labels, with_task=False)
        )
        task = decision.task_type or ""
        table.add_row(str(decision.id), _local(decision.created_at), task, route, attempts, _money(decision.cost_usd))
    parts: list[RenderableType] = [table]
    if log.switches:
        switches = Text("Switches:\n", style="bold")
        for switch in log.switches:
            scope = f" conversation {switch.conversation_id}" if switch.conversation_id else ""
            to = switch.to_provider or "auto"
            switches.append(
                f"- {_local(switch.created_at)} {switch.from_provider or '…'} → {to} ({switch.reason}){scope}\n"
            )
        parts.append(switches)
    return Group(*parts)


def render_decision(detail: DecisionDetail) -> RenderableType:
    """`log --id N`: one decision with its explanation, ranked candidates, exclusions and attempts."""
    text = Text(f"Decision #{detail.id} at {detail.created_at.astimezone():%Y-%m-%d %H:%M:%S}\n", style="bold")
    text.append(f"task: {detail.task_summary}\n")
    text.append(f"routed to: {detail.provider}/{detail.model} @ {detail.account} ({detail.reason})\n")
    for line in decided_by(detail):
        text.append(f"why: {line}\n")
    for line in detail.explanation:
        text.append(f"  {line}\n")
    for attempt in detail.attempts:
        outcome = attempt.error_class or attempt.outcome
        text.append(
            f"attempt {attempt.provider}/{attempt.model} @ {attempt.account}: {outcome}, {attempt.latency_ms:.0f} ms\n"
        )
    for excluded in detail.exclusions:
        text.append(f"excluded {excluded}\n", style="dim")
    return text
