"""How much a request may attach (settings.maxFileBytes, maxFiles, maxImageBytes)."""

from __future__ import annotations

from providers.values import read_only_hashable

DEFAULT_MAX_FILE_BYTES = 256 * 1024
DEFAULT_MAX_FILES = 50
DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024


@read_only_hashable
class Limits:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_files: int = DEFAULT_MAX_FILES
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
