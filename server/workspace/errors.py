"""The one error of the workspace: a file or image the request may not read, the message naming why and the fix."""

from __future__ import annotations


class WorkspaceError(ValueError):
    """A path outside the roots, a secret-looking, git-ignored, binary or oversize file, or a glob over the limit."""
