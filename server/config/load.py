"""providers.json: loading, validation and the redacted view of the configuration in force.

The format is README "Configuration" (JSON with `//` and `/* */` comments, trailing commas allowed). Top-level keys:
`providers`, `preferences`, `settings` (and the short preference forms, see `server.config.prefs`). String values
may use `${VAR}` or `${VAR:-default}`; a missing variable is an error naming it, except in `apiKey`, which is only
a reference.

Where each part is read:
    clients.jsonc            comments and trailing commas; syntax errors with line and column
    server.config.reader     the decoding into `ConfigError`s; typed access by JSON path
    server.config.providers  providers, account pools, key references
    server.config.quota      quota and budgetUsd blocks
    server.config.models     per-model overrides merged over providers/catalog.json
    server.config.prefs      preferences and settings
    server.config.types      the frozen result: RouterConfig, ProviderConfig, RouterSettings

Loading never resolves a key and never raises anything but `ConfigError`: a missing file gives an empty
`RouterConfig` with `missing=True` so the server starts and tells the user to run `provider-router setup`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from providers.catalog import Catalog, load_catalog
from providers.models import Account, BudgetSpec, CredentialRef, ModelProfile, ProviderConfig, QuotaSpec
from providers.redact import mask_keys
from server.config.prefs import TOP_LEVEL_PREFERENCES, parse_preferences, parse_settings
from server.config.providers import parse_provider
from server.config.reader import ConfigError, Reader, child, decode_jsonc, quoted
from server.config.types import SETUP_HINT, RouterConfig, RouterSettings

__all__ = [
    "ConfigError",
    "ProviderConfig",
    "RouterConfig",
    "RouterSettings",
    "config_from_data",
    "load_config",
    "parse_config",
    "redacted_view",
]

_TOP_KEYS = ("providers", "preferences", "settings", "$schema", *TOP_LEVEL_PREFERENCES)


def _providers(reader: Reader, value: Any) -> dict[str, ProviderConfig]:
    path = "$.providers"
    if value is None:
        return {}
    block = reader.obj(value, path, fix='write {"<provider id>": {...}, ...}')
    providers: dict[str, ProviderConfig] = {}
    owners: dict[str, str] = {}
    for provider_id, raw in block.items():
        provider_path = child(path, provider_id)
        if not provider_id.strip():
            reader.fail(provider_path, "a provider id must not be empty", 'use a name such as "openai" or "my-proxy"')
        provider = parse_provider(reader, provider_id, raw, provider_path)
        for account in provider.accounts:
            if account.id in owners:
                reader.fail(
                    provider_path,
                    f"account id {quoted(account.id)} is also used by provider {quoted(owners[account.id])}",
                    "give every account a unique id (keys are stored in the keychain under it)",
                )
            owners[account.id] = provider_id
        providers[provider_id] = provider
    return providers


def config_from_data(
    data: Any,
    *,
    source: str,
    environ: Mapping[str, str],
    today: date,
    catalog: Catalog | None = None,
    warnings: tuple[str, ...] = (),
) -> RouterConfig:
    """Validate already-decoded JSON into a `RouterConfig`.

    Raises:
        ConfigError: the data is not a valid configuration; the message names the JSON path and the fix.
    """
    reader = Reader(source=source, environ=environ, today=today, catalog=catalog or load_catalog())
    reader.warnings.extend(warnings)
    root = reader.obj(data, "$", fix='the file must hold one object: {"providers": {...}, "preferences": {...}}')
    reader.known_keys(root, "$", _TOP_KEYS)
    providers = _providers(reader, root.get("providers"))
    preferences = parse_preferences(reader, root, tuple(providers))
    settings = parse_settings(reader, root.get("settings"))
    if not providers:
        reader.warn("$.providers", f"no providers configured; {SETUP_HINT}")
    return RouterConfig(
        providers=providers,
        preferences=preferences,
        settings=settings,
        warnings=tuple(reader.warnings),
        source=source,
    )


def parse_config(
    text: str,
    *,
    source: str,
    environ: Mapping[str, str],
    today: date,
    catalog: Catalog | None = None,
) -> RouterConfig:
    """Parse the text of a providers.json (comments and trailing commas allowed).

    `today` (the UTC date, from the caller's clock) decides which catalogue models count as retired.

    Raises:
        ConfigError: the text is not valid JSON (line and column given) or not a valid configuration.
    """
    data, duplicates = decode_jsonc(text, source)
    warnings = tuple(f'$: key "{key}" appears twice in one object; the last one wins' for key in duplicates)
    return config_from_data(data, source=source, environ=environ, today=today, catalog=catalog, warnings=warnings)


def load_config(
    path: Path,
    environ: Mapping[str, str],
    *,
    today: date,
    catalog: Catalog | None = None,
) -> RouterConfig:
    """Load providers.json; a missing file gives a `RouterConfig` with no providers and `missing=True`.

    Raises:
        ConfigError: the file cannot be read or is not a valid configuration.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RouterConfig(source=str(path), missing=True)
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "the file is not UTF-8 text", fix="save it as UTF-8") from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            str(path), f"cannot read the file ({reason})", fix="check that it is a readable file"
        ) from exc
    return parse_config(text, source=str(path), environ=environ, today=today, catalog=catalog)


# --- the redacted view (router://config, `provider-router config show`) ---


def credential_label(credential: CredentialRef) -> str:
    """How a key reference is shown: "env:OPENAI_API_KEY", "keyring:google-1" or "none"."""
    return "none" if credential.source == "none" else f"{credential.source}:{credential.name}"


def _safe_url(url: str) -> str:
    """A URL without user info or query, either of which could carry a secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _quota_view(quota: QuotaSpec) -> dict[str, Any]:
    return quota.model_dump(mode="json", exclude_none=True)


def _budget_view(budget: BudgetSpec) -> dict[str, Any]:
    return {"daily": budget.daily_usd, "monthly": budget.monthly_usd}


def _account_view(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "enabled": account.enabled,
        "credential": credential_label(account.credential),
        "quota": _quota_view(account.quota),
        "budgetUsd": _budget_view(account.budget),
    }


def _model_view(model: ModelProfile) -> dict[str, Any]:
    view = model.model_dump(mode="json", exclude={"provider"})
    view["capabilities"] = sorted(model.capabilities)
    return view


def _provider_view(provider: ProviderConfig) -> dict[str, Any]:
    return {
        "kind": provider.kind,
        "label": provider.label,
        "baseUrl": _safe_url(provider.base_url),
        "enabled": provider.enabled,
        "catalog": provider.catalog,
        "loadBalancing": provider.load_balancing,
        "accounts": [_account_view(account) for account in provider.accounts],
        "models": {name: _model_view(model) for name, model in provider.models.items()},
        "budgetUsd": _budget_view(provider.budget),
        "options": provider.options.model_dump(mode="json"),
    }


def _masked(value: Any) -> Any:
    """`value` with anything shaped like a key masked, however deep (a key pasted into the wrong field)."""
    if isinstance(value, str):
        return mask_keys(value)
    if isinstance(value, dict):
        return {_masked(key): _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def redacted_view(config: RouterConfig) -> dict[str, Any]:
    """The configuration in force as JSON-ready data with no secrets (keys appear only as references; a key-shaped
    string pasted anywhere else, a preference list or a model name, is masked)."""
    preferences = config.preferences.model_dump(mode="json")
    preferences["budget"] = _budget_view(config.preferences.budget)
    view: dict[str, Any] = _masked(
        {
            "source": config.source,
            "missing": config.missing,
            "setupHint": config.setup_hint,
            "providers": {name: _provider_view(provider) for name, provider in config.providers.items()},
            "preferences": preferences,
            "settings": config.settings.model_dump(mode="json"),
            "warnings": list(config.warnings),
        }
    )
    return view
