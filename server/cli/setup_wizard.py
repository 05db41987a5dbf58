"""`provider-router setup`: the first run, and every run after it.

Asks which providers to use (and how many accounts for a pool), takes each key without echo and stores it in the
OS keychain (providers.json only ever holds `keyring:<account>` or `${ENV_VAR}` references), asks the default
provider, the budget mode and a daily cap, writes providers.json (the previous file is kept as a backup; its
values are the defaults, providers left out are disabled, never deleted), sends one tiny request per key to
verify it, and offers `install` for the agents found on this machine.

`--yes` takes the flags and the defaults without asking. For tests only, `--base-url-override ROOT` (or the
environment variable PROVIDER_ROUTER_SETUP_BASE_URL) points every account at a loopback simulator:
`ROOT/<account id>` plus the wire's usual suffix (/v1, /v1beta).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio

from clients.configfile import read_text
from providers.clock import Clock
from providers.credentials import CredentialError, KeyringCredentials, describe_backend
from providers.local import Detected
from providers.models import Account, CredentialRef
from providers.vendors import VENDORS, vendor_for
from routing.preferences import BUDGET_MODES
from server.cli.common import UserError, cli_clock
from server.cli.doctor import Check, verify_account
from server.cli.setup_keys import check_keychain, env_ref, is_local, keyring_ref, say_variables, use_variables_for
from server.cli.setup_local import describe, detect_local, fill_local_entry
from server.cli.setup_plan import Plan, Prompter
from server.config import ConfigError, Paths, decode_jsonc, write_config_document
from server.wiring import App, open_app

T = TypeVar("T")
BASE_URL_ENV = "PROVIDER_ROUTER_SETUP_BASE_URL"
OFFERED = ("google", "zai", "kimi", "openai", "anthropic", "deepseek", "groq", "openrouter", "ollama", "lmstudio")
_SUFFIX = {"openai": "/v1", "anthropic": "", "gemini": "/v1beta"}
#: executables that show an agent is installed, beside its config file
_EXECUTABLES = {
    "claude-code": "claude",
    "cursor": "cursor",
    "vscode": "code",
    "windsurf": "windsurf",
    "codex": "codex",
    "gemini-cli": "gemini",
    "zed": "zed",
}


def _existing(paths: Paths) -> dict[str, Any]:
    text = read_text(paths.config_file)
    if text is None or not text.strip():
        return {}
    try:
        data, _ = decode_jsonc(text, str(paths.config_file))
    except ConfigError:
        return {}  # unreadable: it is still kept as the backup when the new file is written
    return data if isinstance(data, dict) else {}


def _base_url(root: str | None, provider: str, account: str) -> str | None:
    vendor = vendor_for(provider)
    if root is None or vendor is None:
        return None
    return f"{root.rstrip('/')}/{account}{_SUFFIX[vendor.kind]}"


def _keyring_account(account_id: str, provider: str = "") -> Account:
    """An account reading its key from the keychain entry `account_id` (to ask the credential store about it)."""
    vendor = vendor_for(provider)
    return Account(
        id=account_id,
        provider=provider or account_id,
        kind=vendor.kind if vendor else "openai",
        base_url=vendor.base_url if vendor else "",
        credential=CredentialRef(source="keyring", name=account_id),
    )


async def _has_stored_key(credentials: KeyringCredentials, provider: str, account_id: str) -> bool:
    return (await credentials.locate(_keyring_account(account_id, provider))).source == "keyring"


def _key_ref(
    prompter: Prompter,
    plan: Plan,
    provider: str,
    account: tuple[str, int | None],
    old_ref: Any,
    environ: Mapping[str, str],
) -> str:
    """Ask for one account's key; return the reference to write (the key itself goes to `plan.keys`).

    `account` is the account's id and its index in a pool (None for a provider's only account).
    """
    account_id, index = account
    vendor = vendor_for(provider)
    if vendor is not None and not vendor.needs_key:
        return ""
    if not plan.keychain:
        ref = env_ref(plan, provider, account_id, index, old_ref)
        prompter.say(f"  {account_id}: the key is read from {ref}")
        return ref
    credentials = KeyringCredentials(environ)
    stored = anyio.run(_has_stored_key, credentials, provider, account_id)
    env_var = vendor.key_env if vendor is not None else None
    if isinstance(old_ref, str) and old_ref.startswith("${"):
        keep, keep_ref = f"Enter keeps {old_ref}", old_ref
    elif stored:
        keep, keep_ref = "Enter keeps the key in the keychain", keyring_ref(account_id)
    elif env_var and environ.get(env_var) and account_id == provider:
        keep, keep_ref = f"Enter uses ${env_var}", "${" + env_var + "}"
    else:
        keep, keep_ref = "Enter to add it later with `provider-router keys set`", keyring_ref(account_id)
    key = prompter.secret(f"  API key for {account_id} (input hidden; {keep})")
    if key:
        plan.keys[account_id] = key
        return keyring_ref(account_id)
    return keep_ref


def _local_entry(
    prompter: Prompter, provider: str, entry: dict[str, Any], root: str | None, found: Detected | None
) -> dict[str, Any]:
    vendor = vendor_for(provider)
    url = _base_url(root, provider, provider)
    if url and "accounts" not in entry:
        entry["baseUrl"] = url
    entry = fill_local_entry(entry, found)
    where = entry.get("baseUrl") or (vendor.base_url if vendor else "")
    label = vendor.label if vendor is not None and vendor.label else provider
    prompter.say(f"{label}: runs on this machine ({where}); no account or key to set up")
    return entry


def _provider_entry(
    prompter: Prompter,
    plan: Plan,
    provider: str,
    old: dict[str, Any],
    root: str | None,
    environ: Mapping[str, str],
    found: Detected | None = None,
) -> dict[str, Any]:
    entry = dict(old)
    entry.pop("enabled", None)
    if found is not None or is_local(provider, entry, root):
        return _local_entry(prompter, provider, entry, root, found)
    old_accounts = [a for a in entry.get("accounts", []) if isinstance(a, dict)]
    label = VENDORS[provider].label if provider in VENDORS else provider
    pool_hint = " (several free accounts take turns)" if provider == "google" else ""
    count_text = prompter.ask(f"{label}: how many accounts{pool_hint}?", str(max(1, len(old_accounts))))
    try:
        count = max(1, int(count_text))
    except ValueError:
        count = 1
    if count == 1 and not old_accounts:
        entry["apiKey"] = _key_ref(prompter, plan, provider, (provider, None), entry.get("apiKey"), environ)
        if not entry["apiKey"]:
            del entry["apiKey"]
        url = _base_url(root, provider, provider)
        if url:
            entry["baseUrl"] = url
        return entry
    entry.pop("apiKey", None)
    accounts = []
    for index in range(count):
        previous = old_accounts[index] if index < len(old_accounts) else {}
        account = {"id": f"{provider}-{index + 1}", **previous}
        ref = _key_ref(prompter, plan, provider, (account["id"], index), previous.get("apiKey"), environ)
        if ref:
            account["apiKey"] = ref
        url = _base_url(root, provider, account["id"])
        if url:
            account["baseUrl"] = url
        accounts.append(account)
    entry["accounts"] = accounts
    entry.setdefault("loadBalancing", "round_robin")
    return entry


def _choose(
    prompter: Prompter, args: argparse.Namespace, existing: dict[str, Any], local: Sequence[str] = ()
) -> list[str]:
    configured = [name for name, value in existing.get("providers", {}).items() if isinstance(value, dict)]
    active = [name for name in configured if existing["providers"][name].get("enabled", True) is not False]
    running = [name for name in local if name not in configured]  # a local server found running is offered
    default = args.providers or ",".join([*active, *running]) or "google,zai"
    prompter.say(f"Known providers: {', '.join(OFFERED)} (any OpenAI-compatible one can be added to the file later)")
    answer = prompter.ask("Which providers? (comma-separated)", default)
    chosen = list(dict.fromkeys(name.strip().lower() for name in answer.split(",") if name.strip()))
    unknown = [name for name in chosen if vendor_for(name) is None and name not in configured]
    if unknown:
        raise UserError(f"unknown provider(s) {', '.join(unknown)}; choose from {', '.join(OFFERED)}")
    if not chosen:
        raise UserError("choose at least one provider")
    return chosen


def _one_of(options: Sequence[str], what: str) -> Callable[[str], str]:
    def check(answer: str) -> str:
        if answer not in options:
            raise ValueError(f"{what} must be one of {', '.join(options)}, not {answer!r}")
        return answer

    return check


def _dollars(answer: str) -> float | None:
    try:
        return float(answer) if answer else None
    except ValueError as error:
        raise ValueError(f"the daily cap must be a number of dollars, not {answer!r}") from error


def _preferences(
    prompter: Prompter, args: argparse.Namespace, old: dict[str, Any], chosen: list[str]
) -> dict[str, Any]:
    prefs = dict(old)
    old_default = prefs.get("default") if isinstance(prefs.get("default"), str) else None
    prefs["default"] = prompter.valid(
        "Default provider", old_default if old_default in chosen else chosen[0], _one_of(chosen, "the default")
    )
    prompter.say("Budget modes: free_only (free tiers only), cost_first (cheapest capable), quality_first (best)")
    prefs["budgetMode"] = args.budget_mode or prompter.valid(
        "Budget mode", str(prefs.get("budgetMode", "quality_first")), _one_of(BUDGET_MODES, "the budget mode")
    )
    budget = dict(prefs.get("budgetUsd") or {})
    old_cap = budget.get("daily")
    default_cap = "" if args.daily_budget is None and old_cap is None else str(args.daily_budget or old_cap)
    cap = prompter.valid("Daily spend cap in USD (Enter for none)", default_cap, _dollars)
    if cap is not None:
        budget["daily"] = cap
        prefs["budgetUsd"] = budget
    prefs.setdefault("autoSwitch", True)
    prefs.setdefault("switchOnLimit", True)
    return prefs


def plan_setup(
    prompter: Prompter,
    args: argparse.Namespace,
    paths: Paths,
    environ: Mapping[str, str],
    *,
    keychain: bool = True,
    local: Sequence[Detected] = (),
) -> Plan:
    """Ask every question and build the new providers.json (nothing written yet).

    Without a `keychain`, no key is asked for: accounts get `${VAR}` references (see `Plan.variables`). `local`: the
    local model servers found running (offered by default, their models listed in their entries).
    """
    existing = _existing(paths)
    root = args.base_url_override or environ.get(BASE_URL_ENV) or None
    for line in describe(local):
        prompter.say(line)
    found = {d.server.provider: d for d in local}
    chosen = _choose(prompter, args, existing, list(found))
    old_providers: dict[str, Any] = {k: v for k, v in existing.get("providers", {}).items() if isinstance(v, dict)}
    plan = Plan(document=dict(existing), chosen=chosen, keychain=keychain)
    providers: dict[str, Any] = {}
    for name in chosen:
        old = old_providers.get(name, {})
        providers[name] = _provider_entry(prompter, plan, name, old, root, environ, found.get(name))
    for name, entry in old_providers.items():
        if name not in chosen:
            providers[name] = {**entry, "enabled": False}
    plan.document["providers"] = providers
    plan.document["preferences"] = _preferences(prompter, args, dict(existing.get("preferences") or {}), chosen)
    return plan


async def _store_keys(plan: Plan, environ: Mapping[str, str], prompter: Prompter) -> str | None:
    """Store the typed keys in the keychain; returns why it refused one (that key and the rest stay in
    `plan.keys`), or None once every key is stored."""
    credentials = KeyringCredentials(environ)
    for account_id, key in list(plan.keys.items()):
        try:
            await credentials.set(account_id, key)
            kept = (await credentials.locate(_keyring_account(account_id))).source == "keyring"
        except CredentialError as error:
            return str(error)
        if not kept:
            return f"the keychain ({describe_backend().name}) did not keep the key for {account_id}"
        del plan.keys[account_id]
        prompter.say(f"  stored the key for {account_id} in the keychain")
    return None


async def _key_missing(app: App, account: Account) -> bool:
    """An account that reads a key none of its sources holds yet."""
    if account.credential.source not in ("env", "keyring"):
        return False
    return (await app.credentials.locate(account)).source == "none"


async def _verify(plan: Plan, paths: Paths, environ: Mapping[str, str], prompter: Prompter) -> list[Check]:
    """One tiny request per account of the chosen providers, through the same App the server opens.

    Without a keychain, an account whose variable is not set yet is skipped: setting it is the next step.
    """
    prompter.say("Verifying each key with one tiny request:")
    checks = []
    async with open_app(paths, environ, clock=cli_clock()) as app:
        providers = [app.config.providers[name] for name in plan.chosen if name in app.config.providers]
        for provider in providers:
            for account in provider.accounts:
                if not plan.keychain and await _key_missing(app, account):
                    prompter.say(f"  · {provider.id}/{account.id}: not checked until its key is set")
                    continue
                check = await verify_account(app.http, app.credentials, provider, account, clock=app.clock)
                checks.append(check)
                mark = {"ok": "✓", "warning": "!", "problem": "✗"}[check.level]
                fix = f" — fix: {check.fix}" if check.fix and check.level != "ok" else ""
                prompter.say(f"  {mark} {check.name}: {check.detail}{fix}")
    return checks


def agents_found(environ: Mapping[str, str], home: Path) -> list[str]:
    """The agents and editors that look installed: their user config exists, or their command is on PATH."""
    from clients.table import load_clients
    from server.cli.install import config_path

    found = []
    for client_id, spec in load_clients().items():
        path = config_path(spec, scope="user", platform=sys.platform, home=home, cwd=Path.cwd(), env=environ)
        executable = _EXECUTABLES.get(client_id)
        near = path is not None and (path.exists() or (path.parent != home and path.parent.exists()))
        on_path = executable is not None and shutil.which(executable, path=environ.get("PATH")) is not None
        if near or on_path:
            found.append(client_id)
    return found


def _offer_install(prompter: Prompter, environ: Mapping[str, str], now: datetime) -> None:
    from server.cli.install import default_server_command, run_install

    home = Path(environ.get("HOME") or Path.home())
    found = agents_found(environ, home)
    if not found:
        prompter.say("No agent found on this machine; later: provider-router install <claude-code|cursor|vscode|...>")
        return
    prompter.say(f"Agents found on this machine: {', '.join(found)}")
    for client in found:
        if prompter.assume_yes:
            prompter.say(f"  to register with {client}: provider-router install {client}")
            continue
        if prompter.confirm(f"Register provider-router with {client}?", default=True):
            run_install(
                client,
                scope="user",
                dry_run=False,
                home=home,
                cwd=Path.cwd(),
                command=default_server_command(),
                platform=sys.platform,
                out=sys.stdout,
                env=environ,
                now=now,
            )


def run_setup(args: argparse.Namespace, environ: Mapping[str, str] | None = None, *, clock: Clock) -> int:
    """The `setup` verb; re-runnable, with a backup of the existing providers.json (named by `clock`)."""
    environ = os.environ if environ is None else environ
    paths = Paths.from_env(environ)
    prompter = Prompter(assume_yes=args.yes)
    prompter.say(f"provider-router setup — configuration: {paths.config_file}")
    if paths.config_file.exists():
        prompter.say("An existing configuration was found: its values are the defaults, and it is kept as a backup.")
    keychain = check_keychain(prompter, environ)
    local = anyio.run(detect_local, environ)
    plan = plan_setup(prompter, args, paths, environ, keychain=keychain, local=local)
    paths.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    refused = anyio.run(_store_keys, plan, environ, prompter)
    if refused is not None:
        prompter.say(f"The keychain refused the keys: {refused}")
        prompter.say("So providers.json reads them from environment variables instead; the keys typed were not kept.")
        use_variables_for(plan, set(plan.keys))
    result = write_config_document(paths, plan.document, environ, now=clock())
    prompter.say(f"Wrote {result.path}" + (f" (the previous file is kept as {result.backup})" if result.backup else ""))
    say_variables(prompter, plan, environ)
    checks = [] if args.no_verify else anyio.run(_verify, plan, paths, environ, prompter)
    if not args.no_install:
        _offer_install(prompter, environ, clock())
    prompter.say("Next: provider-router status   ·   provider-router ask 'hello'   ·   provider-router doctor")
    return 1 if any(check.level == "problem" for check in checks) else 0
