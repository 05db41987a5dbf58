"""The wiring: the App that holds one HTTP client, store, credentials and router together; the SQLite
implementations of routing's ports; logging; housekeeping; model listings."""

from server.wiring.app import App, AppUnavailable, open_app, read_config
from server.wiring.listings import (
    AccountModels,
    ModelRow,
    ModelsReport,
    background_refresher,
    models_report,
    refresh_listings,
    refresh_stale_listings,
)
from server.wiring.logging_setup import RedactingCredentials, Redactor, configure_logging
from server.wiring.maintenance import housekeeping, store_problems
from server.wiring.store_ports import latest_active, quota_windows

__all__ = [
    "AccountModels",
    "App",
    "AppUnavailable",
    "ModelRow",
    "ModelsReport",
    "RedactingCredentials",
    "Redactor",
    "background_refresher",
    "configure_logging",
    "housekeeping",
    "latest_active",
    "models_report",
    "open_app",
    "quota_windows",
    "read_config",
    "refresh_listings",
    "refresh_stale_listings",
    "store_problems",
]
