"""Tests never depend on today's date: servers that tests start read the machine's clock, so the models they route to
must have no retirement date in the catalogue (in-process tests pass a fixed clock instead: tests/clock.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from providers.catalog import load_catalog
from providers.simulator.lineup import LINEUP
from providers.vendors import vendor_for
from tests.clock import FIXED_NOW, FixedClock, moved_clock_environ
from tests.reliability.support import BACKUP_MODEL, KINDS


def _catalogue_provider(provider_id: str) -> str:
    vendor = vendor_for(provider_id)
    assert vendor is not None, provider_id
    return vendor.catalog


def test_the_models_of_the_servers_tests_start_are_never_scheduled_to_retire() -> None:
    catalog = load_catalog()
    scheduled = []
    for provider_id, (_flavour, model_id) in {**KINDS, "openai-backup": ("openai", BACKUP_MODEL)}.items():
        profile = catalog.get(_catalogue_provider(provider_id.removesuffix("-backup")), model_id)
        assert profile is not None, f"{provider_id}/{model_id} is not in the catalogue"
        if profile.retired_on is not None:
            scheduled.append(f"{provider_id}/{model_id} retires {profile.retired_on}")
    assert not scheduled, "pick a model with no retired_on for tests/reliability/support.py KINDS: " + "; ".join(
        scheduled
    )


def test_the_shared_line_up_names_catalogued_models_no_date_can_retire() -> None:
    """The demo, the simulated day and every test world route to providers/simulator/lineup.py's models."""
    catalog = load_catalog()
    for seat in LINEUP:
        assert seat.catalog == _catalogue_provider(seat.provider), seat
        profile = catalog.get(seat.catalog, seat.model)
        assert profile is not None, f"{seat.provider}/{seat.model} is not in the catalogue"
        assert profile.retired_on is None, f"pick a model with no retired_on for the line-up's {seat.provider}"


def test_the_fixed_clock_moves_only_when_a_test_moves_it() -> None:
    clock = FixedClock()
    assert clock() == clock() == FIXED_NOW
    clock.advance(hours=25)
    assert clock() - FIXED_NOW == (datetime(2026, 1, 2, 1, tzinfo=UTC) - datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.epoch() == clock().timestamp()


def test_a_faketime_run_hands_its_moved_clock_to_the_servers_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n == "LD_PRELOAD" or n.startswith("FAKETIME")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
    monkeypatch.setenv("FAKETIME", "+730d")
    monkeypatch.setenv("UNRELATED", "x")
    assert moved_clock_environ() == {
        "LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "FAKETIME": "+730d",
    }
