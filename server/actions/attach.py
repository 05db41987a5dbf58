"""The attach step of `route_and_complete` and `ask`: the workspace files and images a request names, read by the
server and placed in its last user turn, so the agent writes only their paths."""

from __future__ import annotations

import dataclasses
from dataclasses import field

from providers.values import read_only_hashable
from routing import tokens
from routing.request import AttachedFile, RouteRequest
from server.workspace import Limits, Workspace, load_files, load_images, place_files


@read_only_hashable
class Attachments:
    """What a call attaches: file paths or globs, image paths, and whether file lines are numbered."""

    files: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    line_numbers: bool = False

    def __bool__(self) -> bool:
        return bool(self.files or self.images)


async def attach(request: RouteRequest, workspace: Workspace, attachments: Attachments, limits: Limits) -> RouteRequest:
    """`request` with the files placed ahead of its task (in its last user turn) and the images on that turn.

    Raises:
        WorkspaceError: a file or image is refused; the message says why and the fix.
    """
    if not attachments:
        return request
    loaded = await load_files(workspace, attachments.files, limits) if attachments.files else ()
    images = await load_images(workspace, attachments.images, limits) if attachments.images else ()
    last = request.messages[-1]
    content, blocks = place_files(loaded, last.content, attachments.line_numbers)
    if blocks:
        await tokens.ready()
    files = tuple(
        AttachedFile(file.path, tokens.count_text(block), file.sha256)
        for file, block in zip(loaded, blocks, strict=True)
    )
    turn = last.model_copy(update={"content": content, "images": (*last.images, *images)})
    return dataclasses.replace(request, messages=(*request.messages[:-1], turn), files=files)
