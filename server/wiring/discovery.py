"""Models a provider lists but the catalogue does not know, as conservative profiles (pure; no I/O).

Used twice: `provider-router models` marks them `uncatalogued`, and with `preferences.autoDiscover` the App adds
them to their provider's models so they become candidates. Their profile claims nothing it was not told: no
quality scores, no capabilities, the listing's context window (or `DEFAULT_CONTEXT`), the listing's prices (or,
unknown, the catalogue's highest for the provider, never counted free), and `uncatalogued=True`, which ranks them
after every catalogued model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic import ValidationError

from providers.catalog import Catalog
from providers.listing import ListedModel
from providers.models import ModelProfile, ProviderConfig
from storage.listings import StoredListing

#: the context window assumed for a listed model whose listing does not say (small: a bigger prompt goes elsewhere)
DEFAULT_CONTEXT = 8192
DEFAULT_MAX_OUTPUT = 4096


def listed_models(listing: StoredListing) -> list[ListedModel]:
    """The models of a stored listing (entries that no longer validate are skipped)."""
    models: list[ListedModel] = []
    for entry in listing.models:
        try:
            models.append(ListedModel.model_validate(entry))
        except ValidationError:
            continue
    return models


def conservative_profile(catalog_id: str, model: ListedModel, catalog: Catalog) -> ModelProfile:
    """The profile of a listed model the catalogue lacks: only what the listing says, defaults otherwise; with no
    listed price it is paid at the catalogue's highest prices for its provider (unknown price is not free)."""
    context = model.context_window or DEFAULT_CONTEXT
    priced = model.input_cost_per_1m is not None and model.output_cost_per_1m is not None
    highest_input, highest_output = catalog.highest_prices(catalog_id)
    return ModelProfile(
        provider=catalog_id,
        id=model.id,
        context_window=context,
        max_output_tokens=min(model.max_output_tokens or DEFAULT_MAX_OUTPUT, context),
        input_cost_per_1m=model.input_cost_per_1m if priced and model.input_cost_per_1m is not None else highest_input,
        output_cost_per_1m=(
            model.output_cost_per_1m if priced and model.output_cost_per_1m is not None else highest_output
        ),
        price_known=priced,
        capabilities=frozenset(),
        free_tier=priced and not model.input_cost_per_1m and not model.output_cost_per_1m,
        uncatalogued=True,
    )


def is_catalogued(catalog: Catalog, provider: ProviderConfig, model_id: str) -> bool:
    return catalog.get(provider.catalog, model_id) is not None


def _common(listings: Sequence[StoredListing]) -> dict[str, ListedModel]:
    """The models every fetched listing of a pool reports: a model one key cannot use would fail on that account."""
    fetched = [listing for listing in listings if listing.fetched_at is not None]
    if not fetched:
        return {}
    first = {model.id: model for model in listed_models(fetched[0])}
    for listing in fetched[1:]:
        ids = {model.id for model in listed_models(listing)}
        first = {name: model for name, model in first.items() if name in ids}
    return first


def discovered_models(
    providers: Mapping[str, ProviderConfig], listings: Iterable[StoredListing], catalog: Catalog
) -> dict[str, dict[str, ModelProfile]]:
    """Per provider, the listed models neither configured nor in the catalogue, as conservative profiles."""
    by_provider: dict[str, list[StoredListing]] = {}
    for listing in listings:
        by_provider.setdefault(listing.provider, []).append(listing)
    found: dict[str, dict[str, ModelProfile]] = {}
    for provider_id, provider in providers.items():
        accounts = {account.id for account in provider.accounts if account.enabled}
        pool = [listing for listing in by_provider.get(provider_id, ()) if listing.account in accounts]
        extra = {
            name: conservative_profile(provider.catalog, model, catalog)
            for name, model in _common(pool).items()
            if name not in provider.models and not is_catalogued(catalog, provider, name)
        }
        if extra:
            found[provider_id] = extra
    return found


def with_discovered(
    providers: Mapping[str, ProviderConfig], discovered: Mapping[str, Mapping[str, ModelProfile]]
) -> dict[str, ProviderConfig]:
    """The providers with their discovered models added after their configured ones."""
    merged = dict(providers)
    for provider_id, extra in discovered.items():
        provider = merged.get(provider_id)
        if provider is not None:
            merged[provider_id] = provider.model_copy(update={"models": {**provider.models, **extra}})
    return merged
