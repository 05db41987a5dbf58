"""Read the images a request attaches: same workspace rules as files, PNG/JPEG/WebP/GIF by their magic bytes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import anyio.to_thread

from providers.types import ImagePart
from server.workspace.errors import WorkspaceError
from server.workspace.gitignore import ignored
from server.workspace.limits import Limits
from server.workspace.roots import Workspace
from server.workspace.secret_files import secret_reason
from server.workspace.sniff import dimensions, sniff_image

__all__ = ["ImageTooLarge", "load_images", "sniff_image"]


class ImageTooLarge(WorkspaceError):
    """An image over settings.maxImageBytes."""


async def load_images(workspace: Workspace, paths: list[str], limits: Limits) -> tuple[ImagePart, ...]:
    """Each image checked (inside the roots, not secret or git-ignored, a known type, within the size) and read.

    Raises:
        WorkspaceError: the path is refused or the file is not a PNG, JPEG, WebP or GIF image.
    """
    found: list[tuple[str, Path, Path]] = []
    for given in paths:
        real, root = workspace.resolve(given)
        reason = secret_reason(real.relative_to(root))
        if reason is not None:
            raise WorkspaceError(f"`{given}` looks like a secret ({reason}), so it is never sent")
        found.append((given, real, root))
    skipped = await ignored([real for _, real, _ in found])
    for given, real, _ in found:
        if real in skipped:
            raise WorkspaceError(f"`{given}` is ignored by git (.gitignore), so it is not sent")
    return tuple(
        [
            await anyio.to_thread.run_sync(_read, given, real, workspace.shown(real, root), limits)
            for given, real, root in found
        ]
    )


def _read(given: str, real: Path, shown: str, limits: Limits) -> ImagePart:
    if real.is_dir():
        raise WorkspaceError(f"`{given}` is a directory, not an image")
    size = real.stat().st_size
    if size > limits.max_image_bytes:
        raise ImageTooLarge(
            f"`{given}` is {size:,} bytes, over the {limits.max_image_bytes:,}-byte limit per image "
            "(settings.maxImageBytes in providers.json): attach a smaller image, or raise maxImageBytes"
        )
    data = real.read_bytes()
    media_type = sniff_image(data)
    if media_type is None:
        raise WorkspaceError(f"`{given}` is not a PNG, JPEG, WebP or GIF image (judged by its first bytes)")
    size_px = dimensions(data, media_type)
    if size_px is None:
        raise WorkspaceError(f"`{given}`: its {media_type} header is damaged (no width and height found)")
    return ImagePart(
        media_type=media_type, data=base64.b64encode(data).decode("ascii"), width=size_px[0], height=size_px[1],
        sha256=hashlib.sha256(data).hexdigest(), path=shown,
    )  # fmt: skip
