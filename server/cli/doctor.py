"""`provider-router doctor`: check everything a request depends on, and name the fix for each problem.

Checked in order: the configuration (path, valid, warnings), the keychain backend, the database (opens, integrity,
private permissions), each account (a key is found; unless `--offline`, one tiny request proves the provider is
reachable and accepts the key), the local model servers running on this machine (Ollama, LM Studio: their own model
listings, loopback only), the clock and time zones (quota windows reset at a zone's midnight), and that the
top-level import names this distribution installs are its own.
`verify_account` is also what `setup` uses to test each key it stores.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import os
import re
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
import httpx2

from providers.clock import Clock
from providers.credentials import CredentialStore, describe_backend, ensure_session_bus
from providers.errors import (
    AuthFailed,
    ModelNotFound,
    ProviderError,
    ProviderTransportError,
    QuotaExhausted,
    RateLimited,
    UnusableKey,
)
from providers.local import detect, looked_for
from providers.models import Account, ProviderConfig
from providers.registry import make_adapter
from providers.types import ChatRequest, Endpoint, Frozen, Message
from server.config import Notice, Paths, lifecycle_notices
from server.wiring import App, AppUnavailable, open_app, refresh_stale_listings, store_problems
from server.wiring.app import configured_database
from storage import StoreError

Level = Literal["ok", "warning", "problem"]
VERIFY_TIMEOUT_S = 15.0


class Check(Frozen):
    """One finding: what was checked, how it went, and (unless ok) the fix."""

    area: str
    name: str
    level: Level
    detail: str
    fix: str | None = None


class DoctorReport(Frozen):
    home: str
    checks: list[Check]

    @property
    def problems(self) -> int:
        return sum(1 for check in self.checks if check.level == "problem")


# --------------------------------------------------------------------------------------------------- one account


async def verify_account(
    http: httpx2.AsyncClient,
    credentials: CredentialStore,
    provider: ProviderConfig,
    account: Account,
    *,
    clock: Clock,
    timeout_s: float = VERIFY_TIMEOUT_S,
) -> Check:
    """Send one tiny request through the account's adapter: is the provider reachable and the key accepted?"""
    name = f"{provider.id}/{account.id}"
    try:
        key = await credentials.get(account)
    except UnusableKey as unusable:
        detail, _, fix = unusable.message.partition(". Fix: ")
        return Check(area="providers", name=name, level="problem", detail=detail, fix=fix or None)
    if key is None and account.credential.source != "none":
        location = await credentials.locate(account)
        return Check(area="providers", name=name, level="problem", detail="no key found", fix=location.detail)
    # the cheapest model: the test costs a few tokens of it
    model = min(provider.models.values(), key=lambda m: m.input_cost_per_1m + m.output_cost_per_1m, default=None)
    if model is None:
        return Check(
            area="providers",
            name=name,
            level="problem",
            detail="no model configured",
            fix=f'add a model under "providers.{provider.id}.models"',
        )
    endpoint = Endpoint(provider=provider.id, account=account.id, base_url=account.base_url, api_key=key)
    adapter = make_adapter(provider.kind, http, endpoint, provider.options, clock)
    request = ChatRequest(
        model=model.id, messages=(Message(role="user", content="Reply with: ok"),), max_output_tokens=16
    )
    try:
        with anyio.fail_after(timeout_s):
            await adapter.complete(request)
    except TimeoutError:
        return Check(
            area="providers",
            name=name,
            level="problem",
            detail=f"no answer within {timeout_s:.0f} s",
            fix=f"check your network and {account.base_url}",
        )
    except ProviderError as error:
        return _verdict(name, model.id, account, error)
    return Check(area="providers", name=name, level="ok", detail=f"reachable, key accepted ({model.id})")


def _verdict(name: str, model: str, account: Account, error: ProviderError) -> Check:
    keys_set = f"provider-router keys set {account.provider} --account {account.id}"
    if isinstance(error, AuthFailed):
        return Check(
            area="providers",
            name=name,
            level="problem",
            detail="the provider rejected the key",
            fix=f"store a valid key: {keys_set}",
        )
    if isinstance(error, ProviderTransportError):
        return Check(
            area="providers",
            name=name,
            level="problem",
            detail=f"unreachable ({error.message})",
            fix=f"check your network, proxy and the baseUrl {account.base_url}",
        )
    if isinstance(error, RateLimited | QuotaExhausted):
        return Check(
            area="providers",
            name=name,
            level="warning",
            detail=f"key accepted, but {error.error_class.replace('_', ' ')} right now",
            fix="nothing to do: the router routes around it until it resets",
        )
    if isinstance(error, ModelNotFound):
        return Check(
            area="providers",
            name=name,
            level="warning",
            detail=f"key accepted, but the provider does not serve {model}",
            fix=f"replace {model} in providers.json (`provider-router list` shows the catalogue)",
        )
    return Check(
        area="providers",
        name=name,
        level="warning",
        detail=f"reachable, but the test request failed: {error.error_class}",
        fix="try `provider-router ask hello --provider " + account.provider + "`",
    )


# --------------------------------------------------------------------------------------------------- the checks


def _config_checks(app: App) -> list[Check]:
    source = str(app.paths.config_file)
    if app.config_error is not None:
        error = app.config_error
        return [Check(area="config", name=source, level="problem", detail=error.problem, fix=error.fix)]
    if app.config.setup_hint is not None:
        return [
            Check(
                area="config",
                name=source,
                level="problem",
                detail="nothing to route to",
                fix="run `provider-router setup`",
            )
        ]
    accounts = sum(len(p.accounts) for p in app.config.providers.values())
    checks = [
        Check(
            area="config",
            name=source,
            level="ok",
            detail=f"valid: {len(app.config.providers)} provider(s), {accounts} account(s)",
        )
    ]
    checks.extend(
        Check(area="config", name=source, level="warning", detail=warning, fix=f"edit {source}")
        for warning in app.config.warnings
    )
    return checks


async def retirement_notices(app: App) -> list[Notice]:
    """Configured models retired by the app's clock (or by a provider's model_not_found) or retiring within 30
    days, each with the edit that removes the warning."""
    now = app.clock()
    learned = (await app.ledger.snapshot([], now)).retired
    return [notice for p in app.config.providers.values() for notice in lifecycle_notices(p, learned, now.date())]


def _retirement_check(app: App, notice: Notice) -> Check:
    return Check(
        area="models",
        name=f"{notice.provider}/{notice.model}",
        level="warning",
        detail=notice.text,
        fix=f"{notice.edit} ({app.paths.config_file})" if notice.edit else None,
    )


def _keychain_checks(app: App, environ: Mapping[str, str]) -> list[Check]:
    note = ensure_session_bus(dict(environ))
    try:
        info = describe_backend()
    except Exception as error:  # a broken keyring installation must not stop the other checks
        return [
            Check(
                area="keychain",
                name="backend",
                level="problem",
                detail=f"keyring failed to load: {error}",
                fix="reinstall provider-router, or use ${ENV_VAR} references in providers.json",
            )
        ]
    uses = any(a.credential.source == "keyring" for p in app.config.providers.values() for a in p.accounts)
    level: Level = "ok" if info.secure else ("problem" if uses else "warning")
    checks = [
        Check(
            area="keychain",
            name=info.name,
            level=level,
            detail=info.why,
            fix=None if info.secure else "store keys in a real keychain or in environment variables",
        )
    ]
    if note:
        checks.append(
            Check(
                area="keychain",
                name="session bus",
                level="warning",
                detail=note,
                fix="export DBUS_SESSION_BUS_ADDRESS in the agent's environment",
            )
        )
    return checks


def _private(path: Path) -> bool:
    return sys.platform == "win32" or not path.exists() or stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


async def _database_checks(app: App) -> list[Check]:
    postgres = app.store.backend == "postgresql"
    db = app.store.location if postgres else app.store.path
    fix = (
        "check the PostgreSQL server (its logs, `pg_isready`) and the URL in settings.database"
        if postgres
        else f"move {db} aside; a fresh one is created (quota history and the log are lost)"
    )
    try:
        damage = [line for line in await app.store.integrity_check() if line != "ok"]
    except StoreError as error:
        damage = [str(error)]
    checks = [
        Check(
            area="database",
            name=str(db),
            level="problem",
            detail="; ".join(damage[:3]),
            fix=fix,
        )
        if damage
        else Check(area="database", name=str(db), level="ok", detail="opens, integrity ok")
    ]
    checks += [
        Check(area="database", name=f"{db} (writes)", level="problem", detail=blocked, fix=blocked)
        for blocked in ([] if damage else await store_problems(app.store))
    ]
    files = (
        (app.paths.home, app.paths.config_file) if postgres else (app.paths.home, app.store.path, app.paths.config_file)
    )
    for path in files:
        if not _private(path):
            mode = "700" if path.is_dir() else "600"
            checks.append(
                Check(
                    area="database",
                    name=str(path),
                    level="warning",
                    detail="readable by other users",
                    fix=f"chmod {mode} {path}",
                )
            )
    return checks


async def _provider_checks(app: App, *, offline: bool) -> list[Check]:
    checks: list[Check] = []
    for provider in app.config.providers.values():
        for account in provider.accounts:
            name = f"{provider.id}/{account.id}"
            if not (provider.enabled and account.enabled):
                checks.append(Check(area="providers", name=name, level="ok", detail="disabled in providers.json"))
                continue
            if offline:
                location = await app.credentials.locate(account)
                level: Level = "problem" if location.source == "none" and account.credential.source != "none" else "ok"
                checks.append(
                    Check(
                        area="providers",
                        name=name,
                        level=level,
                        detail=location.detail,
                        fix=location.detail if level == "problem" else None,
                    )
                )
                continue
            checks.append(await verify_account(app.http, app.credentials, provider, account, clock=app.clock))
    return checks


def _clock_checks(app: App) -> list[Check]:
    local = app.clock().astimezone()
    checks = [Check(area="clock", name="local time", level="ok", detail=f"{local:%Y-%m-%d %H:%M %Z} (UTC{local:%z})")]
    zones = {app.config.settings.timezone, "America/Los_Angeles"}
    zones |= {a.quota.timezone for p in app.config.providers.values() for a in p.accounts}
    for zone in sorted(zones):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            checks.append(
                Check(
                    area="clock",
                    name=zone,
                    level="problem",
                    detail="time zone data not found",
                    fix="install the tzdata package (pip install tzdata) or the OS's tzdata",
                )
            )
    if len(checks) == 1:
        checks.append(
            Check(
                area="clock",
                name="time zones",
                level="ok",
                detail=f"quota windows reset by: {', '.join(sorted(zones))}",
            )
        )
    return checks


#: the top-level import names this distribution installs (pyproject.toml's packages; README "Layout" says why)
IMPORT_NAMES = ("server", "routing", "providers", "storage", "clients")
DISTRIBUTION = "provider-router"
_ISOLATE = "or install provider-router in an environment of its own (`pipx install provider-router`)"


def _found_at(name: str, search_path: Sequence[str] | None) -> str | None:
    """Where a fresh import of `name` would load it from (a module's file, a package's __init__ or directory)."""
    spec = importlib.machinery.PathFinder.find_spec(name, None if search_path is None else list(search_path))
    if spec is None:
        return None
    return spec.origin or next(iter(spec.submodule_search_locations or ()), None)


def import_name_checks(
    owners: Mapping[str, Sequence[str]] | None = None, search_path: Sequence[str] | None = None
) -> list[Check]:
    """Is each of our import names ours alone? `owners` (import name -> distributions, default: the installed ones)
    names another distribution installing the same name over ours; a search of `search_path` (default sys.path)
    that finds a module of that name outside our tree means that module would be imported in place of ours."""
    owners = importlib.metadata.packages_distributions() if owners is None else owners
    root = Path(sys.modules[__name__.partition(".")[0]].__file__ or ".").resolve().parent.parent
    problems: list[Check] = []
    for name in IMPORT_NAMES:
        others = sorted({d for d in owners.get(name, ()) if re.sub(r"[-_.]+", "-", d).lower() != DISTRIBUTION})
        found = _found_at(name, search_path)
        if others:
            detail = f"the import name {name!r} is also installed by {', '.join(others)}: their files and ours clash"
            fix = f"`pip uninstall {' '.join(others)}`, {_ISOLATE}"
            problems.append(Check(area="install", name=name, level="problem", detail=detail, fix=fix))
        elif found is None or not Path(found).resolve().is_relative_to(root / name):
            detail = f"a module named {name!r} at {found} is found before provider-router's own ({root / name})"
            fix = f"rename or move {found}, {_ISOLATE}"
            problems.append(Check(area="install", name=name, level="problem", detail=detail, fix=fix))
    ok = Check(area="install", name="import names", level="ok", detail=f"{', '.join(IMPORT_NAMES)} all from {root}")
    return problems or [ok]


async def _listing_checks(app: App) -> list[Check]:
    """Refresh the stale model listings; a database another process holds is reported, not raised."""
    try:
        await refresh_stale_listings(app)
    except StoreError as error:
        return [Check(area="database", name="model listings", level="warning", detail=f"not refreshed: {error}")]
    return []


async def local_checks(
    http: httpx2.AsyncClient, configured: Mapping[str, ProviderConfig], environ: Mapping[str, str]
) -> list[Check]:
    """The local model servers running on this machine (Ollama, LM Studio) with the models they list themselves."""
    found = await detect(http, environ)
    if not found:
        detail = f"looked for {looked_for(environ)}"
        return [Check(area="local models", name="none running", level="ok", detail=detail)]
    checks = []
    for local in found:
        models = ", ".join(local.models) if local.models else "no models pulled yet"
        provider = configured.get(local.server.provider)
        used = "" if provider is not None else "; not in providers.json: `provider-router setup` adds it"
        detail = f"{local.url}: {len(local.models)} model(s): {models}{used}"
        checks.append(Check(area="local models", name=local.server.label, level="ok", detail=detail))
    return checks


async def diagnose(paths: Paths, environ: Mapping[str, str], *, offline: bool, clock: Clock) -> DoctorReport:
    """Run every check; a database that cannot be opened is itself a finding, not an exception."""
    try:
        async with open_app(paths, environ, clock=clock) as app:
            notices = await retirement_notices(app)
            shown = {str(notice) for notice in notices}  # the config's own warning of the same, without its edit
            checks = [check for check in _config_checks(app) if check.detail not in shown]
            checks += [_retirement_check(app, notice) for notice in notices]
            checks += [*_keychain_checks(app, environ), *await _database_checks(app)]
            checks += await _provider_checks(app, offline=offline)
            checks += await local_checks(app.http, app.config.providers, environ)
            if not offline:
                checks += await _listing_checks(app)
            checks += _clock_checks(app)
    except AppUnavailable as error:
        where = _database_shown(paths, environ, clock)
        checks = [Check(area="database", name=where, level="problem", detail=str(error), fix=str(error))]
    return DoctorReport(home=str(paths.home), checks=[*checks, *import_name_checks()])


def _database_shown(paths: Paths, environ: Mapping[str, str], clock: Clock) -> str:
    """The database a failed start was about: the configured PostgreSQL URL (no password) or the SQLite file."""
    try:
        return configured_database(paths, environ, clock().date()).shown
    except AppUnavailable:  # the URL itself is what is wrong: the finding's message says so
        return str(paths.db_file)


_MARK = {"ok": ("✓", "green"), "warning": ("!", "yellow"), "problem": ("✗", "red")}


def _print(report: DoctorReport) -> None:
    from server.cli.common import console

    out = console()
    area = ""
    for check in report.checks:
        if check.area != area:
            area = check.area
            out.print(f"\n[bold]{area}[/bold]")
        mark, style = _MARK[check.level]
        out.print(f" [{style}]{mark}[/{style}] {check.name}: {check.detail}", highlight=False, markup=True)
        if check.fix and check.level != "ok":
            out.print(f"     fix: {check.fix}", markup=False, style="dim")
    summary = f"{report.problems} problem(s)" if report.problems else "no problems"
    out.print(f"\n{summary}", style="bold red" if report.problems else "bold green")


def run_doctor(*, offline: bool, as_json: bool) -> int:
    """The `doctor` verb: exit 1 when any check found a problem."""
    from server.cli.common import cli_clock, emit_json

    paths = Paths.from_env(os.environ)
    report = anyio.run(lambda: diagnose(paths, os.environ, offline=offline, clock=cli_clock()))
    if as_json:
        emit_json(report.model_dump(mode="json") | {"problems": report.problems})
    else:
        _print(report)
    return 1 if report.problems else 0
