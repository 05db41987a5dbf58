"""The dashboard under test: served by uvicorn from a background thread over a test home (on the tests' fixed
clock), a headless Debian chromium driven by Playwright, and the page's numbers read back from `data-num`."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Request

from server.config import Paths
from server.web import bind, server_for
from tests.clock import FixedClock

SCREENSHOTS = Path(__file__).parent / "screenshots"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("the dashboard tests need Debian's chromium: apt-get install chromium (as .ci/run does)")
    return found


def machine_clock_environ() -> dict[str, str | float | bool]:
    """This environment without libfaketime's variables (`faketime -f '+730d' pytest`)."""
    moved = {"LD_PRELOAD", "DYLD_INSERT_LIBRARIES"}
    kept: dict[str, str | float | bool] = {
        k: v for k, v in os.environ.items() if k not in moved and not k.startswith("FAKETIME")
    }
    return kept


@dataclass
class Dashboard:
    """A running dashboard: its base address and the URL with the token."""

    base: str
    url: str

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]


@contextmanager
def serving(home: Path, *, clock: FixedClock | None = None) -> Iterator[Dashboard]:
    """The dashboard over `home` on 127.0.0.1 (a free port), stopped on exit."""
    sock = bind("127.0.0.1", 0)
    server, url = server_for(Paths.in_home(home), dict(os.environ), clock or FixedClock(), sock, poll_s=0.2)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield Dashboard(base=url.split("/?", 1)[0], url=url)
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@dataclass
class Watched:
    """A browser page with every console error and every request it made recorded."""

    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def nums(self, selector: str = "[data-key]") -> dict[str, Any]:
        """key -> the exact number (`data-num`) of every keyed value on the page."""
        found: dict[str, Any] = self.page.eval_on_selector_all(
            selector, "els => Object.fromEntries(els.map(e => [e.dataset.key, JSON.parse(e.dataset.num ?? 'null')]))"
        )
        return found

    def shoot(self, name: str) -> None:
        """Screenshots at desktop and phone widths into the git-ignored folder."""
        SCREENSHOTS.mkdir(exist_ok=True)
        for width, size in WIDTHS.items():
            self.page.set_viewport_size(size)  # type: ignore[arg-type]
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        self.page.set_viewport_size(WIDTHS["desktop"])  # type: ignore[arg-type]


@contextmanager
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport=WIDTHS["desktop"])  # type: ignore[arg-type]
    page = context.new_page()
    seen = Watched(page)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(message.text)

    def request(made: Request) -> None:
        seen.requests.append(made.url)

    page.on("console", console)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("request", request)
    try:
        yield seen
    finally:
        context.close()
