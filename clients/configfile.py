"""Merge one MCP server entry into a client's config file: read, edit in place, back up, write atomically.

A file that cannot be read as its format is never written: the error names the file and what to do.
"""

from __future__ import annotations

import difflib
import glob
import json
import os
import re
import shutil
import stat
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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


def plan_update(spec: ClientSpec, path: Path, entry: dict[str, Any], *, drop: frozenset[str] = frozenset()) -> Plan:
    """Work out the file's new content with our entry set and everything else kept (but the existing entry's
    members in `drop` that ours does not set: another transport's).

    Raises:
        ConfigFileError: the existing file is not valid for its format, or has a shape we cannot merge into.
    """
    old = read_text(path)
    if old is None or not old.lstrip(_BOM).strip():
        return Plan(path, old, fresh_text(spec, entry), had_comments=False)
    bom = _BOM if old.startswith(_BOM) else ""
    body = old[len(bom) :]
    if spec.format == "toml":
        had_comments, new_body = _merge_toml(spec, body, entry, path, drop)
    else:
        had_comments, new_body = _merge_json(spec, body, entry, path, drop)
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


def merged_entry(old: Any, ours: Mapping[str, Any], drop: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Our entry set over the one already in the file: install owns the members it writes (command, args and
    the client's fixed ones such as `type`); every other member the user gave it stays (`disabled`,
    `autoApprove`, `startup_timeout_sec`…), and `env` keeps the user's variables, the pinned ones set over them.
    """
    if not isinstance(old, dict):
        return dict(ours)
    merged = {key: value for key, value in old.items() if key not in drop}
    for key, value in ours.items():
        old_value = merged.get(key)
        merged[key] = {**old_value, **value} if key == "env" and isinstance(old_value, dict) else value
    return merged


def _existing_entry(document: Any, servers_key: str) -> Any:
    servers = document.get(servers_key) if isinstance(document, dict) else None
    return servers.get(SERVER_NAME) if isinstance(servers, dict) else None


def _merge_json(
    spec: ClientSpec, text: str, entry: dict[str, Any], path: Path, drop: frozenset[str] = frozenset()
) -> tuple[bool, str]:
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
        document = parse(text, trailing_commas=spec.trailing_commas)
        old = _existing_entry(document.root.value, spec.servers_key)
        merged = merged_entry(old, entry, drop)
        if isinstance(old, dict) and merged != old and drop & set(old):  # another transport's: written whole
            new_text, _ = set_path(text, (spec.servers_key, SERVER_NAME), merged, trailing_commas=spec.trailing_commas)
        elif isinstance(old, dict):
            new_text = _set_members(text, (spec.servers_key, SERVER_NAME), old, merged, spec)
        else:
            new_text, _ = set_nested_member(
                text, spec.servers_key, SERVER_NAME, entry, trailing_commas=spec.trailing_commas
            )
    except JsoncError as exc:
        raise _malformed(path, kind, str(exc)) from exc
    return document.has_comments, new_text


def _set_members(
    text: str, at: tuple[str, ...], old: Mapping[str, Any], new: Mapping[str, Any], spec: ClientSpec
) -> str:
    """Set only the members of the object at `at` whose value differs, so the rest keeps its layout and comments."""
    for key, value in new.items():
        if key in old and old[key] == value:
            continue
        if isinstance(value, dict) and isinstance(old.get(key), dict):
            text = _set_members(text, (*at, key), old[key], value, spec)
        else:
            text, _ = set_path(text, (*at, key), value, trailing_commas=spec.trailing_commas)
    return text


def _merge_toml(
    spec: ClientSpec, text: str, entry: dict[str, Any], path: Path, drop: frozenset[str] = frozenset()
) -> tuple[bool, str]:
    had_comments = any(line.lstrip().startswith("#") for line in text.splitlines())
    try:
        old = _existing_entry(tomllib.loads(text), spec.servers_key)
        merged = merged_entry(old, entry, drop)
        if merged == old:
            return had_comments, text
        new_text, _ = set_table(text, (spec.servers_key, SERVER_NAME), merged)
    except tomllib.TOMLDecodeError as exc:
        raise _malformed(path, "TOML", str(exc)) from exc
    except (TomlEditError, TypeError) as exc:
        raise ConfigFileError(
            f"cannot add [{spec.servers_key}.{SERVER_NAME}] to {path}: {exc}. Remove the existing "
            f"{SERVER_NAME} server from that file (or write it as a [{spec.servers_key}.{SERVER_NAME}] table), "
            "then run install again"
        ) from exc
    return had_comments, new_text


def _malformed(path: Path, kind: str, detail: str) -> ConfigFileError:
    return ConfigFileError(
        f"{path} is not valid {kind} ({detail}); it was left untouched. "
        "Fix the file (or move it aside) and run install again"
    )


def backup_path(path: Path, now: datetime) -> Path:
    """`<file>.bak-<timestamp>`, numbered (`-1`, `-2`…) when a backup of that second already exists.

    An aware `now` is named in UTC, so backups written by callers in different zones still sort by time.
    """
    stamp = now.astimezone(UTC) if now.tzinfo is not None else now
    stem = f"{path.name}.bak-{stamp.strftime('%Y%m%d-%H%M%S')}"
    pattern = re.compile(re.escape(stem) + r"(?:-(\d+))?")
    # after the highest number of that second, not in a gap pruning left, so the names keep their order
    taken = [
        int(match[1] or 0) for p in path.parent.glob(glob.escape(stem) + "*") if (match := pattern.fullmatch(p.name))
    ]
    return path.with_name(f"{stem}-{max(taken) + 1}" if taken else stem)


def backups_of(path: Path) -> list[Path]:
    """The backups `apply` made of `path`, oldest first (by the time in their names, then their number)."""
    pattern = re.compile(re.escape(path.name) + r"\.bak-(\d{8}-\d{6})(?:-(\d+))?")
    found = []
    for candidate in path.parent.glob(f"{glob.escape(path.name)}.bak-*"):
        match = pattern.fullmatch(candidate.name)
        if match is not None:
            found.append(((match[1], int(match[2] or 0)), candidate))
    return [candidate for _, candidate in sorted(found)]


def prune_backups(path: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups of `path`; returns the ones deleted."""
    every = backups_of(path)
    stale = every[:-keep] if keep > 0 else every
    for old in stale:
        old.unlink(missing_ok=True)
    return stale


def apply(
    plan: Plan, *, now: datetime, new_file_mode: int, backup: bool = True, keep_backups: int | None = None
) -> Path | None:
    """Write the plan: back up an existing file first, then replace it atomically. Returns the backup's path.

    An existing file keeps its permission bits; a new one gets `new_file_mode`. With `keep_backups`, only that
    many of the newest backups are kept (the caller holds the file's lock, so no other writer is pruning).

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
        if saved is not None and keep_backups is not None:
            prune_backups(path, keep_backups)
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
