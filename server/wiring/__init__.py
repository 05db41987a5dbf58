"""The wiring: the App that holds one HTTP client, store, credentials and router together; the SQLite
implementations of routing's ports; logging; housekeeping; model listings."""

from server.wiring.app import App, AppUnavailable, open_app, read_config
from server.wiring.discovery import conservative_profile, listed_models
from server.wiring.listings import MAX_AGE as LISTING_MAX_AGE
from server.wiring.listings import background_refresher, listing_accounts, refresh_listings, refresh_stale_listings
from server.wiring.logging_setup import RedactingCredentials, Redactor, configure_logging
from server.wiring.maintenance import housekeeping, store_problems
from server.wiring.quota_rows import latest_active, quota_windows

__all__ = [
    "LISTING_MAX_AGE",
    "App",
    "AppUnavailable",
    "RedactingCredentials",
    "Redactor",
    "background_refresher",
    "configure_logging",
    "conservative_profile",
    "housekeeping",
    "latest_active",
    "listed_models",
    "listing_accounts",
    "open_app",
    "quota_windows",
    "read_config",
    "refresh_listings",
    "refresh_stale_listings",
    "store_problems",
]
