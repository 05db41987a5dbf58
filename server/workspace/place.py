r"""The files as the model reads them: one delimited block each, ahead of the task.

    <file path="src/app.py">
    ...text...
    </file>

A closing tag inside a file's text is escaped (`</file` becomes `<\/file`), so no file can end its block early
and pose as the task or as another file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from server.workspace.load import LoadedFile

_CLOSING = re.compile(r"<(\s*)/(\s*)(file)", re.IGNORECASE)
PREAMBLE = "The files below are attached for the task after them; each is between <file> and </file>."


def escape(text: str) -> str:
    """`text` with every `</file` (any case, any spacing) escaped as `<\\/file`."""
    return _CLOSING.sub(lambda m: f"<{m.group(1)}\\/{m.group(2)}{m.group(3)}", text)


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def file_block(file: LoadedFile, line_numbers: bool = False) -> str:
    """One file's block; with `line_numbers` each line starts with its number (right-aligned) and `| `."""
    text = file.text
    if line_numbers:
        lines = text.splitlines()
        width = len(str(len(lines)))
        text = "\n".join(f"{number:>{width}}| {line}" for number, line in enumerate(lines, start=1))
        head = f'<file path="{_attribute(file.path)}" lines="1-{len(lines)}">'
    else:
        head = f'<file path="{_attribute(file.path)}">'
    body = escape(text)
    return f"{head}\n{body}{'' if body.endswith(chr(10)) or not body else chr(10)}</file>"


def place_files(files: Sequence[LoadedFile], task: str, line_numbers: bool = False) -> tuple[str, list[str]]:
    """The user turn with the files ahead of `task`, and each file's block (for counting its tokens)."""
    blocks = [file_block(file, line_numbers) for file in files]
    if not blocks:
        return task, []
    return "\n\n".join([PREAMBLE, *blocks, task]), blocks
