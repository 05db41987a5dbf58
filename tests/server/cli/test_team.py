"""`provider-router team add|list|remove|rotate` and `serve --http`'s refusals, against a temporary home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.test_cli_support import SimHome, sim_home


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[SimHome]:
    with sim_home(tmp_path, monkeypatch, capsys) as home:
        yield home


def test_team_add_prints_the_token_once_and_list_shows_caps_but_never_a_token(env: SimHome) -> None:
    added = env.cli("team", "add", "alice", "--budget-daily", "2", "--budget-monthly", "20", "--json").json()
    assert added["name"] == "alice" and added["token"].startswith("prt_")
    text = env.cli("team", "add", "bob", "--admin")
    assert text.code == 0 and "shown once" in text.out and "--token prt_" in text.out
    listed = env.cli("team", "list", "--json")
    members = {m["name"]: m for m in listed.json()["members"]}
    assert (members["alice"]["budget_daily_usd"], members["alice"]["budget_monthly_usd"]) == (2.0, 20.0)
    assert members["bob"]["admin"] and not members["alice"]["admin"]
    assert added["token"] not in listed.out and "prt_" not in env.cli("team", "list").out


def test_rotate_issues_a_new_token_and_remove_forgets_the_member(env: SimHome) -> None:
    first = env.cli("team", "add", "carol", "--json").json()["token"]
    second = env.cli("team", "rotate", "carol", "--json").json()["token"]
    assert second != first
    assert env.cli("team", "remove", "carol").code == 0
    assert env.cli("team", "list", "--json").json() == {"members": []}


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (("team", "add", "alice"), "team rotate alice"),
        (("team", "remove", "nobody"), "team list"),
        (("team", "rotate", "nobody"), "team add nobody"),
        (("team", "add", "two words"), "letters, digits"),
        (("team", "add", "dave", "--budget-daily", "-1"), "0 or more"),
    ],
)
def test_a_bad_team_command_exits_1_naming_the_fix(env: SimHome, args: tuple[str, ...], fix: str) -> None:
    env.cli("team", "add", "alice")
    run = env.cli(*args)
    assert run.code == 1 and fix in run.err


def test_serve_http_on_a_public_address_without_members_refuses_naming_the_fix(env: SimHome) -> None:
    run = env.cli("serve", "--http", "--host", "0.0.0.0", "--port", "0")
    assert run.code == 1 and "team add" in run.err and "127.0.0.1" in run.err


def test_serve_http_with_half_of_a_tls_pair_refuses(env: SimHome) -> None:
    run = env.cli("serve", "--http", "--port", "0", "--certfile", "cert.pem")
    assert run.code == 1 and "--keyfile" in run.err


def test_log_and_status_filter_by_member(env: SimHome) -> None:
    assert env.cli("ask", "Summarize this line", "--task", "simple", "--json").code == 0
    assert len(env.cli("log", "--json").json()["decisions"]) == 1
    assert env.cli("log", "--member", "alice", "--json").json()["decisions"] == []
    assert env.cli("status", "--member", "alice").code == 0
