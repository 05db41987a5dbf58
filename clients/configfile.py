"""Merge one MCP server entry into a client's config file: read, edit in place, back up, write atomically.

A file that cannot be read as its format is never written: the error names the file and what to do.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import stat
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from clients.jsonc import JsoncError, parse, render, set_nested_member, set_path
from clients.table import SERVER_NAME, ClientSpec
from clients.tomltable import TomlEditError, set_table

_BOM = "\ufeff"


class ConfigFileError(Exception):
    """The config file cannot be merged into; the message names the file and the fix."""


@dataclass(frozen=True)
class Plan:
    """What `install` would do to one file."""

    path: Path
    old_text: str | None
    new_text: str
    had_comments: bool

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def diff(self) -> str:
        """A unified diff from the file as it is to the file as it would be."""
        old = (self.old_text or "").splitlines(keepends=True)
        new = self.new_text.splitlines(keepends=True)
        label = str(self.path)
        lines = difflib.unified_diff(old, new, label if self.old_text is not None else "/dev/null", label)
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def write_target(path: Path) -> Path:
    """Where writing `path` should land: the file a symlink points at, so dotfile links stay links."""
    return path.resolve() if path.is_symlink() else path


def read_text(path: Path) -> str | None:
    """The file's text, or None when there is no file.

    Raises:
        ConfigFileError: the file exists but cannot be read as UTF-8 text.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror}; check that path and its permissions") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{path} is not UTF-8 text; fix or move it aside, then run install again") from exc


def fresh_text(spec: ClientSpec, entry: dict[str, Any]) -> str:
    """The whole content of a new config file holding only our server."""
    if spec.format == "toml":
        _, text = _merge_toml(spec, "", entry, Path())
        return text
    return render({spec.servers_key: {SERVER_NAME: entry}}) + "\n"


def plan_update(spec: ClientSpec, path: Path, entry: dict[str, Any]) -> Plan:
    """Work out the file's new content with our entry set and everything else kept.

    Raises:
        ConfigFileError: the existing file is not valid for its format, or has a shape we cannot merge into.
    """
    old = read_text(path)
    if old is None or not old.lstrip(_BOM).strip():
        return Plan(path, old, fresh_text(spec, entry), had_comments=False)
    bom = _BOM if old.startswith(_BOM) else ""
    body = old[len(bom) :]
    if spec.format == "toml":
        had_comments, new_body = _merge_toml(spec, body, entry, path)
    else:
        had_comments, new_body = _merge_json(spec, body, entry, path)
    return Plan(path, old, bom + new_body, had_comments)


def plan_list_item(path: Path, key: str, item: str) -> Plan:
    """Work out the JSON file's new content with `item` in the top-level list `key` (added once, at the end).

    Raises:
        ConfigFileError: the file is not valid JSON, or `key` holds something other than a list.
    """
    old = read_text(path)
    if old is None or not old.strip():
        return Plan(path, old, render({key: [item]}) + "\n", had_comments=False)
    try:
        json.loads(old)
        root = parse(old, trailing_commas=False).root.value
    except (json.JSONDecodeError, JsoncError) as exc:
        raise _malformed(path, "JSON", str(exc)) from exc
    current = root.get(key, []) if isinstance(root, dict) else None
    if not isinstance(current, list):
        raise ConfigFileError(f'"{key}" in {path} is not a list; fix the file and run install again')
    if item in current:
        return Plan(path, old, old, had_comments=False)
    new_text, _ = set_path(old, (key,), [*current, item], trailing_commas=False)
    return Plan(path, old, new_text, had_comments=False)


def _merge_json(spec: ClientSpec, text: str, entry: dict[str, Any], path: Path) -> tuple[bool, str]:
    kind = (
        "JSON"
        + (" with comments" if spec.comments else "")
        + (" (and trailing commas)" if spec.trailing_commas else "")
    )
    if not spec.comments:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise _malformed(path, kind, f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    try:
        new_text, had_comments = set_nested_member(
            text, spec.servers_key, SERVER_NAME, entry, trailing_commas=spec.trailing_commas
        )
    except JsoncError as exc:
        raise _malformed(path, kind, str(exc)) from exc
    return had_comments, new_text


def _merge_toml(spec: ClientSpec, text: str, entry: dict[str, Any], path: Path) -> tuple[bool, str]:
    try:
        new_text, _ = set_table(text, (spec.servers_key, SERVER_NAME), entry)
    except tomllib.TOMLDecodeError as exc:
        raise _malformed(path, "TOML", str(exc)) from exc
    except TomlEditError as exc:
        raise ConfigFileError(
            f"cannot add [{spec.servers_key}.{SERVER_NAME}] to {path}: {exc}. Remove the existing "
            f"{SERVER_NAME} server from that file (or write it as a [{spec.servers_key}.{SERVER_NAME}] table), "
            "then run install again"
        ) from exc
    return any(line.lstrip().startswith("#") for line in text.splitlines()), new_text


def _malformed(path: Path, kind: str, detail: str) -> ConfigFileError:
    return ConfigFileError(
        f"{path} is not valid {kind} ({detail}); it was left untouched. "
        "Fix the file (or move it aside) and run install again"
    )


def backup_path(path: Path, now: datetime) -> Path:
    """`<file>.bak-<timestamp>`, numbered when a backup of that second already exists."""
    stem = f"{path.name}.bak-{now.strftime('%Y%m%d-%H%M%S')}"
    candidate = path.with_name(stem)
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{stem}-{counter}")
        counter += 1
    return candidate


def apply(plan: Plan, *, now: datetime, new_file_mode: int, backup: bool = True) -> Path | None:
    """Write the plan: back up an existing file first, then replace it atomically. Returns the backup's path.

    An existing file keeps its permission bits; a new one gets `new_file_mode`.

    Raises:
        ConfigFileError: a directory or file could not be created or written.
    """
    path = plan.path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = None
        mode = new_file_mode
        if plan.old_text is not None:
            mode = stat.S_IMODE(path.stat().st_mode)
            if backup:
                saved = backup_path(path, now)
                shutil.copy2(path, saved)
        _atomic_write(path, plan.new_text.encode("utf-8"), mode)
    except OSError as exc:
        raise ConfigFileError(
            f"cannot write {exc.filename or path}: {exc.strerror}; check the permissions of {path.parent}"
        ) from exc
    return saved


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
