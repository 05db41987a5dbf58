"""The dashboard in a real headless browser (Debian's chromium under Playwright) over a database the CLI filled: every
page shows the CLI's `--json` numbers, the overview follows other processes live, nothing leaves 127.0.0.1."""

from __future__ import annotations

import http.client
import http.cookiejar
import os
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from server.web.security import Secrets
from tests.clock import on_test_clock, suite_clock_environ
from tests.harness import SIM_KEY
from tests.server.test_cli_support import Run, SimHome, sim_home
from tests.server.web.support import Dashboard, Watched, serving, watched

ROOT = Path(__file__).resolve().parents[3]


class Home(SimHome):
    """The test home whose verbs run on a thread of their own: Playwright's sync API keeps an event loop running on
    this one, and each verb runs its own."""

    def cli(self, *argv: str) -> Run:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(super().cli, *argv).result()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Home]:
    # a long retention: another process on the machine's clock (two years ahead under libfaketime) keeps the
    # decisions made on the tests' fixed clock
    settings = {"retentionDays": 3650}
    with sim_home(tmp_path, monkeypatch, capsys, settings=settings, budgetUsd={"daily": 5, "monthly": 50}) as home:
        yield Home(home.home, home.sim, home.capsys)


def fill(env: Home) -> int:
    """A few requests of each kind and one failover (OpenAI rate-limited, Anthropic answers); its decision id."""
    for prompt, task in (("Summarize this line", "simple"), ("Fix this Python function", "coding"),
                         ("Write a haiku about rain", "creative"), ("Prove that 2+2=4", "reasoning")):  # fmt: skip
        assert env.cli("ask", prompt, "--task", task).code == 0
    env.sim.script("openai", ["rate_limited"])
    failover = env.cli("ask", "Refactor this class", "--task", "coding", "--json").json()
    assert len(failover["attempts"]) == 2
    env.cli("ask", "Plan the change", "--task", "coding", "--dry-run")
    decision_id: int = env.cli("log", "-n", "1", "--outcome", "failover", "--json").json()["decisions"][0]["id"]
    return decision_id


@pytest.fixture
def dashboard(env: Home) -> Iterator[Dashboard]:
    with serving(env.home) as running:
        yield running


def opened(seen: Watched, dashboard: Dashboard, path: str = "/") -> None:
    seen.page.goto(dashboard.url)
    if path != "/":
        seen.page.goto(dashboard.base + path)


def only_local(seen: Watched, dashboard: Dashboard) -> None:
    assert seen.requests, "the page made no request at all"
    assert all(url.startswith(dashboard.base + "/") for url in seen.requests), seen.requests
    assert seen.errors == []


def test_every_page_shows_the_numbers_the_cli_prints_as_json(env: Home, browser: Browser) -> None:
    fill(env)
    costs = env.cli("costs", "--json").json()
    performance = env.cli("performance", "--json").json()
    flow = env.cli("log", "--flow", "--json").json()
    status = env.cli("status", "--json").json()
    log = env.cli("log", "-n", "100", "--json").json()
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard)
        shown = seen.nums()
        assert shown["spend.day_usd"] == pytest.approx(status["spend"]["day_usd"])
        assert shown["spend.month_usd"] == pytest.approx(status["spend"]["month_usd"])
        assert shown["activity.last_hour"] == status["activity"]["last_hour"] == 5
        assert seen.page.locator("[data-key=budget_mode]").inner_text() == status["budget_mode"]
        seen.shoot("overview")

        seen.page.goto(dashboard.base + "/costs")
        shown = seen.nums()
        assert costs["total_usd"] > 0
        assert shown["total_usd"] == pytest.approx(costs["total_usd"])
        assert shown["requests"] == costs["requests"] == 5
        for name in ("best_quality_usd", "saved_usd", "prompt_cache_saved_usd", "response_cache_saved_usd"):
            assert shown[f"savings.{name}"] == pytest.approx(costs["savings"][name])
        for kind in ("by_provider", "by_model", "by_task_type", "by_day"):
            assert {k: v for k, v in shown.items() if k.startswith(kind + ".")} == pytest.approx(
                {f"{kind}.{g['group']}": g["cost_usd"] for g in costs[kind]}
            )
        seen.shoot("costs")

        seen.page.goto(dashboard.base + "/performance")
        shown = seen.nums()
        for kind in ("by_provider", "by_model"):
            for row in performance[kind]:
                for stat in ("p50_ms", "p95_ms", "p99_ms", "ttft_p50_ms"):
                    assert shown[f"{kind}.{row['group']}.{stat}"] == pytest.approx(row[stat])
        assert shown["failovers.count"] == performance["failovers"]["count"] == 1
        assert shown["failovers.time_lost_ms"] == pytest.approx(performance["failovers"]["time_lost_ms"])
        seen.shoot("performance")

        seen.page.goto(dashboard.base + "/flow")
        shown = seen.nums()
        assert shown["decisions"] == flow["decisions"] == 5
        for link in [*flow["routed"], *flow["ended"]]:
            assert shown[f"{link['source']}->{link['target']}"] == link["count"]
        expect(seen.page.locator("svg.chart")).to_have_count(1)
        seen.shoot("flow")

        for path in ("/", "/costs", "/performance", "/flow", "/routing"):
            seen.page.goto(dashboard.base + path)
            assert SIM_KEY not in seen.page.content()
        listed = seen.page.eval_on_selector_all(
            "#decisions [data-decision-id]", "els => els.map(e => +e.dataset.decisionId)"
        )
        assert listed == [d["id"] for d in log["decisions"]]
        seen.shoot("routing")
        only_local(seen, dashboard)


def test_the_routing_stream_filters_as_the_cli_does(env: Home, browser: Browser) -> None:
    fill(env)
    coding = env.cli("log", "--task", "coding", "--provider", "openai", "--json").json()
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard, "/routing")
        seen.page.select_option("select[name=task]", "coding")
        seen.page.select_option("select[name=provider]", "openai")
        seen.page.click("form.filters button")
        expect(seen.page).to_have_url(
            f"{dashboard.base}/routing?task=coding&provider=openai&reason=&outcome=&conversation="
        )
        listed = seen.page.eval_on_selector_all(
            "#decisions [data-decision-id]", "els => els.map(e => +e.dataset.decisionId)"
        )
        assert listed == [d["id"] for d in coding["decisions"]] and listed
        only_local(seen, dashboard)


def test_a_failovers_decision_page_shows_its_attempts_with_error_classes(env: Home, browser: Browser) -> None:
    decision = fill(env)
    detail = env.cli("log", "--id", str(decision), "--json").json()
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard, f"/routing/{decision}")
        rows = seen.page.locator("#attempts tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("rate_limited")
        expect(rows.nth(0)).to_contain_text(detail["attempts"][0]["provider"])
        expect(rows.nth(1)).to_contain_text("success")
        expect(seen.page.locator(".verdict")).to_contain_text(f"{detail['provider']}/{detail['model']}")
        expect(seen.page.locator("#candidates tbody tr")).to_have_count(len(detail["candidates"]))
        expect(seen.page.locator("#candidates")).to_contain_text("quality")
        expect(seen.page.locator("#exclusions tbody tr")).to_have_count(len(detail["exclusions"]))
        seen.shoot("decision")
        assert "Refactor this class" not in seen.page.content()  # settings.logPrompts is off
        only_local(seen, dashboard)


def test_a_decision_page_shows_the_prompt_only_when_log_prompts_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], browser: Browser
) -> None:
    with sim_home(tmp_path, monkeypatch, capsys, settings={"logPrompts": True}) as plain:
        home = Home(plain.home, plain.sim, plain.capsys)
        assert home.cli("ask", "Summarize this line", "--task", "simple").code == 0
        with serving(home.home) as dashboard, watched(browser) as seen:
            opened(seen, dashboard, "/routing/1")
            expect(seen.page.locator("pre")).to_contain_text("Summarize this line")
            only_local(seen, dashboard)


def _ask_elsewhere(env: Home) -> None:
    """`provider-router ask` in another process, writing the same router.db."""
    environ = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", **suite_clock_environ()}
    result = subprocess.run(
        on_test_clock("server.cli", "ask", "Another agent's question", "--task", "simple"),
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_a_request_routed_by_another_process_appears_live_without_a_reload(env: Home, browser: Browser) -> None:
    fill(env)
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard)
        newest = seen.page.eval_on_selector("#live", "el => +el.dataset.watermark")
        seen.page.evaluate("window.loadedOnce = true")  # gone if the page reloads
        _ask_elsewhere(env)
        expect(seen.page.locator(f'#recent [data-decision-id="{newest + 1}"]')).to_have_count(1, timeout=20_000)
        assert seen.page.evaluate("window.loadedOnce") is True
        only_local(seen, dashboard)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def cookie(self) -> str:
        return self.headers.get("set-cookie", "").split(";", 1)[0]


def _get(dashboard: Dashboard, path: str, *, host: str | None = None, cookie: str | None = None,
         body: str | None = None) -> Answer:  # fmt: skip
    address = urlsplit(dashboard.base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    headers = {"Host": host or address.netloc}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request("POST" if body is not None else "GET", path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def _post_from(dashboard: Dashboard, origin: str, cookie: str, body: str) -> Answer:
    address = urlsplit(dashboard.base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    headers = {"Host": address.netloc, "Origin": origin, "Cookie": cookie,
               "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
    try:
        connection.request("POST", "/actions/switch", body=body + "&provider=zai", headers=headers)
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def test_without_the_token_the_dashboard_answers_401_and_another_host_is_refused(dashboard: Dashboard) -> None:
    assert _get(dashboard, "/").status == 401
    assert _get(dashboard, "/costs?token=wrong").status == 401
    assert _get(dashboard, f"/?token={dashboard.token}", host="evil.example").status == 421
    opened = _get(dashboard, f"/?token={dashboard.token}")
    assert opened.status == 303 and opened.headers["location"] == "/"
    assert "httponly" in opened.headers["set-cookie"].lower()
    assert _get(dashboard, "/costs", cookie=opened.cookie()).status == 200


def test_an_action_without_its_csrf_token_is_refused(env: Home, dashboard: Dashboard) -> None:
    fill(env)
    cookie = _get(dashboard, f"/?token={dashboard.token}").cookie()
    refused = _get(dashboard, "/actions/switch", cookie=cookie, body="provider=zai&confirm=yes")
    assert refused.status == 403 and b"CSRF" in refused.body
    forged = _get(dashboard, "/actions/switch", cookie=cookie, body="provider=zai&confirm=yes&csrf=forged")
    assert forged.status == 403
    assert env.cli("status", "--json").json()["manual_switch"] is None


def test_switch_and_budget_mode_are_confirmed_then_written_as_the_cli_writes_them(env: Home, browser: Browser) -> None:
    fill(env)
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard)
        seen.page.select_option("#actions select[name=provider]", "zai")
        seen.page.click("#actions form[action='/actions/switch'] button")
        expect(seen.page.locator(".verdict")).to_contain_text("send every request to zai")
        assert env.cli("status", "--json").json()["manual_switch"] is None  # nothing before the confirmation
        seen.page.click("#confirm")
        expect(seen.page.locator("#notice")).to_contain_text("every conversation now routes to zai")
        assert env.cli("status", "--json").json()["manual_switch"]["provider"] == "zai"
        seen.page.select_option("#actions select[name=mode]", "free_only")
        seen.page.click("#actions form[action='/actions/budget'] button")
        seen.page.click("#confirm")
        expect(seen.page.locator("[data-key=budget_mode]")).to_have_text("free_only")
        assert env.cli("config", "show", "--json").json()["preferences"]["budget_mode"] == "free_only"
        seen.page.click("#actions form[action='/actions/reset'] button")
        seen.page.click("#confirm")
        expect(seen.page.locator("#notice")).to_contain_text("Back to automatic routing")
        assert env.cli("status", "--json").json()["manual_switch"] is None
        only_local(seen, dashboard)


def test_with_no_database_yet_the_dashboard_says_what_to_do(tmp_path: Path, browser: Browser) -> None:
    with serving(tmp_path / "empty-home") as dashboard, watched(browser) as seen:
        opened(seen, dashboard)
        expect(seen.page.locator("#empty")).to_contain_text("provider-router setup")
        seen.page.goto(dashboard.base + "/costs")
        expect(seen.page.locator("#empty")).to_contain_text("No database yet")
        assert not (tmp_path / "empty-home" / "router.db").exists()
        seen.shoot("empty")
        only_local(seen, dashboard)


def test_a_database_that_cannot_be_read_gives_a_banner_not_a_stack_trace(tmp_path: Path, browser: Browser) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "router.db").write_bytes(b"this is not a database" * 100)
    with serving(home) as dashboard, watched(browser) as seen:
        response: Any = seen.page.goto(dashboard.url)
        assert response.status == 503
        expect(seen.page.locator("#banner")).to_contain_text("router.db")
        assert "Traceback" not in seen.page.content()


def test_a_database_another_process_holds_locked_gives_a_busy_banner_until_it_is_freed(env: Home) -> None:
    fill(env)
    holder = sqlite3.connect(env.home / "router.db", isolation_level=None, check_same_thread=False)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("DELETE FROM switches")  # takes the file's exclusive lock: nobody else may even read
        with serving(env.home) as dashboard:
            cookie = _get(dashboard, f"/?token={dashboard.token}").cookie()
            busy = _get(dashboard, "/costs", cookie=cookie)
            assert busy.status == 503
            assert b"The database is busy" in busy.body and b"Traceback" not in busy.body
            holder.execute("ROLLBACK")
            holder.close()
            assert _get(dashboard, "/costs", cookie=cookie).status == 200
    finally:
        holder.close()


def test_a_decision_id_too_large_for_the_database_gets_a_page_saying_there_is_none(
    env: Home, dashboard: Dashboard
) -> None:
    fill(env)
    cookie = _get(dashboard, f"/?token={dashboard.token}").cookie()
    huge = _get(dashboard, "/routing/99999999999999999999999999", cookie=cookie)
    assert huge.status == 404 and b"No decision #99999999999999999999999999" in huge.body


def test_an_address_that_is_no_page_gets_a_dashboard_page_with_its_navigation(dashboard: Dashboard) -> None:
    cookie = _get(dashboard, f"/?token={dashboard.token}").cookie()
    for path in ("/routing/abc", "/routing/-1", "/nowhere"):
        missing = _get(dashboard, path, cookie=cookie)
        assert missing.status == 404
        assert b"No such page" in missing.body and b'href="/routing"' in missing.body


def test_an_action_from_a_foreign_origin_is_refused_and_says_so(env: Home, dashboard: Dashboard) -> None:
    fill(env)
    cookie = _get(dashboard, f"/?token={dashboard.token}").cookie()
    csrf = Secrets(dashboard.token).csrf
    refused = _post_from(dashboard, "http://evil.example", cookie, f"confirm=yes&csrf={csrf}")
    assert refused.status == 403 and b"another site" in refused.body
    assert env.cli("status", "--json").json()["manual_switch"] is None


def test_two_dashboards_on_other_ports_keep_their_own_sign_in(env: Home) -> None:
    jar = http.cookiejar.CookieJar()
    browser_like = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with serving(env.home) as first, serving(env.home) as second:
        browser_like.open(first.url, timeout=30).read()
        browser_like.open(second.url, timeout=30).read()
        assert browser_like.open(first.base + "/costs", timeout=30).status == 200
