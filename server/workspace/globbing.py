"""Patterns to candidate paths: a glob expands under the first root (or its own absolute anchor), a plain path
stays itself. Globs skip `.git/`; a glob's walk stops at `_COUNT_CAP` matches, and what it keeps (after secrets
and git-ignored files are left out) is counted against `maxFiles` by the loader, before anything is read."""

from __future__ import annotations

from pathlib import Path

from providers.values import read_only_hashable
from server.workspace.errors import WorkspaceError

_GLOB_CHARS = frozenset("*?[")
#: a glob is not walked past this many matches (it is then refused as matching "more than" this many)
_COUNT_CAP = 10_000


@read_only_hashable
class Candidate:
    """A path to read: as the caller wrote it (or as a glob found it), and the glob that found it, if any."""

    given: str
    glob: str | None = None


def is_glob(pattern: str) -> bool:
    return any(char in _GLOB_CHARS for char in pattern)


def expand(patterns: list[str], base: Path) -> list[Candidate]:
    """Each pattern's candidates, in order (a glob's sorted).

    Raises:
        WorkspaceError: a glob matches no file, or more than `_COUNT_CAP` files.
    """
    found: list[Candidate] = []
    for pattern in patterns:
        if not pattern.strip():
            raise WorkspaceError("an empty path in `files`: give a path or a glob like `src/**/*.py`")
        if not is_glob(pattern):
            found.append(Candidate(pattern))
            continue
        matches = _glob(pattern, base)
        if not matches:
            raise WorkspaceError(f"`{pattern}` matches no file under {base}")
        if len(matches) >= _COUNT_CAP:
            raise WorkspaceError(f"`{pattern}` matches more than {_COUNT_CAP:,} files: narrow the pattern")
        found.extend(Candidate(str(match), pattern) for match in matches)
    return found


def _glob(pattern: str, base: Path) -> list[Path]:
    path = Path(pattern).expanduser()
    anchor, relative = (
        (Path(path.anchor), str(path.relative_to(path.anchor))) if path.is_absolute() else (base, pattern)
    )
    matches: list[Path] = []
    for match in anchor.glob(relative):
        if ".git" in match.relative_to(anchor).parts or not match.is_file():
            continue
        matches.append(match)
        if len(matches) >= _COUNT_CAP:
            break
    return sorted(matches)
