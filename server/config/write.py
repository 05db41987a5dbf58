"""Edits of providers.json: set members in place (comments and layout kept), validate, back up, write atomically.

One writer for every caller that changes the configuration (the CLI's `prefer`, `budget`, `config set` and
`setup`, and the MCP `set_preference` tool), so a change made in one place reads the same everywhere:

    result = write_config_edits(paths, [(("preferences", "budgetMode"), "free_only")], environ, now=app.clock())

The edited text is validated as a whole before anything is written: an edit that would make the file invalid
raises `ConfigError` and leaves the file as it was. An existing file is copied to `providers.json.bak-<time>`
first (`<time>` from the caller's `now`); only the newest KEEP_BACKUPS backups are kept. Every write holds
`providers.json.lock` (an OS lock) from its read to its rename, so concurrent writers in several processes
(the CLI, each agent's server) never lose each other's edits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clients.configfile import ConfigFileError, Plan, apply, read_text, write_target
from clients.filelock import LockError, exclusive
from clients.jsonc import JsoncError, render, set_path
from providers.models import TASK_TYPES
from routing.preferences import BUDGET_MODES
from server.config.load import ConfigError, RouterConfig, parse_config
from server.config.paths import Paths
from server.config.prefs import PREFERENCE_KEYS, QUALITY_KEYS, SETTINGS_KEYS

#: one edit: the JSON path of a member (keys from the top level down) and its new value
Edit = tuple[Sequence[str], Any]

#: the members `config set KEY` accepts without their block (the seed's task-type keys need `preferences.`)
_PREFERENCE_KEYS = tuple(key for key in PREFERENCE_KEYS if key not in TASK_TYPES)
_TOP_KEYS = ("providers", "preferences", "settings")
_CONFIG_FILE_MODE = 0o600
#: backups of providers.json kept beside it; older ones are deleted as new ones are made
KEEP_BACKUPS = 10


@dataclass(frozen=True)
class ConfigWrite:
    """What a write did: the file, its backup (None for a new file or no change) and the configuration now in force."""

    path: Path
    backup: Path | None
    changed: bool
    config: RouterConfig


@contextmanager
def _locked(path: Path, source: str) -> Iterator[None]:
    """Hold providers.json's lock: the read, the edit and the write happen with no other writer in between."""
    with ExitStack() as held:
        try:
            held.enter_context(exclusive(path))
        except LockError as error:
            raise ConfigError(source, str(error), fix=f"check the permissions of {path.parent}") from error
        yield


def write_config_edits(
    paths: Paths, edits: Sequence[Edit], environ: Mapping[str, str], *, now: datetime
) -> ConfigWrite:
    """Apply `edits` to providers.json (creating it when missing) and return the validated result.

    The file is read again under its lock, so an edit made meanwhile by another process is kept, not overwritten.
    `now` (the caller's clock) names the backup.

    Raises:
        ConfigError: the file cannot be read or edited, or the edited configuration is invalid (nothing written).
    """
    path = write_target(paths.config_file)
    source = str(paths.config_file)
    with _locked(path, source):
        try:
            old = read_text(path)
        except ConfigFileError as error:
            raise ConfigError(source, str(error), fix="fix or move the file aside") from error
        text = old if old is not None and old.strip() else "{}\n"
        for member_path, value in edits:
            text = _set(text, member_path, value, source)
        config = parse_config(text, source=source, environ=environ, today=now.astimezone(UTC).date())
        plan = Plan(path, old, text, had_comments=False)
        if not plan.changed:
            return ConfigWrite(path=path, backup=None, changed=False, config=config)
        saved = _apply(plan, now, source)
    return ConfigWrite(path=path, backup=saved, changed=True, config=config)


def write_config_document(
    paths: Paths, document: Mapping[str, Any], environ: Mapping[str, str], *, now: datetime
) -> ConfigWrite:
    """Replace providers.json with `document` (used by `setup`), validated first; the old file is backed up.

    Raises:
        ConfigError: the document is not a valid configuration, or the file cannot be written.
    """
    path = write_target(paths.config_file)
    source = str(paths.config_file)
    text = render(dict(document)) + "\n"
    config = parse_config(text, source=source, environ=environ, today=now.astimezone(UTC).date())
    with _locked(path, source):
        try:
            old = read_text(path)
        except ConfigFileError as error:
            raise ConfigError(source, str(error), fix="fix or move the file aside") from error
        plan = Plan(path, old, text, had_comments=False)
        saved = _apply(plan, now, source) if plan.changed else None
    return ConfigWrite(path=path, backup=saved, changed=plan.changed, config=config)


def _apply(plan: Plan, now: datetime, source: str) -> Path | None:
    try:
        return apply(plan, now=now, new_file_mode=_CONFIG_FILE_MODE, keep_backups=KEEP_BACKUPS)
    except ConfigFileError as error:
        raise ConfigError(source, str(error), fix=f"check the permissions of {plan.path.parent}") from error


def _set(text: str, member_path: Sequence[str], value: Any, source: str) -> str:
    try:
        new_text, _ = set_path(text, member_path, value)
    except JsoncError as error:
        raise ConfigError(
            source, f"cannot edit the file ({error})", fix="fix the file by hand (or move it aside) and retry"
        ) from error
    return new_text


def preference_edits(
    providers: Sequence[str],
    *,
    task_type: str | None = None,
    quality: str | None = None,
) -> list[Edit]:
    """The edit that sets one preference list: a task type's, a quality mode's, or (neither given) `default`.

    `default` takes one provider; the others take an ordered list. Raises ValueError for an unknown task type or
    quality mode, or an empty list.
    """
    if not providers:
        raise ValueError("name at least one provider")
    if task_type is not None and quality is not None:
        raise ValueError("set either a task type or a quality mode, not both")
    if task_type is not None:
        if task_type not in TASK_TYPES:
            raise ValueError(f"unknown task type {task_type!r}; use one of {', '.join(TASK_TYPES)}")
        return [(("preferences", "taskPreferences", task_type), list(providers))]
    if quality is not None:
        if quality not in QUALITY_KEYS:
            raise ValueError(f"unknown quality mode {quality!r}; use one of {', '.join(QUALITY_KEYS)}")
        return [(("preferences", "qualityPreferences", quality), list(providers))]
    if len(providers) > 1:
        raise ValueError(
            "the default is one provider; to order several, name a task type or a quality (CLI: --task / --quality)"
        )
    return [(("preferences", "default"), providers[0])]


def budget_mode_edit(mode: str) -> Edit:
    """The edit that sets the budget mode. Raises ValueError for an unknown mode."""
    if mode not in BUDGET_MODES:
        raise ValueError(f"unknown budget mode {mode!r}; use one of {', '.join(BUDGET_MODES)}")
    return (("preferences", "budgetMode"), mode)


def _camel(segment: str) -> str:
    head, *rest = segment.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def key_path(key: str) -> tuple[str, ...]:
    """A dotted `config set` key as a JSON path: `preferences.autoSwitch`, `settings.timezone`,
    `providers.google.quota.requestsPerDay`. snake_case reads as camelCase (`switch_on_limit`), and a bare
    preference or settings key finds its block (`autoSwitch` -> `preferences.autoSwitch`).

    Raises ValueError when the key names nothing in the file's format.
    """
    parts = [part for part in re.split(r"\.", key.strip()) if part]
    if not parts:
        raise ValueError("name a key, e.g. preferences.autoSwitch")
    if parts[0] == "provider" and len(parts) == 2:  # the older `provider.switch_on_limit`
        parts = parts[1:]
    if parts[0] not in _TOP_KEYS:
        first = _camel(parts[0])
        if len(parts) == 1 and first in _PREFERENCE_KEYS:
            return ("preferences", first)
        if len(parts) == 1 and first in SETTINGS_KEYS:
            return ("settings", first)
        raise ValueError(
            f"unknown key {key!r}; start with providers., preferences. or settings. "
            f"(preferences: {', '.join(_PREFERENCE_KEYS)}; settings: {', '.join(SETTINGS_KEYS)})"
        )
    if parts[0] == "providers":
        # provider and account ids are the user's own names: keep them as written
        return ("providers", *parts[1:2], *(_camel(part) for part in parts[2:]))
    return (parts[0], *(_camel(part) for part in parts[1:]))


def parse_value(text: str) -> Any:
    """A `config set` value: JSON when it parses (true, 12, 0.5, null, ["a","b"], {...}), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
