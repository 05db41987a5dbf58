"""The configuration: providers.json read, validated and resolved into frozen values, and edited in place
(comments kept); where the user's files live."""

from server.config.lifecycle import Notice, lifecycle_notices, substitutions
from server.config.load import ConfigError, RouterConfig, credential_label, load_config, redacted_view
from server.config.paths import Paths
from server.config.reader import decode_jsonc
from server.config.types import RouterSettings
from server.config.write import (
    ConfigWrite,
    Edit,
    budget_mode_edit,
    key_path,
    parse_value,
    preference_edits,
    write_config_document,
    write_config_edits,
)

__all__ = [
    "ConfigError",
    "ConfigWrite",
    "Edit",
    "Notice",
    "Paths",
    "RouterConfig",
    "RouterSettings",
    "budget_mode_edit",
    "credential_label",
    "decode_jsonc",
    "key_path",
    "lifecycle_notices",
    "load_config",
    "parse_value",
    "preference_edits",
    "redacted_view",
    "substitutions",
    "write_config_document",
    "write_config_edits",
]
