"""The keys step of `setup`: the keychain when one answers, environment-variable references when none does.

Without a usable keychain (headless Linux, a container, WSL: keyring's fail backend, a locked or absent Secret
Service) setup says so before any question, asks for no key, writes `"apiKey": "${VAR}"` with each vendor's usual
variable (numbered in a pool), and lists the variables to set once the file is written. Local providers (Ollama,
LM Studio, a `baseUrl` on loopback) have no accounts or keys to ask about.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from providers.addresses import is_loopback_url
from providers.credentials import KeyringCredentials
from providers.vendors import vendor_for
from server.cli.common import UserError

if TYPE_CHECKING:
    from server.cli.setup_plan import Plan, Prompter

#: `${VAR}`, `${VAR:-default}` or `env:VAR`: the forms of an environment reference providers.json accepts
_ENV_REF = re.compile(r"\$\{([A-Za-z_]\w*)(?::-[^}]*)?\}|env:([A-Za-z_]\w*)")


def keyring_ref(account_id: str) -> str:
    return f"keyring:{account_id}"


def env_variable(provider: str, index: int | None = None) -> str:
    """The variable that holds an account's key when there is no keychain: the vendor's usual one
    (OPENAI_API_KEY), numbered for the accounts of a pool (GOOGLE_API_KEY_2 for index 1)."""
    vendor = vendor_for(provider)
    base = vendor.key_env if vendor is not None and vendor.key_env else None
    base = base or re.sub(r"[^A-Z0-9]+", "_", provider.upper()).strip("_") + "_API_KEY"
    return base if index is None else f"{base}_{index + 1}"


def env_ref(plan: Plan, provider: str, account_id: str, index: int | None, old_ref: Any) -> str:
    """No keychain: a `${VAR}` reference (an existing reference is kept), noted in `plan.variables`."""
    if isinstance(old_ref, str) and old_ref.startswith("keyring:"):
        # written when a keychain worked here: most likely only this session cannot reach it
        plan.unreachable.append(account_id)
        return old_ref
    match = _ENV_REF.fullmatch(old_ref) if isinstance(old_ref, str) else None
    name = (match[1] or match[2]) if match else env_variable(provider, index)
    plan.variables[account_id] = name
    return old_ref if match else "${" + name + "}"


def is_local(provider: str, entry: Mapping[str, Any], root: str | None = None) -> bool:
    """A provider on this machine (Ollama, LM Studio, or a `baseUrl` on loopback): no accounts, no key.

    A URL under the test override `root` says nothing about the provider, so it does not count.
    """
    vendor = vendor_for(provider)
    if vendor is not None and not vendor.needs_key:
        return True
    url = entry.get("baseUrl")
    if not isinstance(url, str) or (root is not None and url.startswith(root.rstrip("/"))):
        return False
    return is_loopback_url(url)


def use_variables_for(plan: Plan, accounts: set[str]) -> None:
    """The keychain refused keys after they were typed: those accounts read theirs from variables instead."""
    for provider, entry in plan.document.get("providers", {}).items():
        if provider not in plan.chosen or not isinstance(entry, dict):
            continue
        pool = entry.get("accounts")
        holders: list[tuple[dict[str, Any], Any, int | None]] = (
            [] if isinstance(pool, list) else [(entry, provider, None)]
        )
        holders += [(a, a.get("id"), i) for i, a in enumerate(pool or []) if isinstance(a, dict)]
        for holder, account_id, index in holders:
            if account_id in accounts and holder.get("apiKey") == keyring_ref(str(account_id)):
                name = env_variable(provider, index)
                holder["apiKey"] = "${" + name + "}"
                plan.variables[str(account_id)] = name
    plan.keys.clear()
    plan.keychain = False


def check_keychain(prompter: Prompter, environ: Mapping[str, str]) -> bool:
    """Whether keys can go to the keychain; without one, say so before any question and offer variables."""
    problem = anyio.run(KeyringCredentials(environ).problem)
    if problem is None:
        return True
    prompter.say(f"No usable keychain here: {problem}")
    prompter.say(
        'Keys can be read from environment variables instead: providers.json gets "${VAR}" references (never a '
        "key), no key is asked for, and the variables to set are listed once the file is written."
    )
    if not prompter.confirm("Use environment variables for the keys?", default=True):
        raise UserError(
            "setup stopped before any question; nothing was written. Start or unlock a keychain (gnome-keyring, "
            "KeePassXC's Secret Service), then run `provider-router setup` again"
        )
    return False


def say_variables(prompter: Prompter, plan: Plan, environ: Mapping[str, str]) -> None:
    """The variables the user must set (and the accounts left on a keychain this session cannot reach)."""
    for account_id in plan.unreachable:
        prompter.say(
            f"{account_id} keeps its key in the keychain (keyring:{account_id}), which this session cannot reach; "
            f"`provider-router doctor` in the agent's session says whether the server can"
        )
    if not plan.variables:
        return
    prompter.say(
        "Set these environment variables where your agents start the server (your shell profile, or the "
        '"env" of each agent\'s provider-router entry):'
    )
    command = "setx {name} <key>" if sys.platform == "win32" else "export {name}=<key>"
    for account_id, name in plan.variables.items():
        state = "already set in this shell" if environ.get(name) else "not set yet"
        prompter.say(f"  {command.format(name=name)}    # the key for {account_id} ({state})")
