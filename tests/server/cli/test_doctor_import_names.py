"""`doctor` says when one of the import names provider-router installs (`server`, `routing`, `providers`, `storage`,
`clients`) belongs to something else too: another distribution installing it, or a module of that name found first."""

from __future__ import annotations

import sys
from pathlib import Path

import server
from server.cli.doctor import IMPORT_NAMES, import_name_checks

ROOT = Path(server.__file__).resolve().parent.parent


def test_in_an_environment_of_its_own_every_import_name_is_ours() -> None:
    [check] = import_name_checks()
    assert (check.area, check.level, check.fix) == ("install", "ok", None)
    assert check.detail == f"server, routing, providers, storage, clients all from {ROOT}"


def test_another_distribution_installing_one_of_the_names_is_a_problem_with_its_fix() -> None:
    owners = {name: ["provider-router"] for name in IMPORT_NAMES} | {"routing": ["provider_router", "acme-routing"]}
    [check] = import_name_checks(owners)
    assert (check.area, check.name, check.level) == ("install", "routing", "problem")
    assert check.detail == "the import name 'routing' is also installed by acme-routing: their files and ours clash"
    assert check.fix is not None and check.fix.startswith("`pip uninstall acme-routing`, or install provider-router")


def test_a_module_of_the_same_name_found_first_is_a_problem_naming_its_file(tmp_path: Path) -> None:
    (tmp_path / "storage.py").write_text("")
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / "__init__.py").write_text("")
    (tmp_path / "server").mkdir()  # a directory with no __init__ gives way to a package found later
    checks = import_name_checks({}, [str(tmp_path), *sys.path])
    assert [(c.name, c.level) for c in checks] == [("storage", "problem"), ("clients", "problem")]
    storage, clients = checks
    assert storage.detail == (
        f"a module named 'storage' at {tmp_path / 'storage.py'} is found before provider-router's own "
        f"({ROOT / 'storage'})"
    )
    assert clients.detail.startswith(f"a module named 'clients' at {tmp_path / 'clients' / '__init__.py'} is found")
    assert storage.fix is not None and storage.fix.startswith(f"rename or move {tmp_path / 'storage.py'}, or install")
