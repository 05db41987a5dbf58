"""Images by path: the type from the magic bytes, the size from the header, the workspace rules as for files."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest

from server.workspace import ImageTooLarge, Limits, Workspace, WorkspaceError, load_images, sniff_image
from server.workspace.sniff import dimensions

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 640, 480) + b"\x08\x02\x00\x00\x00"
GIF = b"GIF89a" + struct.pack("<HH", 32, 16) + b"\x00" * 8
JPEG = b"\xff\xd8\xff\xe0\x00\x04ab\xff\xc0\x00\x11\x08" + struct.pack(">HH", 300, 400) + b"\x03" + b"\x00" * 9
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x00" * 8 + (99).to_bytes(3, "little") + (49).to_bytes(3, "little")


@pytest.mark.parametrize(
    ("data", "media_type", "size"),
    [(PNG, "image/png", (640, 480)), (GIF, "image/gif", (32, 16)), (JPEG, "image/jpeg", (400, 300)),
     (WEBP, "image/webp", (100, 50))],
)  # fmt: skip
def test_the_type_comes_from_the_magic_bytes_and_the_size_from_the_header(
    data: bytes, media_type: str, size: tuple[int, int]
) -> None:
    assert sniff_image(data) == media_type
    assert dimensions(data, media_type) == size


async def test_an_image_in_the_workspace_is_read_as_base64_with_its_size(tmp_path: Path) -> None:
    (tmp_path / "shot.png").write_bytes(PNG)
    (image,) = await load_images(Workspace.of([tmp_path], "roots"), ["shot.png"], Limits())
    assert (image.media_type, image.width, image.height, image.path) == ("image/png", 640, 480, "shot.png")
    assert base64.b64decode(image.data) == PNG


async def test_a_renamed_non_image_an_oversize_image_and_an_escape_are_refused(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "fake.png").write_text("not an image")
    (tmp_path / "ws" / "big.gif").write_bytes(GIF + b"\x00" * 100)
    (tmp_path / "out.png").write_bytes(PNG)
    space = Workspace.of([tmp_path / "ws"], "roots")
    with pytest.raises(WorkspaceError, match="not a PNG, JPEG, WebP or GIF"):
        await load_images(space, ["fake.png"], Limits())
    with pytest.raises(ImageTooLarge, match="maxImageBytes"):
        await load_images(space, ["big.gif"], Limits(max_image_bytes=50))
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        await load_images(space, ["../out.png"], Limits())
