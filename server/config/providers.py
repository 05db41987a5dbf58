"""One entry of `providers`: wire kind, endpoint, the pool of accounts with their key references, quotas, models.

Keys are never in the file and never resolved here: `apiKey` is a REFERENCE.

- `"${VAR}"` (or `"env:VAR"`) -> the environment variable VAR;
- `"keyring:<name>"` -> the OS keychain entry <name>;
- absent -> the keychain entry named after the account id (the credentials code falls back to the vendor's
  key variable, e.g. OPENAI_API_KEY); for vendors that need no key (ollama, lmstudio), no credential;
- `"none"` -> no credential (a local or test server without auth);
- anything else is taken for a literal key and refused, without ever repeating it.
"""

from __future__ import annotations

import re
from typing import Any, get_args

from providers.addresses import is_loopback_url
from providers.models import Account, CredentialRef, LoadBalancing, ProviderConfig, QuotaSpec
from providers.redact import mask_keys
from providers.types import WireKind
from providers.vendors import Vendor, WireOptions, vendor_for
from server.config.lifecycle import lifecycle_notices, successors_of
from server.config.models import parse_models
from server.config.quota import parse_budget, parse_quota
from server.config.reader import Reader, child, describe, item

_PROVIDER_KEYS = (
    "kind",
    "label",
    "baseUrl",
    "enabled",
    "apiKey",
    "accounts",
    "loadBalancing",
    "models",
    "quota",
    "budgetUsd",
    "options",
    "catalog",
)
_ACCOUNT_KEYS = ("id", "apiKey", "baseUrl", "quota", "budgetUsd", "enabled")
_OPTION_KEYS = {
    "maxTokensField": "max_tokens_field",
    "temperatureMin": "temperature_min",
    "temperatureMax": "temperature_max",
    "streamUsage": "stream_usage",
}
_ENV_ONLY = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_api_key(
    reader: Reader, value: Any, path: str, provider: str, account: str, vendor: Vendor | None
) -> CredentialRef:
    """The credential reference of one account (see the module docstring).

    Raises:
        ConfigError: the value looks like a literal key, or a reference is malformed.
    """
    keys_set = f"run `provider-router keys set {provider} --account {account}` and remove apiKey"
    fix = f'{keys_set}, or write "${{ENV_VAR}}" or "keyring:{account}"'
    if value is None or value == "":
        if vendor is not None and not vendor.needs_key:
            return CredentialRef(source="none")
        return CredentialRef(source="keyring", name=account)
    if not isinstance(value, str):
        reader.fail(path, f"expected a key reference string, got {describe(value)}", fix)
    text = value.strip()
    env = _ENV_ONLY.match(text)
    if env:
        return CredentialRef(source="env", name=env.group(1))
    if text.startswith("env:") and _ENV_NAME.match(text[4:]):
        return CredentialRef(source="env", name=text[4:])
    if text.startswith("keyring:") and text[8:].strip():
        return CredentialRef(source="keyring", name=text[8:].strip())
    if text == "none":
        return CredentialRef(source="none")
    reader.fail(path, "this looks like a literal API key; keys never belong in providers.json", fix)


def _kind(reader: Reader, raw: dict[str, Any], path: str, vendor: Vendor | None) -> WireKind:
    if "kind" in raw:
        kind = reader.choice(raw["kind"], child(path, "kind"), get_args(WireKind))
        return "anthropic" if kind == "anthropic" else "gemini" if kind == "gemini" else "openai"
    if vendor is None:
        reader.fail(
            path,
            "unknown provider id, so its wire protocol is unknown",
            'add "kind": "openai" (any OpenAI-compatible server), "anthropic" or "gemini", and "baseUrl"',
        )
    return vendor.kind


def _base_url(reader: Reader, raw: dict[str, Any], path: str, vendor: Vendor | None, kind: WireKind) -> str:
    fix = 'write the API root, e.g. "baseUrl": "http://localhost:11434/v1"'
    if "baseUrl" in raw:
        url = reader.string(raw["baseUrl"], child(path, "baseUrl"), fix=fix)
        if not url.startswith(("http://", "https://")):
            reader.fail(child(path, "baseUrl"), "must start with http:// or https://", fix)
        return url.rstrip("/")
    if vendor is not None and vendor.kind == kind:
        return vendor.base_url
    why = "its kind differs from the vendor's default endpoint" if vendor is not None else "it is not a known vendor"
    reader.fail(path, f'"baseUrl" is required because {why}', fix)


def _options(reader: Reader, raw: dict[str, Any], path: str, vendor: Vendor | None) -> WireOptions:
    options = vendor.options if vendor is not None else WireOptions()
    if "options" not in raw:
        return options
    block = reader.obj(raw["options"], path)
    reader.known_keys(block, path, _OPTION_KEYS)
    update: dict[str, Any] = {}
    if "maxTokensField" in block:
        update["max_tokens_field"] = reader.choice(
            block["maxTokensField"], child(path, "maxTokensField"), ("max_completion_tokens", "max_tokens")
        )
    for key in ("temperatureMin", "temperatureMax"):
        if key in block:
            update[_OPTION_KEYS[key]] = reader.number(block[key], child(path, key))
    if "streamUsage" in block:
        update["stream_usage"] = reader.boolean(block["streamUsage"], child(path, "streamUsage"))
    return WireOptions.model_validate({**options.model_dump(), **update})


def _account_entries(reader: Reader, raw: dict[str, Any], path: str, provider: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, body) of each account; a provider without `accounts` is a pool of one named after the provider."""
    if "accounts" not in raw:
        return [(path, {"id": provider, "apiKey": raw.get("apiKey")})]
    accounts_path = child(path, "accounts")
    accounts = raw["accounts"]
    fix = 'write [{"id": "work", "apiKey": "${WORK_KEY}"}, ...] or remove "accounts" and use "apiKey"'
    if not isinstance(accounts, list) or not accounts:
        reader.fail(accounts_path, f"expected a non-empty list, got {describe(accounts)}", fix)
    if "apiKey" in raw:
        reader.warn(child(path, "apiKey"), "ignored because accounts are listed; give each account its own apiKey")
    entries: list[tuple[str, dict[str, Any]]] = []
    for index, entry in enumerate(accounts):
        entry_path = item(accounts_path, index)
        # the short form lists bare account ids: "accounts": ["google-1", "google-2"]
        body = {"id": entry} if isinstance(entry, str) else dict(reader.obj(entry, entry_path, fix=fix))
        reader.known_keys(body, entry_path, _ACCOUNT_KEYS)
        body.setdefault("id", f"{provider}-{index + 1}")
        entries.append((entry_path, body))
    return entries


def _accounts(reader: Reader, raw: dict[str, Any], path: str, provider: ProviderConfig) -> tuple[Account, ...]:
    vendor = vendor_for(provider.id)
    section = reader.catalog.provider(provider.catalog)
    shared = parse_quota(reader, raw.get("quota"), child(path, "quota"), section)
    entries = _account_entries(reader, raw, path, provider.id)
    own = [parse_quota(reader, body.get("quota"), child(entry_path, "quota"), section) for entry_path, body in entries]
    # an account whose quota is absent or empty ({ /* ... */ }) is "like the others": the provider's
    # quota if set, else the first account quota given in the pool
    fallback = shared or next((quota for quota in own if quota is not None), None)
    default = QuotaSpec(timezone=section.quota_timezone if section is not None else "UTC")
    accounts: list[Account] = []
    for (entry_path, body), quota in zip(entries, own, strict=True):
        account_id = reader.string(body["id"], child(entry_path, "id"))
        key_path = child(entry_path, "apiKey") if "apiKey" in body else entry_path
        accounts.append(
            Account(
                id=account_id,
                provider=provider.id,
                kind=provider.kind,
                # an account may reach the provider through its own endpoint (a region, a proxy, a test server)
                base_url=_base_url(reader, body, entry_path, vendor, provider.kind)
                if "baseUrl" in body
                else provider.base_url,
                credential=parse_api_key(reader, body.get("apiKey"), key_path, provider.id, account_id, vendor),
                quota=quota or fallback or default,
                budget=parse_budget(reader, body.get("budgetUsd"), child(entry_path, "budgetUsd")),
                enabled=reader.boolean(body["enabled"], child(entry_path, "enabled")) if "enabled" in body else True,
            )
        )
    return tuple(accounts)


def parse_provider(reader: Reader, provider_id: str, value: Any, path: str) -> ProviderConfig:
    """One provider block.

    Raises:
        ConfigError: anything malformed, an unknown provider without kind/baseUrl, or a literal key.
    """
    raw = reader.obj(value, path, fix='write {"apiKey": "${ENV_VAR}"} or see the README for a provider block')
    reader.known_keys(raw, path, _PROVIDER_KEYS)
    vendor = vendor_for(provider_id)
    kind = _kind(reader, raw, path, vendor)
    catalog = vendor.catalog if vendor is not None else provider_id
    if "catalog" in raw:
        catalog = reader.string(raw["catalog"], child(path, "catalog")).lower()
    balancing: LoadBalancing = "round_robin"
    if "loadBalancing" in raw:
        chosen = reader.choice(raw["loadBalancing"], child(path, "loadBalancing"), get_args(LoadBalancing))
        balancing = "least_used" if chosen == "least_used" else "random" if chosen == "random" else "round_robin"
    skeleton = ProviderConfig(
        id=provider_id,
        kind=kind,
        label=reader.string(raw["label"], child(path, "label")) if "label" in raw else _label(vendor, provider_id),
        base_url=_base_url(reader, raw, path, vendor, kind),
        enabled=reader.boolean(raw["enabled"], child(path, "enabled")) if "enabled" in raw else True,
        accounts=(),
        load_balancing="least_used"
        if balancing == "least_used"
        else "random"
        if balancing == "random"
        else "round_robin",
        options=_options(reader, raw, child(path, "options"), vendor),
        budget=parse_budget(reader, raw.get("budgetUsd"), child(path, "budgetUsd")),
        catalog=catalog,
    )
    accounts = _accounts(reader, raw, path, skeleton)
    local = _is_local(vendor, accounts)
    models = parse_models(reader, catalog, raw.get("models"), child(path, "models"), local=local)
    if not models:
        reader.warn(child(path, "models"), 'no models to route to; add "models": {"<model id>": {"contextWindow": N}}')
    provider = skeleton.model_copy(
        update={
            "accounts": accounts,
            "models": models,
            "successors": successors_of(reader.catalog, catalog, models.values()),
            "models_from_catalog": raw.get("models") in (None, {}, []),
        }
    )
    reader.warnings.extend(mask_keys(str(notice)) for notice in lifecycle_notices(provider, (), reader.today))
    return provider


def _is_local(vendor: Vendor | None, accounts: tuple[Account, ...]) -> bool:
    """Whether the provider runs on the user's machine (its models cost nothing unless priced): a local vendor
    (Ollama, LM Studio), or an unknown one whose every account is reached on a loopback address or without a key.
    A paying vendor stays paying behind a local address (a proxy, a gateway)."""
    if vendor is not None:
        return not vendor.needs_key
    return all(is_loopback_url(account.base_url) or account.credential.source == "none" for account in accounts)


def _label(vendor: Vendor | None, provider_id: str) -> str:
    return vendor.label if vendor is not None and vendor.label else provider_id
