"""The store two `serve --http` nodes share: router.db in the home, or one PostgreSQL database."""

from __future__ import annotations

import pytest

from storage.database_url import DATABASE_ENV


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that points the nodes at their shared store: router.db in the home, or one PostgreSQL."""
    if request.param == "sqlite":
        return {}
    return {DATABASE_ENV: request.getfixturevalue("postgres").create_database()}
