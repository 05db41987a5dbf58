"""The `models` block of a provider: the user's overrides merged over the catalogue, or new models.

Per model: `contextWindow`, `maxTokens` (or `maxOutputTokens`), `inputCostPer1M`, `outputCostPer1M` (or the older
single `costPer1M`, meaning both), `cacheReadCostPer1M`, `cacheWriteCostPer1M`, `preferenceScore` (0-100),
`quality` ({coding, reasoning, creative, simple}: 0-100), `speed` (0-100), `capabilities` (["tools", "vision",
"json", "reasoning"]), `freeTier`, and `enabled: false` to leave a catalogue model out. A model the catalogue does
not know needs `contextWindow`; its `maxTokens` defaults to 4096. Its prices, when not given, are unknown, and unknown
is not free: the model is paid (`price_known` False) at the highest prices the catalogue lists for its provider (or
for any provider), with a warning naming the fix, unless it says `"freeTier": true` or its provider is local (a
local vendor such as Ollama, or an unknown vendor reached on a loopback address or with `"apiKey": "none"`), where
a missing price is 0. `models` may also be a list of catalogue model ids. With no `models`, a provider serves the
catalogue's models that are not retired today.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import ValidationError

from providers.models import TASK_TYPES, Capability, ModelProfile
from server.config.reader import Reader, child, describe, item, quoted

_PRICES = {
    "inputCostPer1M": "input_cost_per_1m",
    "outputCostPer1M": "output_cost_per_1m",
    "cacheReadCostPer1M": "cache_read_cost_per_1m",
    "cacheWriteCostPer1M": "cache_write_cost_per_1m",
}
_SCORES = {"preferenceScore": "preference_score", "speed": "speed"}
_MODEL_KEYS = (
    *_PRICES,
    *_SCORES,
    "contextWindow",
    "maxTokens",
    "maxOutputTokens",
    "costPer1M",
    "quality",
    "capabilities",
    "freeTier",
    "enabled",
)
DEFAULT_MAX_OUTPUT = 4096
#: a user price this many times the catalogue's is probably a placeholder (an example's glm-4.7 says 100000)
_PRICE_SUSPICION = 10
#: a billion tokens of context or output, and $1,000,000 per million tokens (examples write 100000 as a placeholder),
#: are beyond any model; the bounds keep a
#: worst-case cost (tokens x price) inside the ledger's 64-bit nano-dollar sums
MAX_TOKENS = 10**9
MAX_PRICE_PER_1M = 1e6


def _sizes(reader: Reader, raw: dict[str, Any], path: str, base: ModelProfile | None) -> dict[str, Any]:
    update: dict[str, Any] = {}
    if "contextWindow" in raw:
        update["context_window"] = reader.integer(
            raw["contextWindow"], child(path, "contextWindow"), minimum=1, maximum=MAX_TOKENS
        )
    elif base is None:
        reader.fail(
            path,
            "this model is not in the catalogue, so its context window is unknown",
            'add "contextWindow": <tokens> (and "maxTokens", "inputCostPer1M", "outputCostPer1M")',
        )
    for key in ("maxTokens", "maxOutputTokens"):
        if key in raw:
            update["max_output_tokens"] = reader.integer(raw[key], child(path, key), minimum=1, maximum=MAX_TOKENS)
    return update


def _prices(reader: Reader, raw: dict[str, Any], path: str) -> dict[str, Any]:
    update: dict[str, Any] = {}
    if "costPer1M" in raw:
        cost = reader.number(raw["costPer1M"], child(path, "costPer1M"), maximum=MAX_PRICE_PER_1M)
        update["input_cost_per_1m"] = update["output_cost_per_1m"] = cost
    for key, name in _PRICES.items():
        if key in raw:
            update[name] = reader.number(raw[key], child(path, key), maximum=MAX_PRICE_PER_1M)
    return update


def _traits(reader: Reader, raw: dict[str, Any], path: str, base: ModelProfile | None) -> dict[str, Any]:
    update: dict[str, Any] = {}
    for key, name in _SCORES.items():
        if key in raw:
            update[name] = reader.integer(raw[key], child(path, key), maximum=100)
    if "quality" in raw:
        quality_path = child(path, "quality")
        scores = dict(base.quality) if base is not None else {}
        for task, score in reader.obj(raw["quality"], quality_path).items():
            if task in TASK_TYPES:
                scores[task] = reader.integer(score, child(quality_path, task), maximum=100)
            else:
                reader.warn(child(quality_path, task), f"not a task type ({', '.join(TASK_TYPES)}); ignored")
        update["quality"] = scores
    if "capabilities" in raw:
        known = get_args(Capability)
        names = reader.strings(raw["capabilities"], child(path, "capabilities"))
        for index, name in enumerate(names):
            if name not in known:
                where = item(child(path, "capabilities"), index)
                reader.fail(where, f"unknown capability {quoted(name)}", f"use {known}")
        update["capabilities"] = frozenset(names)
    if "freeTier" in raw:
        update["free_tier"] = reader.boolean(raw["freeTier"], child(path, "freeTier"))
    return update


def _warn_prices(reader: Reader, merged: ModelProfile, base: ModelProfile | None, path: str) -> None:
    if base is None or base.is_free:
        return
    pairs = ((merged.input_cost_per_1m, base.input_cost_per_1m), (merged.output_cost_per_1m, base.output_cost_per_1m))
    for mine, theirs in pairs:
        if theirs and mine > theirs * _PRICE_SUSPICION:
            reader.warn(path, f"price {mine}/1M is far above the catalogue's {theirs}/1M; using yours")
            return


def _unknown_prices(reader: Reader, update: dict[str, Any], catalog_id: str, path: str, local: bool) -> dict[str, Any]:
    """Stand-ins for the prices an uncatalogued model lacks: none for a free or local model, else the highest."""
    names = ("input_cost_per_1m", "output_cost_per_1m")
    missing = [name for name in names if name not in update]
    if not missing or local or update.get("free_tier"):
        return {}
    highest = dict(zip(names, reader.catalog.highest_prices(catalog_id), strict=True))
    reader.warn(
        path,
        f"no price known for this model, so it counts as paid: excluded by free_only, reserved and charged at "
        f"${highest['input_cost_per_1m']:g}/${highest['output_cost_per_1m']:g} per 1M tokens unless the provider "
        'reports the cost; add "inputCostPer1M" and "outputCostPer1M", or "freeTier": true if it really is free',
    )
    return {"price_known": False, **{name: highest[name] for name in missing}}


def parse_model(
    reader: Reader, catalog_id: str, name: str, value: Any, path: str, *, local: bool = False
) -> ModelProfile | None:
    """One model entry merged over its catalogue profile; None when it says `"enabled": false`. `local`: the
    provider runs on the user's machine, so a price not given is 0 rather than unknown.

    Raises:
        ConfigError: a value has the wrong type or range, or an unknown model lacks `contextWindow`.
    """
    if value is False:
        return None
    raw = {} if value is None or value is True else reader.obj(value, path)
    reader.known_keys(raw, path, _MODEL_KEYS)
    if "enabled" in raw and not reader.boolean(raw["enabled"], child(path, "enabled")):
        return None
    base = reader.catalog.get(catalog_id, name)
    if base is not None and base.id != name:
        reader.warn(path, f'the API knows this model as "{base.id}"; requests use that id')
    update = {**_sizes(reader, raw, path, base), **_prices(reader, raw, path), **_traits(reader, raw, path, base)}
    if base is None:
        update.setdefault("max_output_tokens", min(DEFAULT_MAX_OUTPUT, update["context_window"]))
        update |= _unknown_prices(reader, update, catalog_id, path, local)
        fields: dict[str, Any] = {"provider": catalog_id, "id": name, **update}
    else:
        fields = {**base.model_dump(), **update}
    try:
        merged = ModelProfile.model_validate(fields)
    except ValidationError as exc:
        reader.fail(path, f"invalid model settings ({exc.error_count()} problem(s))", "check the numbers given")
    _warn_prices(reader, merged, base, path)
    return merged


def parse_models(
    reader: Reader, catalog_id: str, value: Any, path: str, *, local: bool = False
) -> dict[str, ModelProfile]:
    """The models of one provider keyed by API id; the catalogue's current models when none are listed. `local`: as
    `parse_model`'s.

    Raises:
        ConfigError: a model is malformed, or two entries name the same model.
    """
    if value is None or value == {} or value == []:
        current = reader.catalog.current_models(catalog_id, reader.today)
        return {model.id: model for model in current}
    if isinstance(value, list):
        names = reader.strings(value, path)
        entries: dict[str, Any] = {}
        for index, name in enumerate(names):
            if reader.catalog.get(catalog_id, name) is None:
                fix = 'define it: {"contextWindow": N}'
                reader.fail(item(path, index), f"{quoted(name)} is not in the catalogue", fix)
            entries[name] = None
    else:
        entries = reader.obj(value, path, fix='write {"<model id>": {"contextWindow": ...}, ...}')
    models: dict[str, ModelProfile] = {}
    for name, raw in entries.items():
        model_path = child(path, name)
        if not name.strip():
            reader.fail(model_path, "a model id must not be empty", "write the model's API id as the key")
        if raw is not None and not isinstance(raw, dict | bool):
            reader.fail(model_path, f"expected an object, got {describe(raw)}", 'write {"contextWindow": ...} or {}')
        profile = parse_model(reader, catalog_id, name, raw, model_path, local=local)
        if profile is None:
            continue
        if profile.id in models:
            reader.fail(model_path, f"{quoted(profile.id)} is listed twice (once under another name)", "keep one entry")
        models[profile.id] = profile
    return models
