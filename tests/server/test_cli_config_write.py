"""providers.json edits: in place, validated, backed up."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ConfigError
from server.config_write import (
    budget_mode_edit,
    key_path,
    parse_value,
    preference_edits,
    write_config_edits,
)
from server.paths import Paths
from tests.clock import FIXED_NOW

COMMENTED = """{
  // my providers
  "providers": {"zai": {"apiKey": "${ZAI_API_KEY}", "models": {"glm-4.7": {}}}},
  "preferences": {"default": "zai"}
}
"""


def test_an_edit_keeps_the_comments_and_backs_up_the_old_file(tmp_path: Path) -> None:
    paths = Paths.in_home(tmp_path)
    paths.config_file.write_text(COMMENTED)
    result = write_config_edits(paths, [budget_mode_edit("free_only")], {}, now=FIXED_NOW)
    text = paths.config_file.read_text()
    assert "// my providers" in text
    assert result.config.preferences.budget_mode == "free_only"
    assert result.backup is not None and result.backup.read_text() == COMMENTED


def test_an_edit_that_breaks_the_configuration_writes_nothing(tmp_path: Path) -> None:
    paths = Paths.in_home(tmp_path)
    paths.config_file.write_text(COMMENTED)
    with pytest.raises(ConfigError):
        write_config_edits(paths, [(("preferences", "budgetMode"), "cheapest")], {}, now=FIXED_NOW)
    assert paths.config_file.read_text() == COMMENTED
    assert list(tmp_path.iterdir()) == [paths.config_file]


def test_a_missing_file_is_created_private(tmp_path: Path) -> None:
    paths = Paths.in_home(tmp_path)
    result = write_config_edits(paths, preference_edits(["zai", "kimi"], task_type="coding"), {}, now=FIXED_NOW)
    assert result.backup is None
    assert result.config.preferences.task_preferences["coding"] == ("zai", "kimi")
    assert paths.config_file.stat().st_mode & 0o777 == 0o600


def test_preference_edits_name_the_list_they_set() -> None:
    assert preference_edits(["openai"]) == [(("preferences", "default"), "openai")]
    assert preference_edits(["a", "b"], quality="max_speed") == [
        (("preferences", "qualityPreferences", "max_speed"), ["a", "b"])
    ]
    with pytest.raises(ValueError, match="one provider"):
        preference_edits(["a", "b"])
    with pytest.raises(ValueError, match="task type"):
        preference_edits(["a"], task_type="poetry")


def test_config_keys_read_the_seeds_spelling_and_bare_names() -> None:
    assert key_path("provider.switch_on_limit") == ("preferences", "switchOnLimit")
    assert key_path("autoSwitch") == ("preferences", "autoSwitch")
    assert key_path("settings.log_prompts") == ("settings", "logPrompts")
    assert key_path("providers.my_proxy.base_url") == ("providers", "my_proxy", "baseUrl")
    with pytest.raises(ValueError, match="unknown key"):
        key_path("colour")
    assert parse_value("true") is True
    assert parse_value('["a", "b"]') == ["a", "b"]
    assert parse_value("America/New_York") == "America/New_York"
