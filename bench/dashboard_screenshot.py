"""Regenerate docs/dashboard-overview.png, the screenshot the README shows: the demo's simulated session fills a
temporary home, the dashboard serves it on 127.0.0.1, and Debian's chromium under Playwright photographs the
overview at desktop width.

    .venv/bin/python -m bench.dashboard_screenshot [--out docs/dashboard-overview.png]

Needs the test extras (Playwright) and `chromium` on PATH (apt-get install chromium). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
from datetime import datetime
from pathlib import Path

import anyio
from playwright.sync_api import sync_playwright

from server.cli.demo import ENVIRON, START, STEP, play_demo
from server.config import Paths
from server.web import bind, server_for

OUT = Path(__file__).resolve().parents[1] / "docs" / "dashboard-overview.png"
VIEWPORT = {"width": 1280, "height": 1100}
#: the README's image stays small
MAX_BYTES = 200_000


def _photograph(url: str, out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
            page.goto(url)
            page.wait_for_selector("#live")
            page.screenshot(path=str(out), full_page=False)
        finally:
            browser.close()


def regenerate(out: Path) -> int:
    """Fill a temporary home with the demo, photograph its overview into `out`; the file's size."""
    with tempfile.TemporaryDirectory(prefix="provider-router-shot-") as home:
        summary = anyio.run(lambda: play_demo(Path(home), quiet=True))
        end = START + STEP * summary.requests

        def clock() -> datetime:
            return end

        sock = bind("127.0.0.1", 0)
        server, url = server_for(Paths.in_home(Path(home)), dict(ENVIRON), clock, sock)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            _photograph(url, out)
        finally:
            server.should_exit = True
            thread.join()
            sock.close()
    size = out.stat().st_size
    if size >= MAX_BYTES:
        raise SystemExit(f"{out} is {size:,} bytes; keep it under {MAX_BYTES:,} (a smaller VIEWPORT)")
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    print(f"{args.out}: {regenerate(args.out):,} bytes")


if __name__ == "__main__":
    main()
