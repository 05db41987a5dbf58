"""Read the files a request attaches, refusing (with the reason and the fix) what it may not send."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import anyio.to_thread

from providers.values import read_only_hashable
from server.workspace.errors import WorkspaceError
from server.workspace.gitignore import ignored
from server.workspace.globbing import Candidate, expand
from server.workspace.limits import Limits
from server.workspace.roots import Workspace
from server.workspace.secret_files import secret_reason

#: a NUL byte in this much of the start marks a file binary (git's own test)
_BINARY_PROBE = 8000


@read_only_hashable
class LoadedFile:
    """A file read for a request: its path as shown to the model, its text and its content's sha256."""

    path: str
    text: str
    sha256: str


@read_only_hashable
class _Found:
    given: str
    glob: str | None
    real: Path
    root: Path


async def load_files(workspace: Workspace, patterns: list[str], limits: Limits) -> tuple[LoadedFile, ...]:
    """The files `patterns` name (paths or globs), each checked and read.

    Raises:
        WorkspaceError: a path outside the roots or missing, a secret-looking, git-ignored, binary or oversize
            file, a glob matching nothing or too many files, or more files in all than `limits.max_files`.
    """
    found = _resolve(workspace, expand(patterns, workspace.base))
    skipped = await ignored([item.real for item in found])
    kept: list[_Found] = []
    for item in found:
        if item.real in skipped:
            if item.glob is None:
                raise WorkspaceError(
                    f"`{item.given}` is ignored by git (.gitignore), so it is not sent: ignored files are often "
                    "secrets or generated; attach a tracked file, or stop ignoring it"
                )
            continue  # a glob leaves out what git ignores, as git itself does
        kept.append(item)
    _check_globs(kept, limits)
    if len(kept) > limits.max_files:
        raise WorkspaceError(
            f"`files` names {len(kept)} files, over the limit of {limits.max_files} a request may attach "
            "(settings.maxFiles in providers.json): attach fewer, or raise maxFiles"
        )
    return tuple([await anyio.to_thread.run_sync(_read, workspace, item, limits) for item in kept])


def _check_globs(kept: list[_Found], limits: Limits) -> None:
    """A glob keeping more files than `limits.max_files` (counted without secrets and git-ignored files) is refused."""
    counts = Counter(item.glob for item in kept if item.glob is not None)
    for glob, count in counts.items():
        if count > limits.max_files:
            raise WorkspaceError(
                f"`{glob}` matches {count:,} files, over the limit of {limits.max_files} files a request may attach "
                "(settings.maxFiles in providers.json): narrow the pattern, or raise maxFiles"
            )


def _resolve(workspace: Workspace, candidates: list[Candidate]) -> list[_Found]:
    found: dict[Path, _Found] = {}
    for candidate in candidates:
        real, root = workspace.resolve(candidate.given)
        if real.is_dir():
            raise WorkspaceError(f"`{candidate.given}` is a directory: name its files, or a glob like `dir/**/*.py`")
        reason = secret_reason(real.relative_to(root))
        if reason is not None:
            if candidate.glob is not None:
                continue  # a glob leaves out secret-looking files; only a named one is refused
            raise WorkspaceError(f"`{candidate.given}` looks like a secret ({reason}), so it is never sent")
        found.setdefault(real, _Found(candidate.given, candidate.glob, real, root))
    return list(found.values())


def _read(workspace: Workspace, item: _Found, limits: Limits) -> LoadedFile:
    size = item.real.stat().st_size
    if size > limits.max_file_bytes:
        raise WorkspaceError(
            f"`{item.given}` is {size:,} bytes, over the {limits.max_file_bytes:,}-byte limit per file "
            "(settings.maxFileBytes in providers.json): attach a smaller file, or raise maxFileBytes"
        )
    data = item.real.read_bytes()[: limits.max_file_bytes]
    reason = secret_reason(Path(item.real.name), data[:_BINARY_PROBE])
    if reason is not None:
        raise WorkspaceError(f"`{item.given}` looks like a secret ({reason}), so it is never sent")
    if b"\0" in data[:_BINARY_PROBE]:
        raise WorkspaceError(f"`{item.given}` is a binary file; only text files can be attached (images: `images`)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise WorkspaceError(
            f"`{item.given}` is not UTF-8 text (a binary file?); only text files can be attached"
        ) from None
    return LoadedFile(workspace.shown(item.real, item.root), text, hashlib.sha256(data).hexdigest())
