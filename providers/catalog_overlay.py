"""The user's catalogue overlay: a `catalog.json` beside providers.json, in the packaged catalogue's format, merged
over it, so a user adds a model or corrects a price or a context window without waiting for a release.

Merging: a section's fields replace the packaged section's; a model entry whose `id` (or an alias) the packaged
section knows replaces only the fields it gives; any other entry is a new model and must be complete. A section
for a catalogue id the package lacks is new and needs its `label`.

`refresh_overlay_prices` copies current genai-prices prices into the overlay (the packaged file stays as shipped);
a price that moves more than `MAX_PRICE_MOVE` times either way is held back and reported, never applied.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from providers.catalog import CATALOG_PATH, GENAI_PRICES, Catalog, CatalogError, genai_prices_for, parse_catalog

MAX_PRICE_MOVE = 5.0
PRICE_FIELDS = ("input_cost_per_1m", "output_cost_per_1m", "cache_read_cost_per_1m", "cache_write_cost_per_1m")
_FORMAT = '{"providers": {"<catalogue id>": {"models": [{"id": "<model id>", "context_window": ..., ...}]}}}'

PriceLookup = Callable[[str, str, date], Mapping[str, float | None]]


class OverlayError(CatalogError):
    """The user's catalog.json cannot be used; the message names the file and the fix."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        self.fix = (
            f"correct it (the packaged catalogue's format, e.g. {_FORMAT}), "
            "or move it aside to use the packaged catalogue alone"
        )
        super().__init__(f"{path}: {problem}. Fix: {self.fix}")


@lru_cache(maxsize=1)
def _packaged_text() -> str:
    return CATALOG_PATH.read_text(encoding="utf-8")


def packaged_data() -> dict[str, Any]:
    """A fresh copy of the packaged catalogue's JSON."""
    data: dict[str, Any] = json.loads(_packaged_text())
    return data


def _model_index(models: list[dict[str, Any]]) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, model in enumerate(models):
        for name in (model.get("id"), *model.get("aliases", ())):
            if isinstance(name, str):
                index.setdefault(name.lower(), position)
    return index


def _merge_section(base: dict[str, Any] | None, overlay: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(overlay, Mapping):
        raise ValueError(f"{where} must be an object")
    models = overlay.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, Mapping) and isinstance(m.get("id"), str) for m in models):
        raise ValueError(f'{where}.models must be a list of objects, each with an "id"')
    merged = copy.deepcopy(base) if base is not None else {"models": []}
    merged.update({key: value for key, value in overlay.items() if key != "models"})
    index = _model_index(merged["models"])
    for model in models:
        position = index.get(model["id"].lower())
        if position is None:
            merged["models"].append(dict(model))
            index[model["id"].lower()] = len(merged["models"]) - 1
        else:
            entry = merged["models"][position]
            entry.update({key: value for key, value in model.items() if key != "id"})
    return merged


def merge_catalog_data(base: Mapping[str, Any], overlay: Any) -> dict[str, Any]:
    """The packaged catalogue's JSON with the overlay's merged over it (see the module docstring).

    Raises:
        ValueError: the overlay is not shaped like a catalogue.
    """
    if not isinstance(overlay, Mapping) or not isinstance(overlay.get("providers", {}), Mapping):
        raise ValueError('expected an object with a "providers" object')
    merged = copy.deepcopy(dict(base))
    for provider_id, section in overlay.get("providers", {}).items():
        merged["providers"][provider_id] = _merge_section(
            merged["providers"].get(provider_id), section, f"providers.{provider_id}"
        )
    if "prices_as_of" in overlay:
        merged["prices_as_of"] = overlay["prices_as_of"]
    return merged


def _read_overlay(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise OverlayError(path, f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from error
    except (OSError, UnicodeDecodeError) as error:
        raise OverlayError(path, f"cannot be read ({error})") from error


@lru_cache(maxsize=4)
def _user_catalog(path: Path, _stamp: tuple[float, int]) -> Catalog:
    overlay = _read_overlay(path)
    try:
        merged = merge_catalog_data(packaged_data(), overlay)
    except ValueError as error:
        raise OverlayError(path, str(error)) from error
    try:
        return parse_catalog(merged)
    except CatalogError as error:
        detail = str(error).partition(": ")[2] or str(error)
        raise OverlayError(path, f"merged over the packaged catalogue it is invalid: {detail}") from error


def load_user_catalog(path: Path) -> Catalog | None:
    """The packaged catalogue with the overlay at `path` merged over it; None when there is no overlay.

    Raises:
        OverlayError: the overlay is not JSON, not shaped like a catalogue, or gives invalid model facts.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise OverlayError(path, f"cannot be read ({error})") from error
    return _user_catalog(path, (stat.st_mtime, stat.st_size))


# --------------------------------------------------------------------------------------------------- prices


@dataclass
class PriceRefresh:
    """What `refresh_overlay_prices` did: models whose prices it wrote, held back (with why), and did not find."""

    applied: list[str] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    unchanged: int = 0


def _moved_too_far(old: float | None, new: float | None) -> bool:
    if not old:
        return False  # no price (or free) before: any price is information
    if not new:
        return True  # a paid model turning free, or losing its price, is held back like any big move
    ratio = new / old
    return ratio > MAX_PRICE_MOVE or ratio < 1 / MAX_PRICE_MOVE


def _overlay_entry(overlay: dict[str, Any], provider_id: str, model_id: str) -> dict[str, Any]:
    section = overlay.setdefault("providers", {}).setdefault(provider_id, {})
    models: list[dict[str, Any]] = section.setdefault("models", [])
    for model in models:
        if str(model.get("id", "")).lower() == model_id.lower():
            return model
    models.append({"id": model_id})
    return models[-1]


def _refresh_model(
    overlay: dict[str, Any], section: Mapping[str, Any], model: Mapping[str, Any], lookup: PriceLookup, as_of: date
) -> tuple[str, str]:
    """("applied" | "held_back" | "unknown" | "unchanged", the report line)."""
    name = f"{section['id']}/{model['id']}"
    try:
        new = lookup(section["genai_prices_provider"], model.get("genai_prices_model", model["id"]), as_of)
    except LookupError:
        return "unknown", name
    moved = [key for key in PRICE_FIELDS if _moved_too_far(model.get(key), new.get(key))]
    if moved:
        changes = ", ".join(f"{key} {model.get(key)} -> {new.get(key)}" for key in moved)
        return "held_back", f"{name} ({changes}: more than {MAX_PRICE_MOVE:g}x; edit the overlay to accept it)"
    if all(model.get(key) == new.get(key) for key in PRICE_FIELDS):
        return "unchanged", name
    _overlay_entry(overlay, section["id"], model["id"]).update({key: new.get(key) for key in PRICE_FIELDS})
    return "applied", name


def refresh_overlay_prices(path: Path, as_of: date, lookup: PriceLookup = genai_prices_for) -> PriceRefresh:
    """Write current genai-prices prices of every genai-prices-sourced model into the overlay at `path`.

    The file is written (created when missing) only when a price is applied; `lookup` is genai-prices by default.

    Raises:
        OverlayError: the existing overlay is malformed.
    """
    overlay: dict[str, Any] = _read_overlay(path) if path.exists() else {"schema_version": 1, "providers": {}}
    try:
        merged = merge_catalog_data(packaged_data(), overlay)
    except ValueError as error:
        raise OverlayError(path, str(error)) from error
    result = PriceRefresh()
    for provider_id, section in merged["providers"].items():
        if not section.get("genai_prices_provider"):
            continue
        for model in section["models"]:
            if model.get("price_source") != GENAI_PRICES:
                continue
            outcome, line = _refresh_model(overlay, {**section, "id": provider_id}, model, lookup, as_of)
            if outcome == "unchanged":
                result.unchanged += 1
            else:
                getattr(result, outcome).append(line)
    if result.applied:
        overlay["prices_as_of"] = as_of.isoformat()
        path.write_text(json.dumps(overlay, indent=2) + "\n", encoding="utf-8")
    return result
