"""settings.database and PROVIDER_ROUTER_DATABASE_URL choose the store: router.db by default, a PostgreSQL database
for a team (the environment wins), and a bad URL is refused naming the fix, never echoing its password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from providers.simulator import Simulator
from providers.types import Message
from routing.router import RouteRequest
from server.cli.doctor import diagnose
from server.wiring import AppUnavailable, open_app, read_config
from storage.database_url import DATABASE_ENV
from tests.clock import FixedClock
from tests.harness import ENV, seed_lineup, write_config

pytestmark = pytest.mark.anyio

SECRET = "n0t-for-logs"


async def test_without_a_setting_the_store_is_router_db_in_the_home(tmp_path: Path) -> None:
    paths = write_config(tmp_path / "home", {})
    async with open_app(paths, ENV, clock=FixedClock()) as app:
        assert app.store.backend == "sqlite" and app.store.path == paths.db_file
    assert paths.db_file.exists()


async def test_a_postgresql_url_in_the_environment_wins_and_routed_requests_land_there(
    postgres: Any, tmp_path: Path
) -> None:
    clock = FixedClock()
    url = postgres.create_database()
    async with Simulator(seed_lineup().accounts(), clock=clock.epoch) as sim:
        config = seed_lineup().config(sim)
        config["settings"] = {"database": f"sqlite:///{tmp_path / 'ignored.db'}"}
        paths = write_config(tmp_path / "home", config)
        environ = {**ENV, DATABASE_ENV: url}
        async with open_app(paths, environ, clock=clock) as app:
            assert app.store.backend == "postgresql"
            await app.router.route(RouteRequest(messages=(Message(role="user", content="Fix this"),)))
            rows = await app.store.fetchall("SELECT COUNT(*) FROM decisions")
    assert rows == [(1,)]
    assert not (tmp_path / "ignored.db").exists() and not paths.db_file.exists()


async def test_settings_database_names_the_store_when_the_environment_does_not(postgres: Any, tmp_path: Path) -> None:
    url = postgres.create_database()
    paths = write_config(tmp_path / "home", {"settings": {"database": "${TEAM_DB}"}})
    async with open_app(paths, {**ENV, "TEAM_DB": url}, clock=FixedClock()) as app:
        assert app.store.backend == "postgresql" and app.store.location.endswith(url.rsplit("/", 1)[1])


async def test_a_bad_url_in_the_environment_is_refused_naming_the_fix_without_the_password(tmp_path: Path) -> None:
    paths = write_config(tmp_path / "home", {})
    with pytest.raises(AppUnavailable) as raised:
        async with open_app(paths, {**ENV, DATABASE_ENV: f"mysql://u:{SECRET}@h/db"}, clock=FixedClock()):
            pass
    assert "Fix:" in str(raised.value) and SECRET not in str(raised.value)


def test_a_bad_settings_database_is_a_config_error_naming_the_fix_without_the_password(tmp_path: Path) -> None:
    paths = write_config(tmp_path / "home", {"settings": {"database": f"postgres://u:{SECRET}@/db"}})
    config, error = read_config(paths, ENV, FixedClock()().date())
    assert error is not None and "settings.database" in str(error) and "postgresql://" in str(error)
    assert SECRET not in str(error)


def test_the_settings_never_show_the_database_password(tmp_path: Path) -> None:
    url = f"postgresql://router:{SECRET}@db.internal/router"
    paths = write_config(tmp_path / "home", {"settings": {"database": url}})
    config, error = read_config(paths, ENV, FixedClock()().date())
    assert error is None and config.settings.database.get_secret_value() == url
    assert SECRET not in repr(config) and SECRET not in config.model_dump_json()


async def test_doctor_checks_a_postgresql_store_by_its_url_without_the_password(postgres: Any, tmp_path: Path) -> None:
    url = postgres.create_database().replace("postgres@", f"postgres:{SECRET}@")  # trust auth: any password goes
    paths = write_config(tmp_path / "home", {})
    report = await diagnose(paths, {**ENV, DATABASE_ENV: url}, offline=True, clock=FixedClock())
    # the home's own file modes are this test's; the database is no file to chmod
    (database,) = [check for check in report.checks if check.area == "database" and "PostgreSQL" in check.name]
    assert database.level == "ok"
    assert not [check for check in report.checks if check.area == "database" and check.level == "problem"]
    assert database.name.startswith("the PostgreSQL database postgresql://postgres:***@127.0.0.1")
    assert SECRET not in report.model_dump_json()
    assert not paths.db_file.exists()


async def test_doctor_names_an_unreachable_postgresql_as_the_problem_without_the_password(tmp_path: Path) -> None:
    paths = write_config(tmp_path / "home", {})
    url = f"postgresql://router:{SECRET}@127.0.0.1:1/router"
    report = await diagnose(paths, {**ENV, DATABASE_ENV: url}, offline=True, clock=FixedClock())
    (problem,) = [check for check in report.checks if check.level == "problem"]
    assert "Fix: check that the server is running" in problem.detail and SECRET not in report.model_dump_json()
    assert problem.name == "postgresql://router:***@127.0.0.1:1/router"  # the database it is about, not router.db
