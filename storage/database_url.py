"""Where the store lives: `sqlite:///path` (a file, the default: router.db in the home) or `postgresql://…`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

#: the environment variable that names the database (it wins over settings.database)
DATABASE_ENV = "PROVIDER_ROUTER_DATABASE_URL"
_POSTGRES_SCHEMES = ("postgresql", "postgres")


class BadDatabaseUrl(ValueError):
    """A database URL that names no backend this version supports (the message names the fix, never a password)."""


@dataclass(frozen=True)
class Database:
    """A parsed database URL: `path` for SQLite, `url` (with its password, never shown) for PostgreSQL."""

    kind: Literal["sqlite", "postgresql"]
    path: Path | None = None
    url: str = ""

    @property
    def shown(self) -> str:
        """The location as it may be printed: the file, or the URL without its password."""
        return str(self.path) if self.path is not None else redact(self.url)


def parse_database_url(value: str, *, default_path: Path) -> Database:
    """`value` as a `Database`; empty means SQLite at `default_path`.

    Raises:
        BadDatabaseUrl: neither `sqlite:///path` nor `postgresql://…` (or it has no host or path).
    """
    value = value.strip()
    if not value:
        return Database("sqlite", path=default_path)
    try:
        parts = urlsplit(value)
    except ValueError as error:
        raise BadDatabaseUrl(_fix(redact(value), "it cannot be parsed")) from error
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = value[len("sqlite://") :]
        if not path or path == "/":
            raise BadDatabaseUrl(_fix(value, "it names no file"))
        return Database("sqlite", path=Path(path).expanduser())
    if scheme in _POSTGRES_SCHEMES:
        if not parts.hostname and "host=" not in parts.query:
            raise BadDatabaseUrl(_fix(redact(value), "it names no host"))
        return Database("postgresql", url=value)
    raise BadDatabaseUrl(_fix(redact(value), f"the scheme {scheme or '(none)'!r} is not supported"))


def _fix(shown: str, why: str) -> str:
    return (
        f"the database URL {shown!r} is not usable: {why}. Fix: set settings.database (or {DATABASE_ENV}) to "
        "`sqlite:///absolute/path/router.db` or `postgresql://user:password@host:5432/dbname`, or remove it to "
        "use router.db in the router's home."
    )


def redact(url: str) -> str:
    """`url` with its password (if any) replaced by `***`: the only form of a database URL that is ever shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
