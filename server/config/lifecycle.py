"""Model retirement as the configuration and the views see it: the successor chain the config loader attaches to
each provider, and the warnings (with the edit that removes them) that `config validate`, `doctor` and `status`
print. Routing's own decision is routing.retirement's; this module only words it for people.

`today` is always passed in: the loader's day for its warnings, the view's clock for the live views.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from datetime import date, timedelta

from providers.catalog import Catalog
from providers.models import ModelProfile, ProviderConfig
from providers.values import read_only_hashable
from routing.retirement import Retirement, retirements, successor
from server.config.reader import child

#: how far ahead `doctor` and `status` warn of a configured model's retirement
NOTICE = timedelta(days=30)


def successors_of(catalog: Catalog, catalog_id: str, models: Iterable[ModelProfile]) -> dict[str, ModelProfile]:
    """Each model's catalogue replacement on this catalogue id, down every chain (retired links included: which
    link serves is decided per request). A replacement is never freer than the model it stands in for: a model
    the user (or the catalogue) counts as paid keeps its calls paid on its successor's free tier."""
    found: dict[str, ModelProfile] = {}
    sources = {model.id: model for model in models}
    pending = list(sources)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        profile = catalog.get(catalog_id, name)
        replacement = catalog.get(catalog_id, profile.replacement) if profile and profile.replacement else None
        if replacement is not None:
            source = sources.get(name) or profile
            if replacement.free_tier and source is not None and not source.free_tier:
                replacement = replacement.model_copy(update={"free_tier": False})
            found[name] = replacement
            sources.setdefault(replacement.id, replacement)
            pending.append(replacement.id)
    return found


def models_path(provider: ProviderConfig) -> str:
    """Where the provider's models are configured, as the config's warnings name paths: `$.providers.x.models`."""
    return child(child("$.providers", provider.id), "models")


@read_only_hashable
class Notice:
    """A warning about one configured model's retirement: where, what routing does, and the edit that removes it."""

    provider: str
    model: str
    path: str
    text: str
    #: None when the configuration lists no models (the catalogue's current ones serve): nothing to edit
    edit: str | None

    def __str__(self) -> str:
        fix = f"; to remove this warning, {self.edit}" if self.edit else ""
        return f"{self.path}: {self.text}{fix}"


def _retired(provider: ProviderConfig, gone: Retirement) -> Notice:
    where = models_path(provider)
    path = where.removeprefix("$.")
    edit = None
    if not provider.models_from_catalog:
        edit = (
            f'replace "{gone.model}" with "{gone.replacement.id}" in {path}'
            if gone.replacement is not None
            else f'remove "{gone.model}" from {path}'
        )
    return Notice(provider.id, gone.model, where, gone.note, edit)


def _retiring(provider: ProviderConfig, model: ModelProfile, retired_on: date) -> Notice:
    where = models_path(provider)
    path = where.removeprefix("$.")
    later = successor(provider.id, model.id, provider.successors, (), retired_on)
    when = f"{model.id} retires {retired_on.isoformat()}"
    remove = f'remove "{model.id}" from {path}'
    if later is None:
        return Notice(provider.id, model.id, where, f"{when} and {provider.id} serves no replacement", remove)
    if later.id in provider.models:
        return Notice(provider.id, model.id, where, f"{when}; {provider.id} already serves {later.id}", remove)
    edit = f'replace "{model.id}" with "{later.id}" in {path}'
    return Notice(provider.id, model.id, where, f"{when}, then routes as {later.id}", edit)


def lifecycle_notices(provider: ProviderConfig, learned: Container[tuple[str, str]], today: date) -> list[Notice]:
    """The provider's models retired on `today` (learned retirements included), or retiring within NOTICE of it
    (only models the configuration lists: the catalogue's own line-up follows the catalogue by itself)."""
    gone = retirements(provider, learned, today)
    notices = [_retired(provider, each) for each in gone.values()]
    if provider.models_from_catalog:
        return notices
    for model in provider.models.values():
        retired_on = model.retired_on
        if retired_on is not None and today < retired_on <= today + NOTICE and model.id not in gone:
            notices.append(_retiring(provider, model, retired_on))
    return notices


@read_only_hashable
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
