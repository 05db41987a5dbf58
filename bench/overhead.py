"""Part 2: what the router adds to a request, against a direct HTTP call and against LiteLLM's Router.

One simulator process (0 ms latency) serves everything. This process times our in-process router and the direct
httpx2 floor; the peer worker (its own venv) times LiteLLM's Router, aiohttp and httpx2 against the same simulator.
Rounds interleave every subject, so load from other work on the machine falls on all of them alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx2

from bench.common import Options, Section, ratio, spread
from bench.fixtures import MODEL, PROMPT, SIM_KEY, SimProcess, bench_app, chat_body, sim_process, speed_accounts
from bench.timing import PeerWorker, Round, ensure_peers_venv, timed_round
from providers.types import Message
from routing.router import Router, RouteRequest

MODES = (("sequential", 1), ("8 concurrent", 8), ("32 concurrent", 32), ("64 concurrent", 64))
OURS = ("ours", "httpx2_stream", "httpx2")
THEIRS = ("litellm", "httpx2", "aiohttp")


def pool_config(sim: SimProcess, model: str = MODEL) -> dict[str, Any]:
    """Our router over the same two deployments LiteLLM gets: one provider, a round-robin pool of two accounts."""
    accounts = [{"id": a, "apiKey": "${SIM_KEY}", "baseUrl": sim.base_url(a)} for a in ("oa1", "oa2")]
    return {
        "providers": {"openai": {"accounts": accounts, "loadBalancing": "round_robin", "models": {model: {}}}},
        "preferences": {"default": "openai", "budgetMode": "quality_first"},
    }


def route_call(router: Router) -> Callable[[], Awaitable[object]]:
    request = RouteRequest(messages=(Message(role="user", content=PROMPT),))
    return lambda: router.route(request)


def direct_calls(http: httpx2.AsyncClient, url: str) -> dict[str, Callable[[], Awaitable[object]]]:
    """The floors: the same endpoint called directly, streamed (as our adapter does) and as one JSON body."""
    headers = {"authorization": f"Bearer {SIM_KEY}"}

    async def streamed() -> None:
        async with http.stream("POST", url, json=chat_body(stream=True), headers=headers) as response:
            response.raise_for_status()
            await response.aread()

    async def whole() -> None:
        response = await http.post(url, json=chat_body(stream=False), headers=headers)
        response.raise_for_status()
        response.json()

    return {"httpx2_stream": streamed, "httpx2": whole}


class Sizes:
    def __init__(self, options: Options) -> None:
        self.rounds = options.pick(5, 2)
        self.sequential = options.pick(200, 30)
        self.concurrent = options.pick(640, 128)

    def n(self, concurrency: int) -> int:
        # at least ten calls per worker, so the round is not mostly its own start and end
        return self.sequential if concurrency == 1 else max(self.concurrent, concurrency * 10)


async def _rounds(
    ours: dict[str, Callable[[], Awaitable[object]]], peer: PeerWorker | None, sizes: Sizes
) -> dict[str, dict[str, list[Round]]]:
    results: dict[str, dict[str, list[Round]]] = {mode: {} for mode, _ in MODES}
    for index in range(sizes.rounds + 1):  # round 0 warms connections, tokenizer and LiteLLM's caches
        for mode, concurrency in MODES:
            n = sizes.n(concurrency)
            measured: dict[str, Round] = {}
            for name in OURS:
                measured[name] = await timed_round(ours[name], n, concurrency)
            if peer is not None:
                for name in THEIRS:
                    measured[f"peer:{name}"] = await peer.round(name, n, concurrency)
            if index > 0:
                for name, result in measured.items():
                    results[mode].setdefault(name, []).append(result)
    return results


def _overheads(subject: list[Round], floor: list[Round], attr: str) -> list[float]:
    return [getattr(s, attr) - getattr(f, attr) for s, f in zip(subject, floor, strict=True)]


LABELS = {
    "ours": "**ours** (app.router.route)",
    "httpx2_stream": "httpx2 direct, streamed (our floor)",
    "httpx2": "httpx2 direct, JSON",
    "peer:litellm": "**LiteLLM Router** (acompletion)",
    "peer:httpx2": "httpx2 direct, JSON, in the peers' process (LiteLLM's floor)",
    "peer:aiohttp": "aiohttp direct, JSON, in the peers' process",
}


def _report(section: Section, results: dict[str, dict[str, list[Round]]], sizes: Sizes) -> None:
    for mode, concurrency in MODES:
        runs = results[mode]
        section.add(f"**{mode}** ({sizes.n(concurrency)} requests a round, {sizes.rounds} rounds):", "")
        rows = []
        for name, label in LABELS.items():
            if name not in runs:
                continue
            rs = runs[name]
            errors = sum(r.errors for r in rs)
            rows.append(
                [
                    label,
                    spread([r.p50 for r in rs]).fmt(2),
                    spread([r.p99 for r in rs]).fmt(2),
                    spread([r.throughput for r in rs]).fmt(0),
                    spread([r.peak_rss_mb for r in rs]).fmt(0),
                    str(errors),
                ]
            )
        section.table(["subject", "p50 ms", "p99 ms", "requests/s", "peak RSS MB", "errors"], rows)
        ours50 = spread(_overheads(runs["ours"], runs["httpx2_stream"], "p50"))
        ours99 = spread(_overheads(runs["ours"], runs["httpx2_stream"], "p99"))
        section.data[mode] = {
            name: [
                {"p50": r.p50, "p99": r.p99, "rps": r.throughput, "rss_mb": r.peak_rss_mb, "errors": r.errors}
                for r in rs
            ]
            for name, rs in runs.items()
        }
        lines = [
            f"- ours adds p50 **{ours50.fmt(2)} ms**, p99 **{ours99.fmt(2)} ms** over its floor "
            "(target p50 ≤ 1 ms, p99 ≤ 3 ms)."
        ]
        if "peer:litellm" in runs:
            lite50 = spread(_overheads(runs["peer:litellm"], runs["peer:httpx2"], "p50"))
            lite99 = spread(_overheads(runs["peer:litellm"], runs["peer:httpx2"], "p99"))
            ours_rps = spread([r.throughput for r in runs["ours"]]).median
            lite_rps = spread([r.throughput for r in runs["peer:litellm"]]).median
            ours_rss = spread([r.peak_rss_mb for r in runs["ours"]]).median
            lite_rss = spread([r.peak_rss_mb for r in runs["peer:litellm"]]).median
            lines += [
                f"- LiteLLM adds p50 **{lite50.fmt(2)} ms**, p99 **{lite99.fmt(2)} ms** over its floor.",
                f"- LiteLLM's overhead ÷ ours: p50 **{ratio(ours50.median, lite50.median)}**, "
                f"p99 **{ratio(ours99.median, lite99.median)}** (target ≥ 8×).",
                f"- throughput, ours ÷ LiteLLM: **{ratio(lite_rps, ours_rps)}**"
                + (" (target ≥ 3× at 32 concurrent)." if concurrency == 32 else "."),
                f"- peak RSS of the client process: ours **{ours_rss:.0f} MB**, LiteLLM's **{lite_rss:.0f} MB** "
                "(each process also holds its floors' clients).",
            ]
        section.add(*lines, "")


async def run(options: Options) -> Section:
    """Rounds of ours, the direct floors and the peers, side by side against one simulator process."""
    section = Section("overhead", "2. Router overhead: in-process router vs direct HTTP vs LiteLLM's Router")
    sizes = Sizes(options)
    problem = ensure_peers_venv()
    with sim_process(speed_accounts()) as sim:
        async with bench_app(pool_config(sim)) as app:
            ours = {"ours": route_call(app.router)} | direct_calls(app.http, f"{sim.base_url('oa1')}/chat/completions")
            peer = None if problem else PeerWorker([sim.base_url("oa1"), sim.base_url("oa2")], SIM_KEY, MODEL, sim.url)
            try:
                results = await _rounds(ours, peer, sizes)
            finally:
                if peer is not None:
                    peer.close()
    section.add(
        "Every request goes to one simulator process at 0 ms latency (a 16-token reply); the client under test "
        "runs in another process, so on 2 cores each side has one. Ours routes through `app.router.route` "
        "(analyse with task-type inference, snapshot, decide, reserve, streamed call, settle, decision log, "
        "conversation save) over a round-robin pool of two accounts; LiteLLM's Router gets the same two "
        "deployments with its default settings. Overhead = subject − its own floor, per round (ours streams, "
        "as its adapters do, so its floor is a streamed httpx2 call; LiteLLM makes a JSON call). "
        "Figures: median [min–max] over rounds.",
        "",
    )
    if problem:
        section.add(f"**LiteLLM not measured:** {problem}", "")
    _report(section, results, sizes)
    return section
