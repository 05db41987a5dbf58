"""A loopback simulator of the OpenAI, Anthropic and Gemini wires, for tests, the demo and the benchmarks.

    async with Simulator(SimSpec(accounts=(SimAccount(id="oa", kind="openai", rpm=3),)), clock=clock) as sim:
        base_url = sim.base_url("oa")          # http://127.0.0.1:PORT/oa/v1
        sim.script("oa", ["rate_limited", None])  # the next request gets a 429, the one after a normal answer
        sim.set_down("oa", "overloaded")        # every request fails until set_down("oa", None)
        sim.script("oa", ["nan_usage"])         # a 200 whose usage no provider could mean (HOSTILE_FAULTS)
        sim.requests("oa"), sim.stats("oa"), sim.reset_counters()

Another process: `python -m providers.simulator --spec FILE.json [--port N]` prints `READY http://127.0.0.1:PORT`
and serves until SIGTERM/SIGINT; `/_sim/...` endpoints script it over HTTP (see `control.CONTROL_HELP`).
"""

from providers.simulator.core import Simulator
from providers.simulator.spec import (
    FAULTS,
    HOSTILE_FAULTS,
    AccountStats,
    AnyFault,
    Fault,
    Flavour,
    HostileFault,
    SimAccount,
    SimRequest,
    SimSpec,
)

__all__ = [
    "FAULTS",
    "HOSTILE_FAULTS",
    "AccountStats",
    "AnyFault",
    "Fault",
    "Flavour",
    "HostileFault",
    "SimAccount",
    "SimRequest",
    "SimSpec",
    "Simulator",
]
