"""Part 4: failover time, measured at the simulator from request arrival times.

Two providers on the OpenAI wire, `openai` first for coding and `zai` second. Three kinds of trial:
- baseline: nothing fails; route start -> arrival of the request at the first choice;
- 429: the first choice answers one 429; route start -> arrival at the second choice, and the gap between the two
  arrivals (against a direct client that sends the second request as soon as the 429 is in);
- known exhausted: the first choice is already marked exhausted; route start -> arrival at the second choice,
  and no request may reach the first choice.
Time added = (start -> arrival at the second choice) - baseline (start -> arrival at the first choice).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx2

from bench.common import Options, Section, spread
from bench.fixtures import PROMPT, SIM_KEY, bench_app, chat_body
from providers.clock import system_clock
from providers.simulator import SimAccount, Simulator
from providers.simulator.httpserver import Action, HttpRequest
from providers.types import Message
from routing.router import RouteRequest
from server.wiring.app import App


class TimedSimulator(Simulator):
    """The simulator, noting when each request arrived (perf_counter, after its body was read)."""

    def __init__(self, accounts: list[SimAccount]) -> None:
        super().__init__(accounts, clock=lambda: system_clock().timestamp())
        self.arrivals: list[tuple[float, str]] = []

    async def _handle(self, request: HttpRequest) -> Action:
        self.arrivals.append((time.perf_counter(), request.path[1:].partition("/")[0]))
        return await super()._handle(request)

    def first(self, account: str) -> float | None:
        return next((at for at, who in self.arrivals if who == account), None)


ACCOUNTS = [
    SimAccount(id="oa1", kind="openai", api_key=SIM_KEY, output_tokens=16),
    SimAccount(id="z1", kind="openai", flavour="zai", api_key=SIM_KEY, output_tokens=16),
]


def _account(sim: Simulator, account: str) -> dict[str, str]:
    return {"id": account, "apiKey": "${SIM_KEY}", "baseUrl": sim.base_url(account)}


def config(sim: Simulator) -> dict[str, Any]:
    return {
        "providers": {
            "openai": {"accounts": [_account(sim, "oa1")], "models": {"gpt-5.2": {}}},
            "zai": {"accounts": [_account(sim, "z1")], "models": {"glm-4.7": {}}},
        },
        "preferences": {"default": "openai", "taskPreferences": {"coding": ["openai", "zai"]}},
    }


REQUEST = RouteRequest(messages=(Message(role="user", content=PROMPT),), task_type="coding")


async def _trial(app: App, sim: TimedSimulator) -> tuple[float, str]:
    sim.arrivals.clear()
    started = time.perf_counter()
    result = await app.router.route(REQUEST)
    served_at = sim.first(result.account)
    assert served_at is not None
    return (served_at - started) * 1000, result.account


async def _direct_gap(http: httpx2.AsyncClient, sim: TimedSimulator) -> float:
    """A plain client: a 429 from oa1, then at once the same request to z1; the gap between the arrivals."""
    sim.script("oa1", ["rate_limited"])
    sim.arrivals.clear()
    headers = {"authorization": f"Bearer {SIM_KEY}"}
    body = chat_body("gpt-5.2", stream=True)
    async with http.stream("POST", f"{sim.base_url('oa1')}/chat/completions", json=body, headers=headers) as r:
        await r.aread()
    async with http.stream("POST", f"{sim.base_url('z1')}/chat/completions", json=body, headers=headers) as r:
        await r.aread()
    first, second = sim.first("oa1"), sim.first("z1")
    assert first is not None and second is not None
    return (second - first) * 1000


async def _measure(app: App, sim: TimedSimulator, trials: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in ("baseline", "after_429", "gap_429", "direct_gap", "exhausted")}
    out |= {"cooled_hits": [], "exhausted_hits": []}
    for trial in range(trials + 1):  # trial 0 warms up
        await app.states.reset()
        baseline, _ = await _trial(app, sim)
        sim.script("oa1", ["rate_limited"])
        after, served = await _trial(app, sim)
        first, second = sim.first("oa1"), sim.first("z1")
        gap = (second - first) * 1000 if first is not None and second is not None else float("nan")
        before = sim.stats("oa1").requests
        await _trial(app, sim)  # oa1 is cooling now: must not be asked
        cooled_hits = sim.stats("oa1").requests - before
        await app.states.reset()
        now = datetime.now(UTC)
        await app.states.set_exhausted("oa1", None, now + timedelta(hours=1), "bench: known exhausted", now)
        before = sim.stats("oa1").requests
        exhausted, _ = await _trial(app, sim)
        exhausted_hits = sim.stats("oa1").requests - before
        direct = await _direct_gap(app.http, sim)
        if trial == 0:
            continue
        assert served == "z1", f"the 429 trial was served by {served}"
        for key, value in (
            ("baseline", baseline),
            ("after_429", after),
            ("gap_429", gap),
            ("direct_gap", direct),
            ("exhausted", exhausted),
            ("cooled_hits", float(cooled_hits)),
            ("exhausted_hits", float(exhausted_hits)),
        ):
            out[key].append(value)
    return out


async def peer_failover(options: Options) -> dict[str, Any] | None:
    """LiteLLM's failover (defaults and tuned) in the peers' venv, if available; None otherwise."""
    from bench.fixtures import sim_process, speed_accounts
    from bench.timing import PeerWorker, ensure_peers_venv

    if ensure_peers_venv() is not None:
        return None
    with sim_process(speed_accounts()) as proc:
        peer = PeerWorker([proc.base_url("oa1"), proc.base_url("oa2")], SIM_KEY, "gpt-5.2", proc.url)
        try:
            tuned = await peer.ask(op="failover", n=options.pick(30, 8), tuned=True)
            defaults = await peer.ask(op="failover", n=options.pick(8, 4), tuned=False)
        finally:
            peer.close()
    return {"tuned": tuned, "defaults": defaults}


PEER_LABELS = {
    "tuned": "LiteLLM, tuned (num_retries=2, retry_after=0, SDK retries off)",
    "defaults": "LiteLLM, defaults",
}


def _peer_rows(peer: dict[str, Any]) -> list[list[str]]:
    # the no-fault call is the same under both settings: one baseline from every direct trial
    direct = [d for key in PEER_LABELS for d in peer[key]["direct_ms"]]
    base = spread(direct).median
    rows = []
    for key, label in PEER_LABELS.items():
        fail = peer[key]["failover_ms"]
        count = f"{len(fail)} of {len(fail) + len(peer[key]['direct_ms'])}"
        rows.append([label, count, spread(fail).fmt(1), f"**{spread([f - base for f in fail]).fmt(1)}**"])
    return rows


async def run(options: Options) -> Section:
    section = Section("failover", "4. Failover time")
    trials = options.pick(40, 8)
    sim = TimedSimulator(ACCOUNTS)
    async with sim, bench_app(config(sim)) as app:
        with anyio.fail_after(120):
            data = await _measure(app, sim, trials)
    section.data.update(data)
    base = spread(data["baseline"]).median
    added_429 = spread([a - base for a in data["after_429"]])
    added_exh = spread([e - base for e in data["exhausted"]])
    extra_gap = spread([g - d for g, d in zip(data["gap_429"], data["direct_gap"], strict=True)])
    section.add(
        f"{trials} trials against an in-process simulator at 0 ms latency; times are arrivals at the simulator "
        "(perf_counter), in ms, median [min–max].",
        "",
    )
    section.table(
        ["measure", "ms", "target"],
        [
            ["route start → request at the first choice (no fault: baseline)", spread(data["baseline"]).fmt(2), ""],
            ["route start → request at the second choice, first answered 429", spread(data["after_429"]).fmt(2), ""],
            ["**time added by a 429** (above − baseline)", f"**{added_429.fmt(2)}**", "< 5 ms (seed: < 100 ms)"],
            ["gap 429 arrival → second arrival, router", spread(data["gap_429"]).fmt(2), ""],
            ["gap 429 arrival → second arrival, a direct httpx2 client", spread(data["direct_gap"]).fmt(2), ""],
            ["router's extra gap over the direct client", extra_gap.fmt(2), ""],
            ["route start → request at the second choice, first known exhausted", spread(data["exhausted"]).fmt(2), ""],
            ["**time added by a known-exhausted first choice**", f"**{added_exh.fmt(2)}**", "< 5 ms"],
        ],
    )
    cooled = int(sum(data["cooled_hits"]))
    exhausted = int(sum(data["exhausted_hits"]))
    section.add(
        f"Requests sent to an account known to be cooling (the request right after the 429): **{cooled}** in "
        f"{trials} trials; to an account known to be exhausted: **{exhausted}** in {trials} trials (target 0).",
        "",
    )
    peer = await peer_failover(options)
    if peer is None:
        section.add("LiteLLM's failover: not measured (the peers' venv is unavailable).")
    else:
        section.data["litellm"] = peer
        section.add(
            "LiteLLM's Router, same two deployments on a simulator process, one answering every request with a 429 "
            "(Retry-After: 1). LiteLLM picks a deployment at random, so only trials that hit the 429 first are "
            "failovers; time added = failover call − median direct call (ms). A fresh Router each trial, so no "
            "cooldown is remembered:",
            "",
        )
        section.table(["peer", "failover trials", "failover call, ms", "time added, ms"], _peer_rows(peer))
    return section
