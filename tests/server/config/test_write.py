"""providers.json edits: in place, validated, backed up."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from clients.configfile import backups_of
from clients.filelock import lock_path
from server.config.load import ConfigError
from server.config.paths import Paths
from server.config.write import (
    KEEP_BACKUPS,
    budget_mode_edit,
    key_path,
    parse_value,
    preference_edits,
    write_config_edits,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
COMMENTED = """{
  // my providers
  "providers": {"zai": {"apiKey": "${ZAI_API_KEY}", "models": {"glm-4.7": {}}}},
  "preferences": {"default": "zai"}
}
"""


def test_an_edit_keeps_the_comments_and_backs_up_the_old_file(tmp_path: Path) -> None:
    paths = Paths.in_home(tmp_path)
    paths.config_file.write_text(COMMENTED)
    result = write_config_edits(paths, [budget_mode_edit("free_only")], {}, now=NOW)
    text = paths.config_file.read_text()
    assert "// my providers" in text
    assert result.config.preferences.budget_mode == "free_only"
    assert result.backup is not None and result.backup.read_text() == COMMENTED


def test_an_edit_that_breaks_the_configuration_writes_nothing(tmp_path: Path) -> None:
    paths = Paths.in_home(tmp_path)
    paths.config_file.write_text(COMMENTED)
    with pytest.raises(ConfigError):
        write_config_edits(paths, [(("preferences", "budgetMode"), "cheapest")], {}, now=NOW)
    assert paths.config_file.read_text() == COMMENTED
    # no backup and no temporary file: only the file and the lock file every write takes
    assert sorted(tmp_path.iterdir()) == [paths.config_file, lock_path(paths.config_file)]


def test_a_missing_file_is_created_private(tmp_path: Path) -> None:
    paths = Paths.in_home(tmp_path)
    result = write_config_edits(paths, preference_edits(["zai", "kimi"], task_type="coding"), {}, now=NOW)
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


def writers_config(count: int) -> str:
    """A valid providers.json with one provider per concurrent writer (`w0`, `w1`…), each its own key to set."""
    providers = {
        f"w{i}": {
            "kind": "openai",
            "baseUrl": "http://127.0.0.1:9/v1",
            "apiKey": f"${{W{i}_KEY}}",
            "models": {"m": {"contextWindow": 8000}},
            "quota": {"requestsPerDay": 0},
        }
        for i in range(count)
    }
    return json.dumps({"providers": providers}, indent=2) + "\n"


def daily_requests(paths: Paths) -> list[int]:
    providers = json.loads(paths.config_file.read_text())["providers"]
    return [providers[name]["quota"]["requestsPerDay"] for name in sorted(providers, key=lambda n: int(n[1:]))]


def test_only_the_newest_backups_are_kept_and_named_by_the_callers_clock(tmp_path: Path) -> None:
    paths = Paths.in_home(tmp_path)
    paths.config_file.write_text(writers_config(1))
    mine = tmp_path / "providers.json.bak-mine"
    mine.write_text("{}")
    for n in range(KEEP_BACKUPS + 5):
        edit = (("providers", "w0", "quota", "requestsPerDay"), n + 1)
        write_config_edits(paths, [edit], {}, now=NOW + timedelta(minutes=n))
    kept = backups_of(paths.config_file)
    expected = [NOW + timedelta(minutes=n) for n in range(5, KEEP_BACKUPS + 5)]
    assert [b.name for b in kept] == [f"providers.json.bak-{t:%Y%m%d-%H%M%S}" for t in expected]
    assert json.loads(kept[-1].read_text())["providers"]["w0"]["quota"]["requestsPerDay"] == KEEP_BACKUPS + 4
    assert mine.exists()  # not a backup this writer made: never pruned


def test_backups_of_one_second_are_kept_in_the_order_they_were_made(tmp_path: Path) -> None:
    paths = Paths.in_home(tmp_path)
    paths.config_file.write_text(writers_config(1))
    for n in range(KEEP_BACKUPS + 2):
        write_config_edits(paths, [(("providers", "w0", "quota", "requestsPerDay"), n + 1)], {}, now=NOW)
    stem = f"providers.json.bak-{NOW:%Y%m%d-%H%M%S}"
    assert [b.name for b in backups_of(paths.config_file)] == [f"{stem}-{n}" for n in range(2, KEEP_BACKUPS + 2)]


def test_a_backup_is_named_in_utc_whatever_the_zone_of_the_callers_clock(tmp_path: Path) -> None:
    paths = Paths.in_home(tmp_path)
    paths.config_file.write_text(COMMENTED)
    berlin = NOW.astimezone(timezone(timedelta(hours=1)))
    result = write_config_edits(paths, [budget_mode_edit("free_only")], {}, now=berlin)
    assert result.backup is not None and result.backup.name == "providers.json.bak-20261128-120000"


def test_concurrent_writers_in_threads_lose_no_update_and_keep_a_bounded_number_of_backups(tmp_path: Path) -> None:
    writers, writes = 8, 6
    paths = Paths.in_home(tmp_path)
    paths.config_file.write_text(writers_config(writers))

    def writer(index: int) -> None:
        for n in range(1, writes + 1):
            edit = (("providers", f"w{index}", "quota", "requestsPerDay"), n)
            write_config_edits(paths, [edit], {}, now=NOW + timedelta(seconds=n))

    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    assert daily_requests(paths) == [writes] * writers
    assert len(backups_of(paths.config_file)) == KEEP_BACKUPS


def test_a_lock_held_too_long_by_another_process_is_a_lock_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    import clients.filelock
    from clients.filelock import LockError, exclusive

    monkeypatch.setattr(clients.filelock, "WAIT_S", 0.05)
    target = tmp_path / "providers.json"
    with open(lock_path(target), "a") as holder:  # another open file description: another holder
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(LockError, match=r"providers\.json\.lock.*more than 0\.05 s"), exclusive(target):
            pass
