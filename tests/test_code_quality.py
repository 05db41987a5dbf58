"""The test command also lints, checks formatting and type-checks (strict), so CI enforces all three."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_no_lint_errors() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_ruff_formatted() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"```sh\n# run the whole test suite\n(.+)\n```", readme)
    assert match, "README's quick start must hold the test command"
    assert match.group(1) in ci


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_constraints_pin_every_dependency_the_product_and_its_tests_name() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    wanted = {
        _normalized(re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0])
        for requirement in named
        if "sys_platform" not in requirement  # a platform's own dependency is not installed on CI's
    }
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, separator, version = line.partition("==")
            assert separator and version.strip(), f"constraints.txt pins exact versions only, not {line!r}"
            pins[_normalized(name)] = version
    assert "provider-router" not in pins, "the project itself is installed from the clone, never pinned"
    assert wanted <= pins.keys(), f"not pinned in constraints.txt: {sorted(wanted - pins.keys())}"
