"""What git ignores: `git check-ignore` in the repository that holds the files (local, no network).

Only files inside a git work tree are checked; tracked files are never ignored (git's own rule). When git itself
cannot run, the files of a repository are refused rather than risk sending what it would ignore.
"""

from __future__ import annotations

import logging
import subprocess
from collections import defaultdict
from pathlib import Path

import anyio

from server.workspace.errors import WorkspaceError

log = logging.getLogger(__name__)


def repository_of(path: Path) -> Path | None:
    """The work tree holding `path` (the nearest parent with a `.git`), or None."""
    for parent in path.parents:
        if (parent / ".git").exists():
            return parent
    return None


async def ignored(paths: list[Path]) -> set[Path]:
    """Which of `paths` (resolved files) git ignores, one `git check-ignore` per repository.

    Raises:
        WorkspaceError: a repository's ignore rules could not be read (git missing or failing).
    """
    by_repo: dict[Path, list[Path]] = defaultdict(list)
    for path in paths:
        repo = repository_of(path)
        if repo is not None:
            by_repo[repo].append(path)
    found: set[Path] = set()
    for repo, files in by_repo.items():
        found |= await _check(repo, files)
    return found


async def _check(repo: Path, files: list[Path]) -> set[Path]:
    stdin = b"\0".join(str(file).encode() for file in files) + b"\0"
    try:
        done = await anyio.run_process(
            ["git", "-C", str(repo), "check-ignore", "--stdin", "-z"], input=stdin, check=False,
            stderr=subprocess.PIPE,
        )  # fmt: skip
    except OSError as error:
        raise WorkspaceError(
            f"{repo} is a git repository and git could not run to say which files it ignores ({error}); "
            "install git, or attach files from outside a repository"
        ) from error
    if done.returncode not in (0, 1):
        message = done.stderr.decode(errors="replace").strip()
        raise WorkspaceError(f"`git check-ignore` failed in {repo}: {message}")
    return {Path(name.decode()) for name in done.stdout.split(b"\0") if name}
