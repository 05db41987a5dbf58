"""A configuration naming a model that has since retired keeps working: through MCP the request routes to the
catalogue's replacement and every surface says so (dry run, status, list, decision log); `config validate` and
`doctor` warn with the edit that removes the warning, 30 days ahead as well. Every clock here is fixed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from server.cli.doctor import retirement_notices
from server.config.load import config_from_data, parse_config
from server.views import decision_log, providers_view
from tests.clock import FixedClock
from tests.harness import seed_app
from tests.routing.e2e import ask
from tests.server.mcp_support import mcp_session, text_of

pytestmark = pytest.mark.anyio

#: the line-up's models never retire: these tests configure two that do, in place of Kimi's and Google's
RETIRING = {"kimi": "kimi-k2.6", "google": "gemini-2.5-flash"}
AFTER = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)  # gemini-2.5-flash retired 2026-12-01
BEFORE = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
NOTE = "gemini-2.5-flash retired 2026-12-01 → gemini-3.5-flash-lite"
EDIT = 'replace "gemini-2.5-flash" with "gemini-3.5-flash-lite" in providers.google.models'


async def test_a_config_naming_a_retired_model_routes_to_its_replacement_and_the_dry_run_shows_it(
    tmp_path: Path,
) -> None:
    async with mcp_session(tmp_path, clock=FixedClock(AFTER), models=RETIRING) as s:
        dry = await s.call("route_and_complete", prompt="Summarize this line", task_type="simple", dry_run=True)
        with anyio.fail_after(20):
            served = await s.ok("route_and_complete", prompt="Summarize this line", task_type="simple")
        sent = s.sim.requests(served["account"])[-1]
    out = dry.structured_content
    assert out is not None and (out["provider"], out["model"]) == ("google", "gemini-3.5-flash-lite")
    assert out["candidates"][0]["substitution"] == NOTE
    assert f"routed as the replacement: {NOTE}" in out["explanation"]
    assert text_of(dry).endswith(NOTE)
    assert (served["provider"], served["model"]) == ("google", "gemini-3.5-flash-lite")
    assert "gemini-3.5-flash-lite" in sent.path


async def test_status_list_and_the_decision_log_show_the_substitution(tmp_path: Path) -> None:
    async with mcp_session(tmp_path, clock=FixedClock(AFTER), models=RETIRING) as s:
        with anyio.fail_after(20):
            await s.ok("route_and_complete", prompt="Summarize this line", task_type="simple")
        status = await s.ok("provider_status")
        listed = await providers_view(s.app, now=AFTER)
        logged = await decision_log(s.app, 5)
    google = next(p for p in status["providers"] if p["id"] == "google")
    assert google["retired_models"] == [
        {"model": "gemini-2.5-flash", "routed_as": "gemini-3.5-flash-lite", "note": NOTE}
    ]
    assert f"$.providers.google.models: {NOTE}; to remove this warning, {EDIT}" in status["retirements"]
    model = next(m for p in listed.providers if p.id == "google" for m in p.models)
    assert (model.id, model.routed_as, model.retirement) == ("gemini-2.5-flash", "gemini-3.5-flash-lite", NOTE)
    assert logged.decisions[0].substitution == NOTE


async def test_a_model_not_found_answer_retires_the_model_and_its_replacement_serves_from_then_on(
    tmp_path: Path,
) -> None:
    async with seed_app(tmp_path, clock=FixedClock(BEFORE), models=RETIRING) as (app, sim):
        for n in (1, 2, 3):
            sim.configure(f"google-{n}", models={"gemini-3.5-flash-lite": 1_000_000})
        with anyio.fail_after(20):
            first = await app.router.route(ask("Summarize this line", task_type="simple"))
            second = await app.router.route(ask("Summarize this line", task_type="simple"))
        status = await providers_view(app, now=BEFORE)
    assert [a.error_class for a in first.attempts][0] == "model_not_found"
    assert (second.provider, second.model) == ("google", "gemini-3.5-flash-lite")
    assert [a.error_class for a in second.attempts] == [None]
    google = next(p for p in status.providers if p.id == "google")
    assert google.models[0].retirement == (
        "gemini-2.5-flash retired (the provider answered model_not_found) → gemini-3.5-flash-lite"
    )


async def test_status_warns_thirty_days_ahead_of_a_configured_models_retirement(tmp_path: Path) -> None:
    async with mcp_session(tmp_path, clock=FixedClock(BEFORE), models=RETIRING) as s:
        status = await s.ok("provider_status")
        with anyio.fail_after(20):
            served = await s.ok("route_and_complete", prompt="Summarize this line", task_type="simple")
    assert served["model"] == "gemini-2.5-flash"  # not retired yet: no substitution
    assert (
        "$.providers.google.models: gemini-2.5-flash retires 2026-12-01, then routes as gemini-3.5-flash-lite; "
        f"to remove this warning, {EDIT}"
    ) in status["retirements"]


async def test_nothing_is_warned_about_more_than_thirty_days_ahead(tmp_path: Path) -> None:
    async with mcp_session(tmp_path, clock=FixedClock(datetime(2026, 10, 31, 18, 0, tzinfo=UTC)), models=RETIRING) as s:
        status = await s.ok("provider_status")
    assert status["retirements"] == []


async def test_doctor_warns_of_a_retired_model_with_the_edit_that_removes_the_warning(tmp_path: Path) -> None:
    async with seed_app(tmp_path, clock=FixedClock(AFTER), models=RETIRING) as (app, _):
        notices = await retirement_notices(app)
    assert [(n.provider, n.model, n.text, n.edit) for n in notices] == [
        ("kimi", "kimi-k2.6", "kimi-k2.6 retires 2026-12-31, then routes as kimi-k3.1-pro",
         'replace "kimi-k2.6" with "kimi-k3.1-pro" in providers.kimi.models'),
        ("google", "gemini-2.5-flash", NOTE, EDIT),
    ]  # fmt: skip


async def test_doctor_warns_thirty_days_ahead(tmp_path: Path) -> None:
    async with seed_app(tmp_path, clock=FixedClock(BEFORE), models=RETIRING) as (app, _):
        notices = await retirement_notices(app)
    assert [(n.model, n.text) for n in notices] == [
        ("gemini-2.5-flash", "gemini-2.5-flash retires 2026-12-01, then routes as gemini-3.5-flash-lite")
    ]


def test_config_validation_warns_of_a_retired_model_with_the_edit() -> None:
    config = config_from_data(
        {"providers": {"google": {"models": {"gemini-2.5-flash": {}}}}},
        source="providers.json",
        environ={},
        today=date(2026, 12, 4),
    )
    assert f"$.providers.google.models: {NOTE}; to remove this warning, {EDIT}" in config.warnings
    assert config.providers["google"].successors["gemini-2.5-flash"].id == "gemini-3.5-flash-lite"


def test_a_retired_model_whose_replacement_is_configured_too_is_warned_to_be_removed() -> None:
    config = config_from_data(
        {"providers": {"google": {"models": ["gemini-2.5-flash", "gemini-3.5-flash-lite"]}}},
        source="providers.json",
        environ={},
        today=date(2026, 12, 4),
    )
    assert (
        "$.providers.google.models: gemini-2.5-flash retired 2026-12-01; google already serves its replacement "
        'gemini-3.5-flash-lite, so it drops out; to remove this warning, remove "gemini-2.5-flash" from '
        "providers.google.models"
    ) in config.warnings


def test_a_provider_without_a_models_list_follows_the_catalogue_without_retirement_warnings() -> None:
    config = config_from_data(
        {"providers": {"google": {}}}, source="providers.json", environ={}, today=date(2026, 11, 20)
    )
    assert not [w for w in config.warnings if "retire" in w]
    assert "gemini-2.5-flash" in config.providers["google"].models


def test_the_readmes_example_configuration_names_no_model_retiring_within_a_year() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```jsonc\n(\{\n  \"providers\".*?)\n```", readme, re.S)
    assert example is not None, "the README's example configuration moved"
    written = date(2026, 12, 4)  # when the example was last brought up to date
    config = parse_config(example.group(1), source="README.md", environ={"MOONSHOT_API_KEY": "x"}, today=written)
    models = [m for p in config.providers.values() if not p.models_from_catalog for m in p.models.values()]
    assert models and not [m.id for m in models if m.retired_on and m.retired_on <= written + timedelta(days=365)]
    assert not [w for w in config.warnings if "retire" in w]


def test_a_paid_retired_model_routes_as_a_paid_successor_even_when_the_successor_has_a_free_tier() -> None:
    from providers.catalog import load_catalog
    from server.config.lifecycle import successors_of

    catalog = load_catalog()
    billed = catalog.get("google", "gemini-2.5-flash")
    assert billed is not None and billed.free_tier  # the catalogue's own entry has a free tier...
    chains = successors_of(catalog, "google", [billed.model_copy(update={"free_tier": False})])
    assert not chains["gemini-2.5-flash"].free_tier  # ...but the user said this account pays: so does its successor
    pro = catalog.get("google", "gemini-2.5-pro")
    assert pro is not None and not pro.free_tier
    assert not successors_of(catalog, "google", [pro])["gemini-2.5-pro"].free_tier
    assert successors_of(catalog, "google", [billed])["gemini-2.5-flash"].free_tier  # free stays free
