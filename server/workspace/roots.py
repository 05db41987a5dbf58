"""The workspace's roots and the check every path passes: resolved (symlinks followed) and inside one of them."""

from __future__ import annotations

from pathlib import Path

from providers.values import read_only_hashable
from server.workspace.errors import WorkspaceError


@read_only_hashable
class Workspace:
    """The directories a request may read from; `source` says where they came from (for messages)."""

    roots: tuple[Path, ...]
    source: str = "the server's working directory"

    @classmethod
    def of(cls, roots: list[Path] | tuple[Path, ...], source: str) -> Workspace:
        return cls(tuple(root.resolve() for root in roots), source)

    @property
    def base(self) -> Path:
        """Where relative paths start: the first root."""
        return self.roots[0]

    def describe(self) -> str:
        return ", ".join(str(root) for root in self.roots) + f" ({self.source})"

    def root_of(self, path: Path) -> Path | None:
        return next((root for root in self.roots if path == root or path.is_relative_to(root)), None)

    def resolve(self, given: str) -> tuple[Path, Path]:
        """The real path of `given` (relative to the first root) and the root it lies in.

        Raises:
            WorkspaceError: it does not exist, or resolves outside every root.
        """
        candidate = Path(given).expanduser()
        if not candidate.is_absolute():
            candidate = self.base / candidate
        try:
            real = candidate.resolve(strict=True)
        except (FileNotFoundError, NotADirectoryError):
            raise WorkspaceError(f"`{given}`: no such file in the workspace ({self.describe()})") from None
        except (OSError, RuntimeError) as error:  # a symlink loop, a permission problem
            raise WorkspaceError(f"`{given}` cannot be resolved: {error}") from error
        root = self.root_of(real)
        if root is None:
            via = " (through a symlink)" if candidate.absolute() != real and ".." not in candidate.parts else ""
            raise WorkspaceError(
                f"`{given}` resolves to {real}{via}, outside the workspace; only files under its roots may be "
                f"read: {self.describe()}"
            )
        return real, root

    def shown(self, real: Path, root: Path) -> str:
        """The path as the model sees it: relative to its root, prefixed by the root when there are several."""
        relative = real.relative_to(root).as_posix()
        return relative if len(self.roots) == 1 else f"{root.name}/{relative}"
