"""Reliability tests: the slow ones (load and soak) are skipped unless asked for.

Run them with `.venv/bin/pytest tests/reliability -m slow` (or set PROVIDER_ROUTER_RUN_SLOW=1); the plain
`pytest` command, CI's, skips them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent
RUN_SLOW_ENV = "PROVIDER_ROUTER_RUN_SLOW"


def _slow_requested(config: pytest.Config) -> bool:
    markexpr = str(config.getoption("markexpr", "") or "")
    return os.environ.get(RUN_SLOW_ENV) == "1" or ("slow" in markexpr and "not slow" not in markexpr)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _slow_requested(config):
        return
    skip = pytest.mark.skip(reason=f"slow: run with `pytest tests/reliability -m slow` or {RUN_SLOW_ENV}=1")
    for item in items:
        if "slow" in item.keywords and HERE in Path(str(item.path)).parents:
            item.add_marker(skip)
