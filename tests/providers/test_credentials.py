from __future__ import annotations

from pathlib import Path

import keyring
import pytest

from providers.credentials import (
    SERVICE,
    CredentialError,
    KeyringCredentials,
    describe_backend,
    ensure_session_bus,
)
from providers.errors import UnusableKey
from providers.models import Account, CredentialRef
from tests.keychain import SecretService
from tests.memory_keyring import MemoryKeyring

pytestmark = pytest.mark.anyio


def _account(account_id: str, provider: str, ref: CredentialRef) -> Account:
    return Account(id=account_id, provider=provider, kind="openai", base_url="http://127.0.0.1:1/v1", credential=ref)


async def test_an_env_reference_reads_only_that_variable(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(SERVICE, "openai", "from-keychain")
    store = KeyringCredentials({"MY_KEY": "from-env"})
    key = await store.get(_account("openai", "openai", CredentialRef(source="env", name="MY_KEY")))
    assert key is not None and key.get_secret_value() == "from-env"


async def test_the_keychain_comes_before_the_vendor_variable(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(SERVICE, "openai", "from-keychain")
    store = KeyringCredentials({"OPENAI_API_KEY": "from-env"})
    key = await store.get(_account("openai", "openai", CredentialRef(source="keyring", name="openai")))
    assert key is not None and key.get_secret_value() == "from-keychain"


async def test_a_single_account_falls_back_to_the_vendor_variable() -> None:
    store = KeyringCredentials({"OPENAI_API_KEY": "from-env"})
    account = _account("openai", "openai", CredentialRef(source="keyring", name="openai"))
    key = await store.get(account)
    assert key is not None and key.get_secret_value() == "from-env"
    location = await store.locate(account)
    assert (location.source, location.detail) == ("env", "environment variable OPENAI_API_KEY")


async def test_a_pool_account_does_not_borrow_the_vendor_variable() -> None:
    store = KeyringCredentials({"GOOGLE_API_KEY": "shared"})
    account = _account("google-2", "google", CredentialRef(source="keyring", name="google-2"))
    assert await store.get(account) is None
    location = await store.locate(account)
    assert location.source == "none"
    assert "provider-router keys set google --account google-2" in location.detail


async def test_set_then_delete_round_trips_and_invalidates_the_cache(memory_keyring: MemoryKeyring) -> None:
    store = KeyringCredentials({})
    account = _account("zai", "zai", CredentialRef(source="keyring", name="zai"))
    assert await store.get(account) is None
    await store.set("zai", "k-1")
    assert memory_keyring.entries[(SERVICE, "zai")] == "k-1"
    key = await store.get(account)
    assert key is not None and key.get_secret_value() == "k-1"
    assert await store.delete("zai") is True
    assert await store.delete("zai") is False
    assert await store.get(account) is None


async def test_a_key_is_never_shown_by_its_location_or_repr(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(SERVICE, "kimi", "sk-very-secret-value")
    store = KeyringCredentials({})
    account = _account("kimi", "kimi", CredentialRef(source="keyring", name="kimi"))
    key = await store.get(account)
    location = await store.locate(account)
    assert "sk-very-secret-value" not in repr(key) + str(key) + location.model_dump_json()


def test_the_session_bus_is_found_when_an_agent_left_it_out(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert ensure_session_bus(environ, platform="darwin") is None
    assert ensure_session_bus({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, platform="linux") is None
    said = ensure_session_bus(environ, platform="linux")
    import os

    bus = Path(f"/run/user/{os.getuid()}/bus")
    if bus.exists():
        assert environ["DBUS_SESSION_BUS_ADDRESS"] == f"unix:path={bus}" and said
    else:
        assert said is None and not environ


async def test_deleting_from_an_unusable_keychain_is_a_credential_error_naming_the_fix() -> None:
    from keyring.backends import fail

    store = KeyringCredentials({}, backend=fail.Keyring())  # type: ignore[no-untyped-call]
    with pytest.raises(CredentialError, match=r"\$\{ENV_VAR\}"):
        await store.delete("zai")


def test_doctor_names_an_unusable_keychain_and_the_fix() -> None:
    from keyring.backends import fail

    info = describe_backend(fail.Keyring())  # type: ignore[no-untyped-call]
    assert not info.secure
    assert "${ENV_VAR}" in info.why


async def test_a_keychain_that_answers_has_no_problem(memory_keyring: MemoryKeyring) -> None:
    assert await KeyringCredentials({}).problem() is None
    assert memory_keyring.entries == {}  # the probe only reads


async def test_no_keychain_at_all_is_a_problem_naming_the_fix() -> None:
    from keyring.backends import fail

    problem = await KeyringCredentials({}, backend=fail.Keyring()).problem()  # type: ignore[no-untyped-call]
    assert problem is not None and "${ENV_VAR}" in problem


async def test_a_locked_keychain_is_a_problem_naming_the_fix_and_a_refused_key_is_not_echoed() -> None:
    from keyring.errors import KeyringLocked

    class Locked(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise KeyringLocked("collection is locked")

        def set_password(self, service: str, username: str, password: str) -> None:
            raise KeyringLocked(f"cannot store {password}")

    store = KeyringCredentials({}, backend=Locked())
    problem = await store.problem()
    assert problem is not None and "KeyringLocked: collection is locked" in problem and "unlock" in problem
    with pytest.raises(CredentialError) as raised:
        await store.set("zai", "sk-secret-value")
    assert "sk-secret-value" not in str(raised.value) and "KeyringLocked" in str(raised.value)


async def test_keys_live_in_a_real_secret_service(
    secret_service: SecretService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyring.backends import SecretService as secret_service_backend

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.bus_address)
    monkeypatch.setenv("HOME", str(secret_service.home))
    backend = secret_service_backend.Keyring()  # type: ignore[no-untyped-call]
    keyring.set_keyring(backend)
    store = KeyringCredentials({})
    account = _account("google-1", "google", CredentialRef(source="keyring", name="google-1"))
    await store.set("google-1", "AI-test-key-1")
    fresh = KeyringCredentials({}, backend=backend)
    key = await fresh.get(account)
    assert key is not None and key.get_secret_value() == "AI-test-key-1"
    assert (await fresh.locate(account)).detail == f"keychain {SERVICE}/google-1"
    assert describe_backend(backend).secure
    assert await fresh.delete("google-1") is True
    fresh.forget("google-1")
    assert await fresh.get(account) is None


# ------------------------------------------------------------------ keys as a CRLF .env or a paste leaves them


@pytest.mark.parametrize(
    "raw", ["sk-from-env-0123456789\r", "  sk-from-env-0123456789\r\n", "\tsk-from-env-0123456789 "]
)
async def test_a_key_from_an_env_reference_is_stripped_of_surrounding_whitespace(raw: str) -> None:
    store = KeyringCredentials({"MY_KEY": raw})
    key = await store.get(_account("openai", "openai", CredentialRef(source="env", name="MY_KEY")))
    assert key is not None and key.get_secret_value() == "sk-from-env-0123456789"


async def test_a_key_from_the_vendor_variable_is_stripped() -> None:
    store = KeyringCredentials({"OPENAI_API_KEY": "sk-vendor-0123456789\r"})
    key = await store.get(_account("openai", "openai", CredentialRef(source="keyring", name="openai")))
    assert key is not None and key.get_secret_value() == "sk-vendor-0123456789"


async def test_a_key_from_the_keychain_is_stripped(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(SERVICE, "zai", "zai-key-0123456789\n")
    store = KeyringCredentials({})
    key = await store.get(_account("zai", "zai", CredentialRef(source="keyring", name="zai")))
    assert key is not None and key.get_secret_value() == "zai-key-0123456789"


async def test_a_variable_holding_only_whitespace_is_no_key() -> None:
    store = KeyringCredentials({"MY_KEY": " \r\n"})
    account = _account("openai", "openai", CredentialRef(source="env", name="MY_KEY"))
    assert await store.get(account) is None
    assert (await store.locate(account)).source == "none"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [("sk-one\rsk-two-0123456789", "control character"), ("sk-clé-0123456789", "non-ASCII")],
)
async def test_a_key_no_header_can_carry_is_an_auth_failure_naming_the_variable(raw: str, problem: str) -> None:
    store = KeyringCredentials({"MY_KEY": raw})
    account = _account("openai", "openai", CredentialRef(source="env", name="MY_KEY"))
    with pytest.raises(UnusableKey) as raised:
        await store.get(account)
    error = raised.value
    assert (error.error_class, error.provider, error.account) == ("auth_failed", "openai", "openai")
    assert "environment variable MY_KEY" in error.message and problem in error.message
    assert raw not in str(error) and "0123456789" not in str(error)
    location = await store.locate(account)
    assert location.source == "none" and "unusable" in location.detail


async def test_an_unusable_keychain_entry_is_named(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(SERVICE, "zai", "zai\x00key-0123456789")
    store = KeyringCredentials({})
    with pytest.raises(UnusableKey) as raised:
        await store.get(_account("zai", "zai", CredentialRef(source="keyring", name="zai")))
    assert f"keychain entry {SERVICE}/zai" in raised.value.message
