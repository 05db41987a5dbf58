"""One headless chromium per test module (a browser shared by the whole session outlived the CLI tests' fixtures),
on the machine's clock (a browser under libfaketime stalls its timed waits, as any server a test starts would)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.server.web.support import chromium_path, machine_clock_environ


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"], headless=True, env=machine_clock_environ()
        )
        try:
            yield launched
        finally:
            launched.close()
