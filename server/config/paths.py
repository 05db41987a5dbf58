"""Where provider-router keeps its files: one home directory holding `providers.json` and `router.db`.

`PROVIDER_ROUTER_HOME` wins; otherwise the platform's user config directory + `/provider-router`:
`$XDG_CONFIG_HOME` or `~/.config` on Linux and other Unixes, `~/Library/Application Support` on macOS,
`%APPDATA%` on Windows. The environment is passed in (never read at import time) so tests and the CLI agree.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_DIR = "provider-router"
CONFIG_FILE = "providers.json"
DB_FILE = "router.db"
CATALOG_OVERLAY_FILE = "catalog.json"
HOME_ENV = "PROVIDER_ROUTER_HOME"


def _user_home(environ: Mapping[str, str], platform: str) -> Path:
    names = ("USERPROFILE", "HOME") if platform == "win32" else ("HOME",)
    for name in names:
        if environ.get(name):
            return Path(environ[name])
    return Path.home()


def _expand(value: str, environ: Mapping[str, str], platform: str) -> Path:
    if value == "~" or value.startswith(("~/", "~\\")):
        return _user_home(environ, platform) / value[2:]
    return Path(value)


def user_config_dir(environ: Mapping[str, str], platform: str = sys.platform) -> Path:
    """The platform's per-user configuration directory (not yet including the app's own folder)."""
    if platform == "win32":
        appdata = environ.get("APPDATA")
        return Path(appdata) if appdata else _user_home(environ, platform) / "AppData" / "Roaming"
    if platform == "darwin":
        return _user_home(environ, platform) / "Library" / "Application Support"
    xdg = environ.get("XDG_CONFIG_HOME")
    # the XDG spec says a relative value is invalid and must be ignored
    if xdg and Path(xdg).is_absolute():
        return Path(xdg)
    return _user_home(environ, platform) / ".config"


@dataclass(frozen=True)
class Paths:
    """The router's home and the two files every process of one user shares."""

    home: Path
    config_file: Path
    db_file: Path

    @property
    def catalog_file(self) -> Path:
        """The user's catalogue overlay, beside providers.json (README "Models an account can use…")."""
        return self.config_file.with_name(CATALOG_OVERLAY_FILE)

    @classmethod
    def in_home(cls, home: Path) -> Paths:
        """The standard file names inside a given home directory."""
        return cls(home=home, config_file=home / CONFIG_FILE, db_file=home / DB_FILE)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], platform: str = sys.platform) -> Paths:
        """Resolve the home from `PROVIDER_ROUTER_HOME`, else the platform's user config dir + provider-router."""
        override = environ.get(HOME_ENV, "").strip()
        if override:
            return cls.in_home(_expand(override, environ, platform))
        return cls.in_home(user_config_dir(environ, platform) / APP_DIR)
