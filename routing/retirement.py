"""Retired models keep a configuration working: a configured model past its retirement routes as its successor.

A model retires on its catalogue `retired_on` date (checked against the request's own `now`, so a long-running server
crossing the date substitutes from that day on) or when its provider answered `model_not_found` (learned). The
successor is the catalogue's `replacement`, followed down the chain to the first one still serving, provided the
provider serves it (the config loader attaches those profiles as `ProviderConfig.successors`). When the provider
already serves the successor itself, or another retired model took it, the retired model simply drops out, as it
does when there is no successor; `note` says which. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import replace
from datetime import date

from providers.models import ModelProfile, ProviderConfig
from providers.values import read_only_hashable
from routing.ports import Seed


@read_only_hashable
class Retirement:
    """What routing does with one configured model that has retired."""

    provider: str
    model: str
    #: the catalogue date; None when the provider's `model_not_found` taught it
    retired_on: date | None
    #: the successor routed in its place; None: routing skips the model
    replacement: ModelProfile | None
    note: str


def _when(model: ModelProfile, learned: bool) -> str:
    if learned or model.retired_on is None:
        return "retired (the provider answered model_not_found)"
    return f"retired {model.retired_on.isoformat()}"


def successor(
    provider: str,
    model: str,
    successors: Mapping[str, ModelProfile],
    learned: Container[tuple[str, str]],
    today: date,
) -> ModelProfile | None:
    """The first successor of `model` in the chain that still serves on `today` (None: there is none)."""
    seen = {model}
    following = successors.get(model)
    while following is not None and following.id not in seen:
        if not following.is_retired(today) and (provider, following.id) not in learned:
            return following
        seen.add(following.id)
        following = successors.get(following.id)
    return None


def retirements(provider: ProviderConfig, learned: Container[tuple[str, str]], today: date) -> dict[str, Retirement]:
    """The provider's configured models that have retired on `today`, keyed by model id, in configuration order."""
    found: dict[str, Retirement] = {}
    taken: dict[str, str] = {}
    for model in provider.models.values():
        was_learned = (provider.id, model.id) in learned
        if not was_learned and not model.is_retired(today):
            continue
        when = _when(model, was_learned)
        retired_on = None if was_learned else model.retired_on
        nxt = successor(provider.id, model.id, provider.successors, learned, today)
        if nxt is None:
            note = f"{model.id} {when} and {provider.id} serves no replacement: routing skips it"
        elif nxt.id in provider.models:
            note = f"{model.id} {when}; {provider.id} already serves its replacement {nxt.id}, so it drops out"
            nxt = None
        elif nxt.id in taken:
            note = f"{model.id} {when}; its replacement {nxt.id} already stands in for {taken[nxt.id]}, so it drops out"
            nxt = None
        else:
            taken[nxt.id] = model.id
            note = f"{model.id} {when} → {nxt.id}"
        found[model.id] = Retirement(provider.id, model.id, retired_on, nxt, note)
    return found


def substitute(seeds: Sequence[Seed], learned: Container[tuple[str, str]], today: date) -> list[Seed]:
    """The seeds to route on `today`: a retired model's seeds carry its successor instead, or why there is none."""
    by_provider: dict[str, dict[str, Retirement]] = {}
    out: list[Seed] = []
    for seed in seeds:
        found = by_provider.get(seed.provider.id)
        if found is None:
            found = by_provider[seed.provider.id] = retirements(seed.provider, learned, today)
        gone = found.get(seed.model.id)
        if gone is None:
            out.append(seed)
        elif gone.replacement is None:
            out.append(replace(seed, retirement_note=gone.note))
        else:
            out.append(replace(seed, model=gone.replacement, substituted_for=gone.model, retirement_note=gone.note))
    return out
