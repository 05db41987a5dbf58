"""`keys set|list|delete`: API keys in the OS keychain. A key is read without echo and never printed."""

from __future__ import annotations

import argparse
import getpass
import sys

from providers.credentials import describe_backend
from providers.models import Account
from server.cli.common import UserError, cli_app, console, emit_json, run, say, warn
from server.wiring import App


def keys(args: argparse.Namespace) -> int:
    """Dispatch `keys set|list|delete`."""
    if args.action == "list":
        return run(lambda: _list(args.provider, args.account, as_json=args.json))
    if args.action == "set":
        return run(lambda: _set(args.provider, args.account, as_json=args.json))
    return run(lambda: _delete(args.provider, args.account, as_json=args.json))


def find_account(app: App, provider_id: str, account_id: str | None) -> Account | None:
    """The configured account a `keys` verb means; None when the provider is not configured (yet).

    Raises:
        UserError: the provider has several accounts and none was named, or no account has that id.
    """
    provider = app.config.providers.get(provider_id)
    if provider is None:
        return None
    if account_id is None:
        if len(provider.accounts) == 1:
            return provider.accounts[0]
        ids = ", ".join(account.id for account in provider.accounts)
        raise UserError(f"{provider_id} has several accounts ({ids}); name one with --account")
    for account in provider.accounts:
        if account.id == account_id:
            return account
    ids = ", ".join(account.id for account in provider.accounts)
    raise UserError(f"{provider_id} has no account {account_id!r} (it has: {ids})")


def keychain_name(account: Account | None, provider_id: str, account_id: str | None) -> str:
    """The keychain entry an account's key is read from (`keyring:<name>`, by default its id)."""
    if account is not None and account.credential.source == "keyring" and account.credential.name:
        return account.credential.name
    if account is not None:
        return account.id
    return account_id or provider_id


def read_key(prompt: str) -> str:
    """A key from the terminal without echo, or one line from a pipe (`echo $KEY | provider-router keys set x`)."""
    key = (getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline()).strip()
    if not key:
        raise UserError("no key given; paste the key at the prompt (or pipe it on stdin)")
    return key


async def _set(provider_id: str, account_id: str | None, *, as_json: bool) -> int:
    async with cli_app() as app:
        account = find_account(app, provider_id, account_id)
        name = keychain_name(account, provider_id, account_id)
        if account is not None and account.credential.source == "env":
            warn(
                f"providers.json reads {account.id}'s key from ${account.credential.name}; the keychain entry is used "
                f'once you set its apiKey to "keyring:{name}"'
            )
        if account is None:
            warn(f"{provider_id} is not in providers.json yet; the key is stored as {name} for when it is")
        key = read_key(f"API key for {name} (input hidden): ")
        await app.credentials.set(name, key)
        if account is not None:
            await app.states.enable(account.id)
        backend = describe_backend().name
    if as_json:
        emit_json({"provider": provider_id, "account": name, "stored_in": f"keyring ({backend})"})
        return 0
    say(f"stored the key for {name} in the keychain ({backend})")
    return 0


async def _delete(provider_id: str, account_id: str | None, *, as_json: bool) -> int:
    async with cli_app() as app:
        name = keychain_name(find_account(app, provider_id, account_id), provider_id, account_id)
        deleted = await app.credentials.delete(name)
    if as_json:
        emit_json({"provider": provider_id, "account": name, "deleted": deleted})
        return 0 if deleted else 1
    if not deleted:
        raise UserError(f"the keychain holds no key for {name}; `provider-router keys list` shows where keys are")
    say(f"deleted the key for {name} from the keychain")
    return 0


async def _list(provider_id: str | None, account_id: str | None, *, as_json: bool) -> int:
    async with cli_app() as app:
        if provider_id is not None and provider_id not in app.config.providers:
            raise UserError(f"{provider_id!r} is not a configured provider; `provider-router list` shows them")
        accounts = [
            account
            for provider in app.config.providers.values()
            for account in provider.accounts
            if provider_id in (None, provider.id) and account_id in (None, account.id)
        ]
        locations = [await app.credentials.locate(account) for account in accounts]
        backend = describe_backend()
    if as_json:
        emit_json({"backend": backend, "accounts": locations})
        return 0
    if not locations:
        say("no accounts configured; run `provider-router setup`")
        return 0
    from rich.table import Table

    table = Table(title=f"API keys (keychain: {backend.name})", title_justify="left")
    for column in ("Provider", "Account", "Key"):
        table.add_column(column)
    for account, location in zip(accounts, locations, strict=True):
        style = "red" if location.source == "none" and account.credential.source != "none" else ""
        table.add_row(location.provider, location.account, location.detail, style=style)
    console().print(table)
    if not backend.secure:
        warn(f"the keychain backend is not secure: {backend.why}")
    return 0
