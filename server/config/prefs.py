"""The `preferences` and `settings` blocks of providers.json.

The keys are README "Configuration"; every list is an ORDER of provider ids, never an allow-list.

The looser forms are read as meant:
- `"default": ["google", "kimi", "zai"]` (its "free tier maximization" use case): the first id becomes `default`,
  and the whole list becomes the order of every task type that has no list of its own, so the order is kept.
- task-type lists written directly under `preferences` (`"reasoning": [...]`) count as `taskPreferences`.
- `budgetMode`, `autoSwitch`, `switchOnLimit` and `preserveContext` at the top level of the file count as
  preferences (the block inside `preferences` wins when both are given).

Provider ids are matched to the configured providers, aliases included (`"moonshot"` finds a provider configured as
`"kimi"`). An id that names no configured provider is kept (it ranks nowhere) and reported as a warning, so a typo
never stops the server.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from providers.models import TASK_TYPES
from providers.vendors import vendor_for
from routing.preferences import BUDGET_MODES, QUALITY_MODES, CachePolicy, Preferences
from server.config.quota import parse_budget
from server.config.reader import Reader, child, item, quoted
from server.config.types import RouterSettings
from storage.database_url import BadDatabaseUrl, parse_database_url

QUALITY_KEYS = (*QUALITY_MODES, "cost_first")
TOP_LEVEL_PREFERENCES = ("budgetMode", "autoSwitch", "switchOnLimit", "preserveContext")
_FLAGS = {"autoSwitch": "auto_switch", "switchOnLimit": "switch_on_limit", "preserveContext": "preserve_context"}
PREFERENCE_KEYS = (
    *_FLAGS,
    *TASK_TYPES,
    "default",
    "taskPreferences",
    "qualityPreferences",
    "budgetMode",
    "budgetUsd",
    "switchThresholdTokens",
    "autoDiscover",
    "cache",
    "samplingFallback",
    "hedge",
)
SETTINGS_KEYS = (
    "retentionDays",
    "logPrompts",
    "conversationRetentionHours",
    "requestTimeoutS",
    "deadlineS",
    "timezone",
    "maxResponseMb",
    "maxFileBytes",
    "maxFiles",
    "maxImageBytes",
    "database",
)
MAX_RETENTION_DAYS = 36_500
#: a response cap beyond this is no cap
MAX_RESPONSE_MB = 1024.0
#: attachments past these are a typo (a file of 64 MiB is ~16M tokens, past every context window)
MAX_ATTACH_BYTES = 64 * 1024 * 1024
MAX_ATTACH_FILES = 10_000
#: a call's reservation holds its room in the ledger for 15 minutes (storage.ledger.DEFAULT_TTL): a longer attempt
#: or deadline would let the room lapse while the call still runs, and other processes could spend it
MAX_WAIT_S = 840.0


def _resolve(reader: Reader, name: str, path: str, configured: Collection[str]) -> str:
    if name in configured:
        return name
    vendor = vendor_for(name)
    for provider in configured:
        if vendor is not None and vendor_for(provider) == vendor:
            return provider
    if name not in reader.unknown_providers:
        reader.unknown_providers.add(name)
        why = 'it ranks nowhere until you add it under "providers"'
        reader.warn(path, f"{quoted(name)} is not a configured provider; {why}")
    return name


def _order(reader: Reader, value: Any, path: str, configured: Collection[str]) -> tuple[str, ...]:
    names = reader.strings(value, path)
    resolved = (_resolve(reader, name, item(path, index), configured) for index, name in enumerate(names))
    return tuple(dict.fromkeys(resolved))


def _lists(
    reader: Reader, value: Any, path: str, keys: tuple[str, ...], configured: Collection[str]
) -> dict[str, tuple[str, ...]]:
    block = reader.obj(value, path)
    result: dict[str, tuple[str, ...]] = {}
    for key, names in block.items():
        if key in keys:
            result[key] = _order(reader, names, child(path, key), configured)
        else:
            reader.warn(child(path, key), f"not one of {', '.join(keys)}; ignored")
    return result


def _default(reader: Reader, value: Any, path: str, configured: Collection[str]) -> tuple[str | None, tuple[str, ...]]:
    """`default` and, for the list form, the order that fills task types without their own list."""
    if value is None:
        return None, ()
    if isinstance(value, list):
        order = _order(reader, value, path, configured)
        return (order[0] if order else None), order
    return _resolve(reader, reader.string(value, path), path, configured), ()


def parse_preferences(reader: Reader, root: dict[str, Any], configured: Collection[str]) -> Preferences:
    """The preferences in force (see the module docstring for the accepted forms).

    Raises:
        ConfigError: a value has the wrong type, or budgetMode is not a known mode.
    """
    path = "$.preferences"
    block = {} if root.get("preferences") is None else reader.obj(root["preferences"], path)
    reader.known_keys(block, path, PREFERENCE_KEYS)
    merged = {key: root[key] for key in TOP_LEVEL_PREFERENCES if key in root} | block
    where = {key: child(path if key in block else "$", key) for key in merged}
    fields: dict[str, Any] = {}
    default, default_order = _default(reader, merged.get("default"), where.get("default", path), configured)
    fields["default"] = default
    tasks: dict[str, tuple[str, ...]] = {}
    for task in TASK_TYPES:
        if task in block:
            tasks[task] = _order(reader, block[task], child(path, task), configured)
    if "taskPreferences" in block:
        tasks |= _lists(reader, block["taskPreferences"], child(path, "taskPreferences"), TASK_TYPES, configured)
    if default_order:
        tasks = {task: tasks.get(task, default_order) for task in TASK_TYPES}
    fields["task_preferences"] = tasks
    if "qualityPreferences" in block:
        qpath = child(path, "qualityPreferences")
        fields["quality_preferences"] = _lists(reader, block["qualityPreferences"], qpath, QUALITY_KEYS, configured)
    if "budgetMode" in merged:
        fields["budget_mode"] = reader.choice(merged["budgetMode"], where["budgetMode"], BUDGET_MODES)
    for key, name in _FLAGS.items():
        if key in merged:
            fields[name] = reader.boolean(merged[key], where[key])
    fields["budget"] = parse_budget(reader, block.get("budgetUsd"), child(path, "budgetUsd"))
    if "autoDiscover" in block:
        fields["auto_discover"] = reader.boolean(block["autoDiscover"], child(path, "autoDiscover"))
    if "samplingFallback" in block:
        fields["sampling_fallback"] = reader.boolean(block["samplingFallback"], child(path, "samplingFallback"))
    if "cache" in block:
        fields["cache"] = _cache(reader, block["cache"], child(path, "cache"))
    if "hedge" in block:
        fields["hedge"] = reader.boolean(block["hedge"], child(path, "hedge"))
    if "switchThresholdTokens" in block:
        threshold_path = child(path, "switchThresholdTokens")
        fields["switch_threshold_tokens"] = reader.integer(block["switchThresholdTokens"], threshold_path)
    return Preferences.model_validate(fields)


def _cache(reader: Reader, value: Any, path: str) -> CachePolicy:
    """`{taskType: ttl seconds, "maxMb": MB}`."""
    block = reader.obj(value, path, fix='write e.g. {"coding": 3600, "maxMb": 64}')
    reader.known_keys(block, path, (*TASK_TYPES, "maxMb"))
    ttl = {task: reader.integer(block[task], child(path, task)) for task in TASK_TYPES if task in block}
    if "maxMb" not in block:
        return CachePolicy(ttl_s=ttl)
    return CachePolicy(ttl_s=ttl, max_mb=reader.number(block["maxMb"], child(path, "maxMb"), positive=True))


def parse_settings(reader: Reader, value: Any) -> RouterSettings:
    """The `settings` block (see `RouterSettings` for each key and its default).

    Raises:
        ConfigError: a value has the wrong type or range, or the time zone is unknown.
    """
    path = "$.settings"
    if value is None:
        return RouterSettings()
    block = reader.obj(value, path)
    reader.known_keys(block, path, SETTINGS_KEYS)
    fields: dict[str, Any] = {}
    if "retentionDays" in block:
        fields["retention_days"] = reader.integer(
            block["retentionDays"], child(path, "retentionDays"), minimum=1, maximum=MAX_RETENTION_DAYS
        )
    if "logPrompts" in block:
        fields["log_prompts"] = reader.boolean(block["logPrompts"], child(path, "logPrompts"))
    if "conversationRetentionHours" in block:
        fields["conversation_retention_hours"] = reader.integer(
            block["conversationRetentionHours"],
            child(path, "conversationRetentionHours"),
            minimum=1,
            maximum=MAX_RETENTION_DAYS * 24,
        )
    for key, name in (("requestTimeoutS", "request_timeout_s"), ("deadlineS", "deadline_s")):
        if key in block:
            fields[name] = reader.number(block[key], child(path, key), positive=True, maximum=MAX_WAIT_S)
    if "timezone" in block:
        fields["timezone"] = reader.timezone(block["timezone"], child(path, "timezone"))
    if "maxResponseMb" in block:
        fields["max_response_mb"] = reader.number(
            block["maxResponseMb"], child(path, "maxResponseMb"), positive=True, maximum=MAX_RESPONSE_MB
        )
    for key, name, most in (
        ("maxFileBytes", "max_file_bytes", MAX_ATTACH_BYTES),
        ("maxFiles", "max_files", MAX_ATTACH_FILES),
        ("maxImageBytes", "max_image_bytes", MAX_ATTACH_BYTES),
    ):
        if key in block:
            fields[name] = reader.integer(block[key], child(path, key), minimum=1, maximum=most)
    if "database" in block:
        fields["database"] = _database(reader, block["database"], child(path, "database"))
    return RouterSettings.model_validate(fields)


def _database(reader: Reader, value: Any, path: str) -> SecretStr:
    """A database URL that parses (its password, often `${VAR}`, is kept secret and never echoed)."""
    text = reader.string(value, path, empty=True)
    try:
        parse_database_url(text, default_path=Path("router.db"))
    except BadDatabaseUrl as error:
        reader.fail(path, str(error).split(". Fix: ")[0], str(error).split(". Fix: ")[-1])
    return SecretStr(text)
