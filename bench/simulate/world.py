"""The simulated providers: the seed's line-up (providers/simulator/lineup.py) with real free-tier limits, on a
simulator driven by the day's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio.lowlevel

from bench.fixtures import SIM_KEY
from providers.simulator import Simulator
from providers.simulator.lineup import GOOGLE_ACCOUNTS, Lineup
from routing.preferences import BudgetMode

#: Gemini's free tier per project (PROVIDER_FACTS: 5 RPM / 20 RPD since Dec 2025)
GOOGLE_RPM, GOOGLE_RPD = 5, 20
#: every answer is this long (a typical sub-task reply)
OUTPUT_TOKENS = 400
#: the models REPORT.md's figures were measured on, kept so runs compare like for like; the day runs on 2026-11-28
#: (workload.DAY_START), before either retires, and the router's clock is the day's
DAY_MODELS = {"kimi": "kimi-k2.6", "google": "gemini-2.5-flash"}
DAY_LINEUP = Lineup(
    api_key=SIM_KEY, key_variable="SIM_KEY", google_daily=GOOGLE_RPD, google_rpm=GOOGLE_RPM, models=DAY_MODELS
)

__all__ = ["GOOGLE_ACCOUNTS", "GOOGLE_RPD", "DAY_LINEUP", "OUTPUT_TOKENS", "DayClock", "new_simulator", "router_config"]


@dataclass
class DayClock:
    """The simulated time: the router reads a datetime, the simulator epoch seconds, the driver moves both."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    async def pace(self, seconds: float) -> None:
        """The simulator's latency profiles spent on the day's clock (the client reads what was sent first)."""
        for _ in range(50):
            await anyio.lowlevel.checkpoint()
        self.now += timedelta(seconds=seconds)


def new_simulator(clock: DayClock) -> Simulator:
    """Each account serves only its model, within the catalogue's window; every answer is OUTPUT_TOKENS long."""
    accounts = DAY_LINEUP.accounts(declare_models=True, output_tokens=OUTPUT_TOKENS)
    return Simulator(accounts, clock=clock.epoch, pace=clock.pace)


def router_config(sim: Simulator, budget_mode: BudgetMode) -> dict[str, Any]:
    """The seed's example configuration (preferences included) pointed at the simulator, in `budget_mode`."""
    return DAY_LINEUP.config(sim, budgetMode=budget_mode)
