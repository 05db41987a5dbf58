"""The client's workspace: which files a request may read (the MCP roots, else the server's directory), the
refusals (outside the roots, secret-looking, git-ignored, binary, too large, too many), and how the files read are
placed in the request (delimited blocks ahead of the task) and images attached.
"""

from server.workspace.errors import WorkspaceError
from server.workspace.images import ImageTooLarge, load_images, sniff_image
from server.workspace.limits import Limits
from server.workspace.load import LoadedFile, load_files
from server.workspace.place import place_files
from server.workspace.roots import Workspace

__all__ = [
    "ImageTooLarge",
    "Limits",
    "LoadedFile",
    "Workspace",
    "WorkspaceError",
    "load_files",
    "load_images",
    "place_files",
    "sniff_image",
]
