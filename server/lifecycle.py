"""Model retirement as the configuration and the views see it: the successor chain the config loader attaches to
each provider, and the warnings (with the edit that removes them) that `config validate`, `doctor` and `status`
print. Routing's own decision is routing.retirement's; this module only words it for people.

`today` is always passed in: the loader's day for its warnings, the view's clock for the live views.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from providers.catalog import Catalog
from providers.models import ModelProfile, ProviderConfig
from routing.retirement import Retirement, retirements, successor
from server.config_reader import child

#: how far ahead `doctor` and `status` warn of a configured model's retirement
NOTICE = timedelta(days=30)


def successors_of(catalog: Catalog, catalog_id: str, models: Iterable[ModelProfile]) -> dict[str, ModelProfile]:
    """Each model's catalogue replacement on this catalogue id, down every chain (retired links included: which
    link serves is decided per request)."""
    found: dict[str, ModelProfile] = {}
    pending = [model.id for model in models]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        profile = catalog.get(catalog_id, name)
        replacement = catalog.get(catalog_id, profile.replacement) if profile and profile.replacement else None
        if replacement is not None:
            found[name] = replacement
            pending.append(replacement.id)
    return found


def models_path(provider: ProviderConfig) -> str:
    """Where the provider's models are configured, as the config's warnings name paths: `$.providers.x.models`."""
    return child(child("$.providers", provider.id), "models")


def _edit(provider: ProviderConfig, gone: Retirement) -> str:
    path = models_path(provider).removeprefix("$.")
    if gone.replacement is not None:
        return f'replace "{gone.model}" with "{gone.replacement.id}" in {path}'
    return f'remove "{gone.model}" from {path}'


def retired_warning(provider: ProviderConfig, gone: Retirement) -> str:
    """One retired model: what routing does about it, and (when the configuration lists it) the edit."""
    if provider.models_from_catalog:
        return f"{models_path(provider)}: {gone.note}"
    return f"{models_path(provider)}: {gone.note}; to remove this warning, {_edit(provider, gone)}"


def _soon_warning(provider: ProviderConfig, model: ModelProfile, retired_on: date) -> str:
    where = models_path(provider)
    path = where.removeprefix("$.")
    later = successor(provider.id, model.id, provider.successors, (), retired_on)
    when = f"{model.id} retires {retired_on.isoformat()}"
    if later is None:
        return f'{where}: {when} and {provider.id} serves no replacement; remove "{model.id}" from {path}'
    if later.id in provider.models:
        return f'{where}: {when} ({provider.id} already serves {later.id}); remove "{model.id}" from {path}'
    return f'{where}: {when}, then routes as {later.id}; replace "{model.id}" with "{later.id}" in {path}'


def lifecycle_warnings(provider: ProviderConfig, learned: Container[tuple[str, str]], today: date) -> list[str]:
    """Warnings for the provider's models retired on `today` or retiring within NOTICE of it."""
    gone = retirements(provider, learned, today)
    warnings = [retired_warning(provider, each) for each in gone.values()]
    if provider.models_from_catalog:
        return warnings
    for model in provider.models.values():
        retired_on = model.retired_on
        if retired_on is not None and today < retired_on <= today + NOTICE and model.id not in gone:
            warnings.append(_soon_warning(provider, model, retired_on))
    return warnings


@dataclass(frozen=True, slots=True)
class Substituted:
    """A configured model routed as another one (or skipped) right now, for the views."""

    model: str
    routed_as: str | None
    note: str


def substitutions(provider: ProviderConfig, learned: Container[tuple[str, str]], today: date) -> list[Substituted]:
    """The provider's retired models on `today` and what routing does with each."""
    return [
        Substituted(gone.model, gone.replacement.id if gone.replacement else None, gone.note)
        for gone in retirements(provider, learned, today).values()
    ]
