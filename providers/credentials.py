"""API keys: the OS keychain through `keyring`, environment variables as the alternative. Keys never leave here
except as `SecretStr` handed to an adapter's `Endpoint`.

Lookup order for an account, first hit wins:

1. `apiKey: "${VAR}"` in providers.json -> the environment variable VAR, and nothing else (the user said where).
2. `apiKey: "keyring:<id>"`, or no apiKey at all -> the keychain entry (service `provider-router`, user `<id>`).
3. For a provider's only account (account id == provider id) with nothing in the keychain -> the vendor's
   conventional variable (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GOOGLE_API_KEY`, `ZAI_API_KEY`, ...).

Every key is stripped of surrounding whitespace (sourcing a CRLF `.env` leaves a `\r`); a key still holding a
control or non-ASCII character cannot travel in an HTTP header and is refused (`UnusableKey`, an auth failure of
its account) with a message naming where it came from.

Keychain calls block (D-Bus, macOS Security framework), so they run in a worker thread; results are cached per
process and `forget()` drops one after an auth failure so a changed key is picked up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, Literal, Protocol

import anyio.to_thread
from pydantic import SecretStr

from providers.errors import UnusableKey
from providers.models import Account
from providers.types import Frozen
from providers.vendors import vendor_for

SERVICE = "provider-router"
#: the entry `problem()` reads to see whether the keychain answers (it is never written)
PROBE_ACCOUNT = "provider-router-probe"
KeySource = Literal["keyring", "env", "none"]


class CredentialError(Exception):
    """The keychain could not be used; the message names the fix."""


def _usable(value: str | None, account: Account, source: str) -> SecretStr | None:
    """`value` stripped of surrounding whitespace, None when empty; `UnusableKey` when no header can carry it."""
    key = (value or "").strip()
    if not key:
        return None
    problem = _key_problem(key)
    if problem is not None:
        raise UnusableKey(
            f"the key in {source} contains {problem}, which an HTTP header cannot carry. "
            f"Fix: set {source} again to the key alone, as the provider shows it",
            provider=account.provider,
            account=account.id,
            status_code=0,
        )
    return SecretStr(key)


def _key_problem(key: str) -> str | None:
    if any(ord(char) < 32 or ord(char) == 127 for char in key):
        return "a control character (a line break or tab, say)"
    if not key.isascii():
        return "a non-ASCII character"
    return None


class KeyLocation(Frozen):
    """Where an account's key lives (never the key itself)."""

    provider: str
    account: str
    source: KeySource
    detail: str


class BackendInfo(Frozen):
    name: str
    secure: bool
    why: str


class CredentialStore(Protocol):
    async def get(self, account: Account) -> SecretStr | None:
        """The account's key, stripped; raises `UnusableKey` when no HTTP header can carry it."""
        ...

    async def locate(self, account: Account) -> KeyLocation: ...

    async def set(self, account_id: str, key: str) -> None: ...

    async def delete(self, account_id: str) -> bool: ...

    def forget(self, account_id: str) -> None: ...


def ensure_session_bus(environ: MutableMapping[str, str], *, platform: str = sys.platform) -> str | None:
    """Point D-Bus clients at the user's session bus when an agent started us without its address.

    Agents launch stdio servers with a thin environment (often no DBUS_SESSION_BUS_ADDRESS), but on Linux the
    bus still sits at /run/user/<uid>/bus. Returns a sentence on what was done, for `doctor`.
    """
    if not platform.startswith("linux") or environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    bus = Path(f"/run/user/{os.getuid()}/bus")
    if not bus.exists():
        return None
    environ["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={bus}"
    return f"DBUS_SESSION_BUS_ADDRESS was not set; using the session bus at {bus}"


def _backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__.removeprefix('keyring.backends.')}.{cls.__name__}"


def describe_backend(backend: Any | None = None) -> BackendInfo:
    """Which keyring backend is in use and why, in words a user can act on."""
    import keyring
    from keyring.backends import fail

    backend = backend if backend is not None else keyring.get_keyring()
    name = _backend_name(backend)
    if isinstance(backend, fail.Keyring):
        return BackendInfo(
            name=name,
            secure=False,
            why="no OS keychain is reachable (on Linux: no Secret Service on the D-Bus session bus). "
            "Fix: start gnome-keyring or KeePassXC's Secret Service, or use `${ENV_VAR}` references in providers.json",
        )
    forced = os.environ.get("PYTHON_KEYRING_BACKEND")
    if forced:
        return BackendInfo(
            name=name, secure="plaintext" not in name.lower(), why=f"forced by PYTHON_KEYRING_BACKEND={forced}"
        )
    insecure = any(word in name.lower() for word in ("plaintext", "null", "memory"))
    return BackendInfo(name=name, secure=not insecure, why="the highest-priority keychain keyring found on this system")


class KeyringCredentials:
    """`CredentialStore` over the OS keychain with environment-variable references."""

    def __init__(self, environ: Mapping[str, str], backend: Any | None = None) -> None:
        self._environ = environ
        self._backend = backend
        self._cache: dict[str, SecretStr | None] = {}

    def _keyring(self) -> Any:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend

    def _read_keychain(self, account_id: str) -> str | None:
        from keyring.errors import KeyringError

        try:
            value: str | None = self._keyring().get_password(SERVICE, account_id)
        except KeyringError:
            # An unusable keychain reads as "no key here"; `doctor` and `keys set` report the backend's problem.
            return None
        return value

    def _fallback_env(self, account: Account) -> str | None:
        vendor = vendor_for(account.provider)
        if vendor is None or vendor.key_env is None or account.id != account.provider:
            return None
        return vendor.key_env

    async def locate(self, account: Account) -> KeyLocation:
        ref = account.credential
        where = {"provider": account.provider, "account": account.id}
        if ref.source == "env":
            value = self._environ.get(ref.name, "").strip()
            problem = _key_problem(value)
            detail = f"environment variable {ref.name}" + ("" if value else " (not set)")
            if problem is not None:
                detail += f" (unusable: it contains {problem}; set it again to the key alone)"
            return KeyLocation(**where, source="env" if value and problem is None else "none", detail=detail)
        if ref.source == "keyring":
            name = ref.name or account.id
            if await anyio.to_thread.run_sync(self._read_keychain, name):
                return KeyLocation(**where, source="keyring", detail=f"keychain {SERVICE}/{name}")
            fallback = self._fallback_env(account)
            if fallback and self._environ.get(fallback, "").strip():
                return KeyLocation(**where, source="env", detail=f"environment variable {fallback}")
            return KeyLocation(
                **where,
                source="none",
                detail=f"no key: run `provider-router keys set {account.provider} --account {account.id}`",
            )
        return KeyLocation(**where, source="none", detail="no key needed")

    async def get(self, account: Account) -> SecretStr | None:
        if account.id in self._cache:
            return self._cache[account.id]
        key = await self._lookup(account)
        self._cache[account.id] = key
        return key

    async def _lookup(self, account: Account) -> SecretStr | None:
        """Raises `UnusableKey` for a key with a character no header can carry."""
        ref = account.credential
        if ref.source == "env":
            return _usable(self._environ.get(ref.name), account, f"environment variable {ref.name}")
        if ref.source == "keyring":
            name = ref.name or account.id
            stored = await anyio.to_thread.run_sync(self._read_keychain, name)
            key = _usable(stored, account, f"keychain entry {SERVICE}/{name}")
            if key is not None:
                return key
            fallback = self._fallback_env(account)
            if fallback is None:
                return None
            return _usable(self._environ.get(fallback), account, f"environment variable {fallback}")
        return None

    async def problem(self) -> str | None:
        """Why the keychain cannot hold keys here (naming the fix), or None when it answers; asks nothing else."""
        from keyring.backends import fail

        backend = await anyio.to_thread.run_sync(self._keyring)
        info = describe_backend(backend)
        if isinstance(backend, fail.Keyring):
            return info.why
        try:
            await anyio.to_thread.run_sync(backend.get_password, SERVICE, PROBE_ACCOUNT)
        except Exception as error:  # backends raise their own types (D-Bus errors, a locked collection)
            return (
                f"the keychain ({info.name}) does not answer ({type(error).__name__}: {error}). "
                "Fix: unlock or start it (gnome-keyring, KeePassXC's Secret Service), "
                "or use `${ENV_VAR}` references in providers.json"
            )
        return None

    async def set(self, account_id: str, key: str) -> None:
        from keyring.errors import KeyringError

        try:
            await anyio.to_thread.run_sync(self._keyring().set_password, SERVICE, account_id, key)
        except KeyringError as error:
            info = describe_backend(self._keyring())
            said = str(error).replace(key, "***") if key else str(error)
            raise CredentialError(
                f"could not store the key in the keychain ({info.name}: {type(error).__name__}: {said}); {info.why}"
            ) from error
        self._cache.pop(account_id, None)

    async def delete(self, account_id: str) -> bool:
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            await anyio.to_thread.run_sync(self._keyring().delete_password, SERVICE, account_id)
        except PasswordDeleteError:
            return False
        except KeyringError as error:
            info = describe_backend(self._keyring())
            raise CredentialError(f"could not delete the key from the keychain ({info.name}): {info.why}") from error
        finally:
            self._cache.pop(account_id, None)
        return True

    def forget(self, account_id: str) -> None:
        self._cache.pop(account_id, None)
