"""What the stdio server loads before it can answer `initialize`: only what a first tool call needs."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: loaded on first use only: rich (the SDK's log handler, dropped for ours), jsonschema (json_schema requests) and
#: the report views no tool is built on
DEFERRED = (
    "rich",
    "jsonschema",
    "referencing",
    "server.views.costs",
    "server.views.performance",
    "server.views.flow",
    "server.views.metrics",
)


def test_building_the_mcp_server_loads_neither_rich_nor_jsonschema_nor_the_report_views() -> None:
    code = (
        "import sys\n"
        "from server.mcp.server import build_server\n"
        "build_server(lambda: None)  # type: ignore[arg-type]\n"
        f"print(sorted(m for m in {DEFERRED!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_a_deferred_view_loads_when_it_is_first_asked_for() -> None:
    code = (
        "import sys\n"
        "from server import views\n"
        "before = 'server.views.costs' in sys.modules\n"
        "report = views.costs_report\n"
        "print(before, 'server.views.costs' in sys.modules, report.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.split() == ["False", "True", "server.views.costs"]


def test_a_name_no_view_defines_is_an_attribute_error() -> None:
    from server import views

    with pytest.raises(AttributeError, match="no_such_view"):
        views.no_such_view  # noqa: B018


def test_no_view_name_is_also_a_module_name_which_an_import_would_shadow() -> None:
    import pkgutil

    from server import views

    modules = {info.name for info in pkgutil.iter_modules(views.__path__)}
    assert not set(views.__all__) & modules
