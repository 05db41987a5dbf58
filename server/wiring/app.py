"""The composition root: one place builds the shared HTTP client, the store, the credentials and the router.

The MCP server's lifespan and every CLI verb open the same `App`, so both act through the same code.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx2
from pydantic import SecretStr

from providers.adapter import ChatAdapter
from providers.catalog import Catalog, load_catalog
from providers.catalog_overlay import OverlayError, load_user_catalog
from providers.clock import Clock
from providers.credentials import CredentialStore, KeyringCredentials
from providers.models import Account, ProviderConfig
from providers.registry import make_adapter
from providers.types import Endpoint
from routing.ports import Ports
from routing.router import Router, RouterSetup
from server.config import ConfigError, Paths, RouterConfig, load_config
from server.wiring.bookkeeping_port import StoreBookkeeping
from server.wiring.cache_port import StoreCache
from server.wiring.discovery import discovered_models, with_discovered
from server.wiring.maintenance import maintain
from server.wiring.store_ports import StoreLedger, StoreState
from storage import (
    AccountStates,
    Conversations,
    DecisionLog,
    Ledger,
    Metrics,
    ModelListings,
    Store,
    StoredListing,
    StoreError,
    StoreLocked,
)
from storage.database_url import DATABASE_ENV, BadDatabaseUrl, Database, parse_database_url

log = logging.getLogger(__name__)


class AppUnavailable(Exception):
    """The router cannot serve: the configuration or the database needs fixing (the message says how)."""


def setup_of(
    config: RouterConfig, listings: tuple[StoredListing, ...] = (), catalog: Catalog | None = None
) -> RouterSetup:
    """The router's setup; with `preferences.autoDiscover`, listed uncatalogued models join their providers."""
    settings = config.settings
    providers = dict(config.providers)
    if config.preferences.auto_discover and listings:
        providers = with_discovered(providers, discovered_models(providers, listings, catalog or load_catalog()))
    return RouterSetup(
        providers=providers,
        preferences=config.preferences,
        request_timeout_s=settings.request_timeout_s,
        deadline_s=settings.deadline_s,
        timezone=settings.timezone,
        log_prompts=settings.log_prompts,
    )


def http_client(timeout_s: float = 60.0) -> httpx2.AsyncClient:
    """The one HTTP client of a process: explicit timeouts, pooled connections."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(timeout_s, connect=10.0),
        limits=httpx2.Limits(max_connections=200, max_keepalive_connections=50),
    )


class LazyHttp:
    """The process's HTTP client, built on first use (or the one given, which its owner closes).

    Building one (TLS context, CA bundle) costs ~50 ms that a starting MCP server need not pay before it answers
    `initialize`: nothing calls out until the first routed request.
    """

    def __init__(self, timeout_s: float, given: httpx2.AsyncClient | None = None) -> None:
        self._timeout_s = timeout_s
        self._client = given
        self._owned = given is None

    @property
    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = http_client(self._timeout_s)
        return self._client

    async def aclose(self) -> None:
        """Close the client if this holder built it."""
        if self._owned and self._client is not None:
            await self._client.aclose()


@dataclass
class App:
    paths: Paths
    environ: Mapping[str, str]
    clock: Clock
    lazy_http: LazyHttp
    store: Store
    credentials: CredentialStore
    config: RouterConfig
    config_error: ConfigError | None
    router: Router
    ledger: Ledger
    states: AccountStates
    conversations: Conversations
    decisions: DecisionLog
    metrics: Metrics
    _config_stamp: tuple[tuple[float, int] | None, ...] | None = field(default=None)
    #: the stored model listings (server.wiring.listings), read at open and after each refresh
    listings: tuple[StoredListing, ...] = ()

    @property
    def http(self) -> httpx2.AsyncClient:
        """The process's HTTP client (built on first use)."""
        return self.lazy_http.client

    @property
    def problem(self) -> str | None:
        """What stops routing, phrased as the fix; None when the router can serve."""
        if self.config_error is not None:
            return str(self.config_error)
        return self.config.setup_hint

    def require(self) -> None:
        """Raise AppUnavailable naming the fix when there is nothing to route with."""
        self.refresh()
        problem = self.problem
        if problem is not None:
            raise AppUnavailable(problem)

    def refresh(self, *, force: bool = False) -> None:
        """Pick up an edited providers.json (every process shares it); a broken edit keeps the last good one.

        `force` reads it even when its time and size look unchanged (an edit within the same second can keep both).
        """
        stamp = _stamp(self.paths)
        if stamp == self._config_stamp and not force:
            return
        self._config_stamp = stamp
        config, error = read_config(self.paths, self.environ, self.clock().date())
        self.config_error = error
        if error is None:
            self.apply(config)

    def apply(self, config: RouterConfig) -> None:
        """Route by `config` from now on (budgets, preferences, prompt logging included)."""
        self.config = config
        self.ledger = Ledger(self.store, budget=config.preferences.budget, timezone=config.settings.timezone)
        self.decisions = DecisionLog(self.store, keep_prompts=config.settings.log_prompts)
        self.router.setup = self._setup()
        self.router.ports = _ports(self)

    def use_listings(self, listings: tuple[StoredListing, ...]) -> None:
        """Route with these stored listings from now on (they matter only with `preferences.autoDiscover`)."""
        self.listings = listings
        if self.config.preferences.auto_discover:
            self.router.setup = self._setup()

    def catalog(self) -> Catalog:
        """The packaged catalogue with the user's catalog.json merged over it.

        Raises:
            OverlayError: the user's catalog.json is malformed (the message names the file and the fix).
        """
        return load_user_catalog(self.paths.catalog_file) or load_catalog()

    def _setup(self) -> RouterSetup:
        if not (self.config.preferences.auto_discover and self.listings):
            return setup_of(self.config)
        try:
            catalog = self.catalog()
        except OverlayError:
            catalog = load_catalog()  # read_config already reports the broken overlay
        return setup_of(self.config, self.listings, catalog)


def _file_stamp(path: Path) -> tuple[float, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime, stat.st_size)


def _stamp(paths: Paths) -> tuple[tuple[float, int] | None, ...]:
    # the catalogue overlay changes the configuration in force as much as providers.json does
    return (_file_stamp(paths.config_file), _file_stamp(paths.catalog_file))


def read_config(paths: Paths, environ: Mapping[str, str], today: date) -> tuple[RouterConfig, ConfigError | None]:
    try:
        catalog = load_user_catalog(paths.catalog_file)
        return load_config(paths.config_file, environ, today=today, catalog=catalog), None
    except OverlayError as error:
        return RouterConfig(source=str(paths.config_file)), ConfigError(str(error.path), error.problem, fix=error.fix)
    except ConfigError as error:
        return RouterConfig(source=str(paths.config_file)), error


def _connector(
    http: LazyHttp, clock: Clock, max_bytes: int
) -> Callable[[ProviderConfig, Account, SecretStr | None], ChatAdapter]:
    def connect(provider: ProviderConfig, account: Account, key: SecretStr | None) -> ChatAdapter:
        endpoint = Endpoint(
            provider=provider.id,
            account=account.id,
            base_url=account.base_url,
            api_key=key,
            max_response_bytes=max_bytes,
        )
        return make_adapter(provider.kind, http.client, endpoint, provider.options, clock)

    return connect


def _ports(app: App) -> Ports:
    return make_ports(app.store, app.ledger, app.decisions, app.credentials, app.lazy_http, app.config, app.clock)


def make_ports(
    store: Store,
    ledger: Ledger,
    decisions: DecisionLog,
    credentials: CredentialStore,
    http: LazyHttp,
    config: RouterConfig,
    clock: Clock,
) -> Ports:
    return Ports(
        state=StoreState(store, ledger, config.preferences, request_timeout_s=config.settings.request_timeout_s),
        ledger=StoreLedger(store, ledger),
        bookkeeping=StoreBookkeeping(store, decisions),
        keys=credentials,
        connect=_connector(http, clock, config.settings.max_response_bytes),
        cache=StoreCache(store),
    )


def database_of(paths: Paths, config: RouterConfig, environ: Mapping[str, str]) -> Database:
    """Where the ledger lives: `PROVIDER_ROUTER_DATABASE_URL`, else settings.database, else router.db in the home.

    Raises:
        AppUnavailable: the environment variable is not a usable URL (the message names the fix, not the password).
    """
    url = environ.get(DATABASE_ENV, "").strip() or config.settings.database.get_secret_value()
    try:
        return parse_database_url(url, default_path=paths.db_file)
    except BadDatabaseUrl as error:
        raise AppUnavailable(str(error)) from error


def configured_database(paths: Paths, environ: Mapping[str, str], today: date) -> Database:
    """`database_of` the configuration on disk now (a broken providers.json leaves the environment's or the default).

    Raises:
        AppUnavailable: as `database_of`.
    """
    config, _ = read_config(paths, environ, today)
    return database_of(paths, config, environ)


async def open_store(paths: Paths, database: Database | None = None) -> Store:
    """The shared database (router.db, or the PostgreSQL one `database` names), creating the home directory
    (private) on first use.

    Raises:
        AppUnavailable: the database is damaged, locked, unreachable or from a newer version (the message names the
            fix).
    """
    paths.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return await Store.open(paths.db_file, database=database)
    except StoreError as error:
        raise AppUnavailable(str(error)) from error


@asynccontextmanager
async def open_app(
    paths: Paths,
    environ: Mapping[str, str] | None = None,
    *,
    clock: Clock,
    credentials: CredentialStore | None = None,
    http: httpx2.AsyncClient | None = None,
) -> AsyncIterator[App]:
    """Everything a request needs, opened once and closed together.

    Raises:
        AppUnavailable: the database cannot be opened (a configuration problem does not raise: see `App.problem`).
    """
    environ = environ if environ is not None else dict(os.environ)
    config, error = read_config(paths, environ, clock().date())
    store = await open_store(paths, database_of(paths, config, environ))
    lazy_http = LazyHttp(config.settings.request_timeout_s, http)
    try:
        app = _assemble(
            paths, environ, clock, lazy_http, store, credentials or KeyringCredentials(environ), config, error
        )
        app.use_listings(tuple(await ModelListings(store).all()))
        await _maintain(app)
        yield app
    finally:
        await lazy_http.aclose()
        await store.close()


async def _maintain(app: App) -> None:
    """Start-up housekeeping: deferred when another process holds router.db locked, fatal only when it is broken.

    Raises:
        AppUnavailable: router.db is damaged or read-only (the message names the fix; the file is left as it is).
    """
    try:
        await maintain(app.store, app.decisions, app.config.settings, app.clock())
    except StoreLocked as error:
        log.warning("start-up housekeeping deferred: %s", error)
    except StoreError as error:
        raise AppUnavailable(str(error)) from error
    except OSError as error:  # router.db.pending unreadable: its units wait (the server's retries will say more)
        log.warning("settlements kept beside router.db could not be applied: %s", error)


def _assemble(
    paths: Paths,
    environ: Mapping[str, str],
    clock: Clock,
    http: LazyHttp,
    store: Store,
    credentials: CredentialStore,
    config: RouterConfig,
    error: ConfigError | None,
) -> App:
    ledger = Ledger(store, budget=config.preferences.budget, timezone=config.settings.timezone)
    states = AccountStates(store)
    conversations = Conversations(store)
    decisions = DecisionLog(store, keep_prompts=config.settings.log_prompts)
    ports = make_ports(store, ledger, decisions, credentials, http, config, clock)
    return App(
        paths=paths,
        environ=environ,
        clock=clock,
        lazy_http=http,
        store=store,
        credentials=credentials,
        config=config,
        config_error=error,
        router=Router(setup_of(config), ports, clock),
        ledger=ledger,
        states=states,
        conversations=conversations,
        decisions=decisions,
        metrics=Metrics(store),
        _config_stamp=_stamp(paths),
    )
