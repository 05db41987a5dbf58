"""Run the chosen parts and write the report: the machine and the command first, then one section per part."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import coldstart, decide_cost, failover, http_serve, mcp_overhead, overhead, profile, rollups, shared_store
from bench.common import BENCH, RESULTS, ROOT, Options, Section, load_average, machine
from bench.simulate import day, latency_day, quotas
from bench.timing import peer_versions

Part = Callable[[Options], Awaitable[Section]]


async def _decide(options: Options) -> Section:
    return decide_cost.run(options)


PARTS: dict[str, Part] = {
    "decide": _decide,
    "overhead": overhead.run,
    "mcp": mcp_overhead.run,
    "failover": failover.run,
    "coldstart": coldstart.run,
    "store": shared_store.run,
    "simulate": day.run,
    "quotas": quotas.run,
    "latency": latency_day.run,
    "profile": profile.run,
    "http": http_serve.run,
    "rollups": rollups.run,
}


def _git_head() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", ".", ":!bench"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    dirty = " + uncommitted changes outside bench/" if status.stdout.strip() else ""
    return (out.stdout.strip() or "unknown") + dirty


def _header(command: str, options: Options, started: datetime, seconds: float, loads: list[str]) -> list[str]:
    info = machine()
    peers = peer_versions()
    lines = [
        "# provider-router benchmarks",
        "",
        f"Generated {started:%Y-%m-%d %H:%M} UTC by `{command}` at commit `{_git_head()}` in {seconds:.0f} s"
        + (" (**--quick: smoke-run sizes, the numbers only show the shape**)" if options.quick else "")
        + ".",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {info['cpu']} × {info['cores']} cores |",
        f"| memory | {info['memory']} |",
        f"| OS | {info['os']} |",
        f"| Python | {info['python']} (project: .venv; peers: bench/.venv-peers) |",
        f"| peers | {', '.join(f'{k} {v}' for k, v in peers.items()) or 'not installed'} |",
        f"| load average (1/5/15 min) at each part's start | {'; '.join(loads)} |",
        "",
        "Other work ran on this machine at the same time (other sessions' test suites), so absolute times "
        "carry noise; every figure is a median over repeated rounds with its [min–max], and peers are measured "
        "in the same rounds, interleaved, so ratios are fairer than absolutes.",
        "",
    ]
    return lines


#: the hand-written section at the end of REPORT.md (what each speed step did, what is missed): kept across runs
NOTES_HEADING = "## Speed work: what each step did, and what is missed"


def _kept_notes(report: Path) -> list[str]:
    """The hand-written notes section of `report` (from its heading to the end), to be carried into the new one."""
    text = report.read_text() if report.exists() else ""
    start = text.find(NOTES_HEADING)
    return ["", *text[start:].rstrip().splitlines()] if start >= 0 else []


async def run_parts(parts: list[str], quick: bool, output: str | None, argv: list[str]) -> int:
    """Run `parts` in order, write the markdown report and the raw numbers (bench/results/*.json)."""
    logging.basicConfig(level=logging.WARNING)
    options = Options(quick=quick)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    sections: list[Section] = []
    loads: list[str] = []
    for name in parts:
        loads.append(f"{name} {load_average()}")
        print(f"[bench] {name} ...", flush=True)
        part_started = time.perf_counter()
        section = await PARTS[name](options)
        print(f"[bench] {name} done in {time.perf_counter() - part_started:.0f} s", flush=True)
        sections.append(section)
    command = "python -m bench" + (" " + " ".join(argv) if argv else "")
    lines = _header(command, options, started, time.perf_counter() - clock, loads)
    for section in sections:
        lines += [f"## {section.title}", "", *section.lines, ""]
    # only a run of every part replaces the committed report; a partial run writes beside the raw numbers
    default = BENCH / "REPORT.md" if parts == list(PARTS) else RESULTS / f"REPORT-{'-'.join(parts)}.md"
    target = Path(output) if output else default
    RESULTS.mkdir(exist_ok=True)
    lines += _kept_notes(BENCH / "REPORT.md")
    target.write_text("\n".join(lines).rstrip() + "\n")
    RESULTS.mkdir(exist_ok=True)
    for section in sections:
        (RESULTS / f"{section.key}.json").write_text(json.dumps(section.data, indent=1, default=str))
    print(f"[bench] wrote {target}", flush=True)
    return 0
