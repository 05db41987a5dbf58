"""`provider-router models [PROVIDER] [--refresh] [--refresh-prices] [--json]`: which models each account can use.

Renders server.views.models (the stored listings); `--refresh` fetches them first, `--refresh-prices` first rewrites
the prices of the user's catalog.json from the installed genai-prices (a move of more than 5x is held back).
"""

from __future__ import annotations

import argparse
from typing import Any

from providers.catalog import genai_prices_for
from providers.catalog_overlay import OverlayError, PriceLookup, PriceRefresh, refresh_overlay_prices
from server.cli.common import UserError, cli_app, emit_json, run, say
from server.views import AccountModels, ModelRow, ModelsReport, models_report
from server.wiring import refresh_listings

#: where prices come from (tests replace it: the installed genai-prices version must not decide a test)
PRICE_LOOKUP: PriceLookup = genai_prices_for


async def _gather(args: argparse.Namespace) -> tuple[ModelsReport, PriceRefresh | None]:
    async with cli_app(require=True) as app:
        try:
            prices = None
            if args.refresh_prices:
                prices = refresh_overlay_prices(app.paths.catalog_file, app.clock().date(), PRICE_LOOKUP)
                app.refresh()
            if args.refresh:
                if args.provider is not None and args.provider not in app.config.providers:
                    await models_report(app, args.provider)  # raises, naming the configured providers
                await refresh_listings(app, only=args.provider, force=True)
            return await models_report(app, args.provider), prices
        except (ValueError, OverlayError) as error:
            raise UserError(str(error)) from error


def _price(value: float | None) -> str:
    return "?" if value is None else f"${value:g}"


def _line(row: ModelRow) -> str:
    note = " (configured)" if row.configured else ""
    retired = f", retires {row.retired_on}" if row.retired_on else ""
    prices = f"{_price(row.input_cost_per_1m)}/{_price(row.output_cost_per_1m)} per 1M"
    return f"  {row.status:<13} {row.id}{note}: {row.context_window:,} context, {prices}{retired}"


def _print_account(account: AccountModels) -> None:
    when = f"listed {account.fetched_at:%Y-%m-%d %H:%M} UTC" if account.fetched_at else "no listing"
    stale = ", stale" if account.stale and account.fetched_at else ""
    say(f"{account.provider} · {account.account} ({account.kind}; {when}{stale})")
    if account.error:
        say(f"  ! {account.error}")
    for row in account.models:
        say(_line(row))


def _print_prices(prices: PriceRefresh) -> None:
    say(f"prices: {len(prices.applied)} updated, {prices.unchanged} unchanged")
    for label, names in (("updated", prices.applied), ("held back", prices.held_back), ("unknown", prices.unknown)):
        for name in names:
            say(f"  {label}: {name}")


def models(args: argparse.Namespace) -> int:
    """The verb: exit 1 when an account has no usable listing (its line says why and how to fix it)."""
    report, prices = run(lambda: _gather(args))
    if args.json:
        data: dict[str, Any] = report.model_dump(mode="json")
        if prices is not None:
            data["prices"] = {
                "applied": prices.applied,
                "held_back": prices.held_back,
                "unknown": prices.unknown,
                "unchanged": prices.unchanged,
            }
        emit_json(data)
    else:
        if prices is not None:
            _print_prices(prices)
        for account in report.accounts:
            _print_account(account)
        rows = [row for account in report.accounts for row in account.models]
        if not report.auto_discover and any(row.status == "uncatalogued" and not row.configured for row in rows):
            say('uncatalogued models outside providers.json are not routed to; "preferences.autoDiscover": true does')
    return 1 if report.problems else 0
