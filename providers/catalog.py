"""The model catalogue: what each known vendor's models can do and cost, loaded from `catalog.json` (data, not code).

`load_catalog()` is a pure, cached data load (no genai-prices import: start-up time matters). Prices that come from
the `genai-prices` package are copied into the JSON by `python -m providers.catalog --refresh-prices`; a test keeps
them equal to the package's. Lookups take the catalogue id of a vendor (`providers.vendors.Vendor.catalog`:
openai, anthropic, google, zai, moonshot, deepseek, groq) and a model id or one of its aliases, case-insensitively.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from providers.clock import system_clock
from providers.models import ModelProfile, QuotaSpec
from providers.types import Frozen
from providers.vendors import vendor_for

CATALOG_PATH = Path(__file__).with_name("catalog.json")
GENAI_PRICES = "genai-prices"
_ENTRY_EXTRAS = ("aliases", "price_source", "genai_prices_model", "notes")
_PRICE_FIELDS = ("input_cost_per_1m", "output_cost_per_1m", "cache_read_cost_per_1m", "cache_write_cost_per_1m")


class CatalogError(ValueError):
    """catalog.json is malformed (a packaging bug, never a user error)."""


class CatalogEntry(Frozen):
    """One model with the facts that are about the catalogue itself rather than the model."""

    profile: ModelProfile
    aliases: tuple[str, ...] = ()
    #: "genai-prices", or a human-readable source for prices genai-prices does not know
    price_source: str
    #: the model reference genai-prices knows this model by, when it differs from the id
    genai_prices_model: str | None = None
    notes: str = ""


class ProviderCatalog(Frozen):
    """The models of one catalogue id, plus vendor facts the config needs (reset zone, free-tier limits)."""

    id: str
    label: str
    genai_prices_provider: str | None = None
    #: IANA zone in which the vendor's daily quotas reset
    quota_timezone: str = "UTC"
    #: the vendor's documented free-tier limits, if any (what an account's `"limit": "free_tier"` stands for)
    free_tier_quota: QuotaSpec | None = None
    notes: str = ""
    entries: tuple[CatalogEntry, ...] = Field(default_factory=tuple)


@dataclass(frozen=True)
class Catalog:
    """Read-only lookups over the catalogue; build it with `load_catalog()` or `parse_catalog()`."""

    providers: Mapping[str, ProviderCatalog]
    prices_as_of: date
    _index: dict[tuple[str, str], CatalogEntry] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for provider in self.providers.values():
            for entry in provider.entries:
                for name in (entry.profile.id, *entry.aliases):
                    self._index.setdefault((provider.id, name.lower()), entry)

    def _catalog_id(self, provider: str) -> str:
        key = provider.lower()
        if key in self.providers:
            return key
        vendor = vendor_for(key)
        return vendor.catalog if vendor is not None else key

    def provider(self, provider: str) -> ProviderCatalog | None:
        """The catalogue section of a catalogue id (a known vendor id or alias also works)."""
        return self.providers.get(self._catalog_id(provider))

    def entry(self, provider: str, model: str) -> CatalogEntry | None:
        """The catalogue entry for a model id or alias, if the catalogue knows it."""
        return self._index.get((self._catalog_id(provider), model.lower()))

    def get(self, provider: str, model: str) -> ModelProfile | None:
        """The profile of a model id or alias (its `id` is the canonical API id), or None if unknown."""
        entry = self.entry(provider, model)
        return entry.profile if entry is not None else None

    def models(self, provider: str) -> tuple[ModelProfile, ...]:
        """Every model of a provider, retired ones included (they are flagged by `retired_on`)."""
        section = self.provider(provider)
        return tuple(entry.profile for entry in section.entries) if section is not None else ()

    def highest_prices(self, provider: str) -> tuple[float, float]:
        """The highest input and output prices per 1M tokens among a provider's catalogue models, or among the whole
        catalogue's when it lists none: the conservative stand-in for a model whose prices nobody gave."""
        for models in (self.models(provider), tuple(e.profile for p in self.providers.values() for e in p.entries)):
            highest = (
                max((m.input_cost_per_1m for m in models), default=0.0),
                max((m.output_cost_per_1m for m in models), default=0.0),
            )
            if any(highest):
                return highest
        return highest

    def current_models(self, provider: str, today: date) -> tuple[ModelProfile, ...]:
        """The models still served on `today`."""
        return tuple(model for model in self.models(provider) if not model.is_retired(today))

    def is_retired(self, provider: str, model: str, today: date) -> bool:
        """True when the catalogue knows the model and it no longer serves on `today`."""
        profile = self.get(provider, model)
        return profile is not None and profile.is_retired(today)

    def replacement(self, provider: str, model: str, today: date | None = None) -> ModelProfile | None:
        """The vendor's successor of a model; with `today`, follows the chain to one that still serves."""
        profile = self.get(provider, model)
        seen: set[str] = set()
        while profile is not None and profile.replacement is not None and profile.id not in seen:
            seen.add(profile.id)
            successor = self.get(provider, profile.replacement)
            if successor is None or today is None or not successor.is_retired(today):
                return successor
            profile = successor
        return None


def _parse_entry(provider_id: str, raw: Mapping[str, Any]) -> CatalogEntry:
    fields = {key: value for key, value in raw.items() if key not in _ENTRY_EXTRAS}
    fields["capabilities"] = frozenset(fields.get("capabilities", ()))
    profile = ModelProfile(provider=provider_id, **fields)
    extras = {key: raw[key] for key in _ENTRY_EXTRAS if key in raw}
    return CatalogEntry(profile=profile, **extras)


def parse_catalog(data: Mapping[str, Any]) -> Catalog:
    """Validate the decoded catalog.json into a `Catalog`.

    Raises:
        CatalogError: an entry is not a valid `ModelProfile` or a section is malformed.
    """
    try:
        sections: dict[str, ProviderCatalog] = {}
        for provider_id, raw in data["providers"].items():
            body = {key: value for key, value in raw.items() if key != "models"}
            entries = tuple(_parse_entry(provider_id, model) for model in raw["models"])
            sections[provider_id] = ProviderCatalog(id=provider_id, entries=entries, **body)
        return Catalog(providers=sections, prices_as_of=date.fromisoformat(data["prices_as_of"]))
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise CatalogError(f"{CATALOG_PATH.name} is malformed: {exc}") from exc


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The bundled catalogue, parsed once per process.

    Raises:
        CatalogError: the bundled file is malformed.
    """
    return parse_catalog(json.loads(CATALOG_PATH.read_text(encoding="utf-8")))


# --- regeneration of the stored prices (imports genai-prices lazily; never on the request path) ---


def price_timestamp(as_of: date) -> datetime:
    """The instant prices are read at: noon UTC, so time-of-day discounts (DeepSeek) do not apply."""
    return datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC)


def _per_1m(price: Any) -> float | None:
    if price is None:
        return None
    base = getattr(price, "base", price)  # tiered prices: the first tier is the stored price
    return float(Decimal(str(base)))


def genai_prices_for(provider: str, model: str, as_of: date) -> dict[str, float | None]:
    """The four per-1M prices genai-prices has for a model on a day.

    Raises:
        LookupError: genai-prices does not know the model.
    """
    from genai_prices import data_snapshot  # 1.6 MB of data: only when regenerating

    _, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
    prices = info.get_prices(price_timestamp(as_of))
    return {
        "input_cost_per_1m": _per_1m(prices.input_mtok) or 0.0,
        "output_cost_per_1m": _per_1m(prices.output_mtok) or 0.0,
        "cache_read_cost_per_1m": _per_1m(prices.cache_read_mtok),
        "cache_write_cost_per_1m": _per_1m(prices.cache_write_mtok),
    }


def _refreshed_models(section: dict[str, Any], as_of: date) -> Iterable[str]:
    for model in section["models"]:
        if model.get("price_source") != GENAI_PRICES:
            continue
        ref = model.get("genai_prices_model", model["id"])
        new = genai_prices_for(section["genai_prices_provider"], ref, as_of)
        if any(model.get(key) != value for key, value in new.items()):
            model.update(new)
            yield model["id"]


def refresh_prices(as_of: date, path: Path = CATALOG_PATH) -> list[str]:
    """Rewrite the genai-prices-sourced prices in a catalog.json; returns the ids whose prices changed.

    Raises:
        LookupError: a model marked as priced by genai-prices is unknown to it.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    changed = [name for section in data["providers"].values() for name in _refreshed_models(section, as_of)]
    data["prices_as_of"] = as_of.isoformat()
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    """`python -m providers.catalog --refresh-prices [--as-of YYYY-MM-DD]`."""
    parser = argparse.ArgumentParser(prog="python -m providers.catalog", description=__doc__)
    parser.add_argument("--refresh-prices", action="store_true", help="copy current genai-prices prices in")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="price date (default: today)")
    args = parser.parse_args(argv)
    if not args.refresh_prices:
        parser.print_help(sys.stderr)
        return 2
    changed = refresh_prices(as_of=args.as_of or system_clock().date())
    print(f"updated {len(changed)} model(s): {', '.join(changed) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
