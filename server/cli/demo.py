"""`provider-router demo`: the router at work on simulated providers, in under a minute, with no keys.

The example line-up (Z.AI, Kimi, three free Google accounts with 4 requests a day each, OpenAI, Anthropic) runs
on the loopback simulator; a scripted mix of tasks goes through the real router and store in a temporary home
(deleted afterwards), showing failovers, the Google pool draining evenly, a budget stop and the final dashboard.
Nothing is read from or written to the user's own home, and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field

from providers.simulator import Fault, SimAccount, Simulator
from providers.simulator.lineup import Lineup
from providers.types import Frozen, Message
from routing.results import RouteError, RouteResult
from routing.router import RouteRequest
from server.config import Edit, Paths, write_config_edits
from server.views import quota_report
from server.wiring import App, open_app

DEMO_KEY = "demo-key-not-a-secret"
ENVIRON = {"DEMO_KEY": DEMO_KEY}
GOOGLE_DAILY = 4
START = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
STEP = timedelta(seconds=20)


@dataclass
class DemoClock:
    """Time moves 20 s per task, so cooldowns expire as they would and the log reads like a working session."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += STEP


@dataclass(frozen=True)
class Task:
    task_type: str
    prompt: str
    faults: Mapping[str, Sequence[Fault]] = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    title: str
    note: str
    tasks: tuple[Task, ...]
    #: providers.json edits made before the phase (as `provider-router config set` would)
    edits: tuple[Edit, ...] = ()
    #: before the phase, cap today's spend at what is spent so far plus this much (USD)
    budget_headroom_usd: float | None = None


def _tasks(task_type: str, *prompts: str) -> tuple[Task, ...]:
    return tuple(Task(task_type, prompt) for prompt in prompts)


PHASES: tuple[Phase, ...] = (
    Phase(
        "1. Each task type goes to its preferred provider",
        "coding → OpenAI, reasoning → Anthropic, creative → OpenAI, simple → the free Google pool",
        (
            Task("coding", "Fix the off-by-one in paginate()"),
            Task("reasoning", "Why does this lock-free queue lose items under contention?"),
            Task("creative", "Name three release codenames"),
            Task("simple", "Summarize this commit message in one line"),
            Task("coding", "Write a unit test for parse_retry_after()"),
        ),
    ),
    Phase(
        "2. Failover: a 429, a 529 and an exhausted quota",
        "the next candidate answers at once; the failing account cools down and comes back by itself",
        (
            Task("coding", "Refactor the config loader", {"openai": ("rate_limited",)}),
            Task("coding", "Add type hints to storage/db.py"),
            Task("reasoning", "Compare two cache eviction policies", {"anthropic": ("overloaded",)}),
            Task(
                "reasoning", "Prove this loop terminates", {"anthropic": ("overloaded",), "kimi": ("quota_exhausted",)}
            ),
            Task("coding", "Explain this stack trace", {"openai": ("server_error",)}),
            Task("reasoning", "Pick a sharding key for the events table"),
        ),
    ),
    Phase(
        "3. A daily budget stops paid models",
        "the user caps today's spend a little above what is spent (`provider-router config set "
        "preferences.budgetUsd.daily N`): expensive models no longer fit, a cheap one does for a while, "
        "then only the free Google accounts serve",
        _tasks(
            "coding",
            "Rename a variable everywhere",
            "Add a docstring",
            "Split a long function",
            "Fix a flaky test",
            "Add a CLI flag",
            "Port a shell script to Python",
            "Sort the imports",
        ),
        budget_headroom_usd=0.0012,
    ),
    Phase(
        "4. The free pool drains evenly, then the router says what to do",
        f"three Google accounts with {GOOGLE_DAILY} requests a day each take turns until all are used up",
        _tasks("simple", *(f"Summarize item {n} in one line" for n in range(1, 12))),
    ),
    Phase(
        "5. The user raises the budget: Z.AI picks up again",
        "`provider-router config set preferences.budgetUsd.daily 1`",
        (*_tasks("simple", "Summarize item 12 in one line"), *_tasks("coding", "Add a --verbose flag")),
        edits=((("preferences", "budgetUsd", "daily"), 1),),
    ),
)


#: small but distinct latencies, so the table has something to show
LATENCY_MS = {"zai": 9, "kimi": 12, "google-1": 5, "google-2": 6, "google-3": 7, "openai": 8, "anthropic": 10}
LINEUP = Lineup(api_key=DEMO_KEY, key_variable="DEMO_KEY", google_daily=GOOGLE_DAILY)


def demo_accounts() -> list[SimAccount]:
    """The line-up as simulator accounts (latencies small but distinct, so the table has something to show)."""
    return [
        account.model_copy(update={"latency_ms": LATENCY_MS[account.id]}) for account in LINEUP.accounts(reply=_REPLY)
    ]


_REPLY = "{account} ({model}) answers request {n}: " + "a simulated answer of modest length. " * 8


def demo_config(sim: Simulator) -> dict[str, Any]:
    """The seed's example configuration pointed at the simulator."""
    return LINEUP.config(sim)


class DemoAttempt(Frozen):
    account: str
    outcome: str
    error_class: str | None = None


class DemoEvent(Frozen):
    """One task of the script and what the router did with it."""

    n: int
    phase: int
    task_type: str
    prompt: str
    provider: str | None = None
    model: str | None = None
    account: str | None = None
    reason: str | None = None
    cost_usd: float = 0.0
    attempts: list[DemoAttempt] = Field(default_factory=list)
    refused: str | None = None
    #: for a refused task: when something frees up
    retry_at: datetime | None = None


class DemoSummary(Frozen):
    requests: int
    served: int
    refused: int
    failovers: int
    spend_usd: float
    by_account: dict[str, int]
    google_pool: dict[str, int]
    events: list[DemoEvent]
    dashboard: dict[str, Any] = Field(default_factory=dict)


def _event(n: int, phase: int, task: Task, outcome: RouteResult | RouteError) -> DemoEvent:
    base = DemoEvent(n=n, phase=phase, task_type=task.task_type, prompt=task.prompt)
    attempts = [DemoAttempt(account=a.account, outcome=a.outcome, error_class=a.error_class) for a in outcome.attempts]
    if isinstance(outcome, RouteError):
        return base.model_copy(update={"attempts": attempts, "refused": outcome.message, "retry_at": outcome.retry_at})
    return base.model_copy(
        update={
            "provider": outcome.provider,
            "model": outcome.model,
            "account": outcome.account,
            "reason": outcome.reason,
            "cost_usd": outcome.cost_usd,
            "attempts": attempts,
        }
    )


async def _route(app: App, task: Task) -> RouteResult | RouteError:
    request = RouteRequest(
        messages=(Message(role="user", content=task.prompt),),
        task_type=task.task_type,  # type: ignore[arg-type]
        max_output_tokens=200,
    )
    try:
        return await app.router.route(request)
    except RouteError as error:
        return error


class Narrator:
    """Prints the demo as it runs: phase titles, one line per request, the final dashboard (rich on a TTY)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._console: Any = None
        if not quiet:
            from rich.console import Console

            tty = sys.stdout.isatty()
            self._console = Console(highlight=False, width=None if tty else 120, no_color=not tty)

    def print(self, text: str = "", style: str = "") -> None:
        if self._console is not None:
            self._console.print(text, style=style or None, markup=False)

    def phase(self, phase: Phase) -> None:
        self.print()
        self.print(phase.title, "bold cyan")
        self.print(f"   {phase.note}", "dim")

    def event(self, event: DemoEvent, labels: Mapping[str, str]) -> None:
        head = f"{event.n:>3}  {event.task_type:<9}"
        if event.account is None:
            when = f"; something frees up at {event.retry_at.astimezone():%H:%M}" if event.retry_at else ""
            self.print(f"{head} ✗ refused: {_first_line(event.refused).split('; ')[0]}{when}", "red")
            return
        where = f"{labels.get(event.account, event.account)} · {event.model}"
        self.print(f"{head} → {where:<38} {event.reason:<10} ${event.cost_usd:.5f}")
        failed = [a for a in event.attempts if a.outcome != "success"]
        if failed:
            hops = " → ".join(f"{labels.get(a.account, a.account)} {a.error_class or a.outcome}" for a in failed)
            self.print(f"{'':16}↳ failover: {hops} → {labels.get(event.account, event.account)}", "yellow")


def _first_line(text: str | None) -> str:
    return (text or "").splitlines()[0] if text else ""


def _labels(app: App) -> dict[str, str]:
    labels: dict[str, str] = {}
    for provider in app.config.providers.values():
        pooled = len(provider.accounts) > 1
        for index, account in enumerate(provider.accounts, start=1):
            labels[account.id] = f"{provider.label} #{index}" if pooled else provider.label
    return labels


def _events(phases: Sequence[Phase]) -> Iterator[tuple[int, Phase, Task]]:
    for index, phase in enumerate(phases, start=1):
        for task in phase.tasks:
            yield index, phase, task


async def _play(app: App, sim: Simulator, clock: DemoClock, paths: Paths, narrator: Narrator) -> list[DemoEvent]:
    events: list[DemoEvent] = []
    labels = _labels(app)
    for number, (phase_index, phase, task) in enumerate(_events(PHASES), start=1):
        if task is phase.tasks[0]:
            narrator.phase(phase)
            edits = list(phase.edits)
            if phase.budget_headroom_usd is not None:
                spent = (await quota_report(app, "day")).spend_usd
                cap = round(spent + phase.budget_headroom_usd, 4)
                narrator.print(f"   daily cap set to ${cap:.4f} (spent so far ${spent:.4f})", "dim")
                edits.append((("preferences", "budgetUsd", "daily"), cap))
            if edits:
                write_config_edits(paths, edits, ENVIRON, now=clock())
                app.refresh()
        for account, faults in task.faults.items():
            sim.script(account, list(faults))
        event = _event(number, phase_index, task, await _route(app, task))
        narrator.event(event, labels)
        events.append(event)
        clock.tick()
    return events


def summarise(events: Sequence[DemoEvent]) -> DemoSummary:
    """Counts over the events: served and refused, failovers, spend, requests per account."""
    by_account: dict[str, int] = {}
    for event in events:
        if event.account is not None:
            by_account[event.account] = by_account.get(event.account, 0) + 1
    return DemoSummary(
        requests=len(events),
        served=sum(1 for e in events if e.account is not None),
        refused=sum(1 for e in events if e.account is None),
        failovers=sum(1 for e in events if e.account is not None and len(e.attempts) > 1),
        spend_usd=round(sum(e.cost_usd for e in events), 6),
        by_account=by_account,
        google_pool={f"google-{n}": by_account.get(f"google-{n}", 0) for n in (1, 2, 3)},
        events=list(events),
    )


async def play_demo(home: Path, *, quiet: bool) -> DemoSummary:
    """Run the whole script in `home` (a fresh directory) and return what happened."""
    from server.cli import dashboard

    narrator = Narrator(quiet)
    clock = DemoClock()
    narrator.print("provider-router demo: the seed's providers on a local simulator (no keys, no network)", "bold")
    async with Simulator(demo_accounts(), clock=lambda: clock().timestamp()) as sim:
        paths = Paths.in_home(home)
        write_config_edits(paths, [((key,), value) for key, value in demo_config(sim).items()], ENVIRON, now=clock())
        async with open_app(paths, ENVIRON, clock=clock) as app:
            events = await _play(app, sim, clock, paths, narrator)
            board = await dashboard.gather(app, recent=6)
    summary = summarise(events).model_copy(update={"dashboard": board.status.model_dump(mode="json")})
    if not quiet:
        narrator.print()
        narrator._console.print(dashboard.render_dashboard(board))
        pool = ", ".join(f"{account} {count}" for account, count in summary.google_pool.items())
        narrator.print(
            f"{summary.requests} requests: {summary.served} served, {summary.failovers} after a failover, "
            f"{summary.refused} refused; Google pool {pool}; spent ${summary.spend_usd:.4f}",
            "bold",
        )
        narrator.print("Next: provider-router setup   (your own providers and keys)", "bold green")
    return summary


def run_demo(*, as_json: bool = False) -> int:
    """The `demo` verb: play the script in a temporary home that is deleted afterwards."""
    import anyio

    from server.cli.common import emit_json

    with tempfile.TemporaryDirectory(prefix="provider-router-demo-") as home:
        summary = anyio.run(lambda: play_demo(Path(home), quiet=as_json))
    if as_json:
        emit_json(summary)
    return 0
