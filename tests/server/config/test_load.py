"""providers.json: the seed's example loads as written; every malformed file gives one ConfigError naming the fix."""

from __future__ import annotations

import contextlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.jsonc import parse as parse_jsonc
from providers.models import CredentialRef, QuotaSpec
from server.config.load import ConfigError, RouterConfig, config_from_data, load_config, parse_config, redacted_view
from server.config.paths import Paths
from server.workspace import Limits
from tests.clock import FIXED_NOW

TODAY = date(2026, 11, 28)
FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed_example.jsonc"
ENV = {"HOME": "/home/u", "PORT": "8080"}


def parse(text: str, environ: dict[str, str] | None = None) -> RouterConfig:
    return parse_config(text, source="providers.json", environ=environ or ENV, today=TODAY)


def data(value: Any, environ: dict[str, str] | None = None) -> RouterConfig:
    return config_from_data(value, source="providers.json", environ=environ or ENV, today=TODAY)


# --- the seed's example ---


def seed() -> RouterConfig:
    return load_config(SEED, {}, today=TODAY)


def test_the_seed_example_is_a_verbatim_copy_of_the_seed_document() -> None:
    """seed_document_excerpt.md is the seed document's "Example Configuration" section as published."""
    excerpt = (FIXTURES / "seed_document_excerpt.md").read_text(encoding="utf-8")
    block = excerpt.split("// ~/.openclaw/providers.json\n", 1)[1].split("\n```", 1)[0]
    assert SEED.read_text(encoding="utf-8").rstrip("\n") == block.rstrip("\n")


def test_the_seed_example_loads_with_its_four_providers_and_their_wire_kinds() -> None:
    config = seed()
    assert not config.missing
    assert {name: p.kind for name, p in config.providers.items()} == {
        "zai": "openai",
        "kimi": "openai",
        "google": "gemini",
        "openai": "openai",
    }
    assert config.providers["kimi"].base_url == "https://api.moonshot.ai/v1"
    assert config.providers["kimi"].catalog == "moonshot"


def test_the_seeds_google_pool_has_three_round_robin_accounts_of_15_requests_a_day_reset_in_pacific_time() -> None:
    google = seed().providers["google"]
    assert google.load_balancing == "round_robin"
    assert [account.id for account in google.accounts] == ["google-1", "google-2", "google-3"]
    for index, account in enumerate(google.accounts, start=1):
        assert account.quota == QuotaSpec(requests_per_day=15, timezone="America/Los_Angeles")
        assert account.credential == CredentialRef(source="env", name=f"GOOGLE_API_KEY_{index}")
        assert account.provider == "google" and account.kind == "gemini"


def test_the_seeds_short_quota_forms_become_daily_and_monthly_request_limits() -> None:
    config = seed()
    assert config.providers["kimi"].accounts[0].quota.requests_per_day == 15
    assert config.providers["openai"].accounts[0].quota.requests_per_month == 1_000_000_000
    zai_quota = config.providers["zai"].accounts[0].quota
    assert zai_quota.requests_per_day is None  # "free_tier": Z.AI documents none; learned from responses
    assert any("zai.quota.limit" in warning for warning in config.warnings)


def test_the_seeds_models_merge_over_the_catalogue_and_keep_their_lifecycle_flags() -> None:
    config = seed()
    kimi = config.providers["kimi"].models
    assert list(kimi) == ["kimi-k2.5"]  # the seed's "kimi-2.5" is the API's kimi-k2.5
    assert kimi["kimi-k2.5"].context_window == 256_000 and kimi["kimi-k2.5"].input_cost_per_1m == 0
    gpt = config.providers["openai"].models["gpt-4o"]
    assert (gpt.input_cost_per_1m, gpt.output_cost_per_1m, gpt.max_output_tokens) == (30, 30, 16384)
    assert gpt.retired_on == date(2027, 1, 14) and gpt.replacement == "gpt-5.1"
    flash = config.providers["google"].models["gemini-2.5-flash"]
    assert flash.replacement == "gemini-3.5-flash-lite" and flash.is_retired(date(2026, 12, 1))
    glm = config.providers["zai"].models["glm-4.7"]
    assert glm.quality == {"coding": 85, "reasoning": 82, "creative": 80, "simple": 84}  # from the catalogue
    assert glm.preference_score == 50


def test_the_seeds_preferences_become_routing_preferences() -> None:
    prefs = seed().preferences
    assert prefs.default == "zai"
    assert prefs.task_preferences["coding"] == ("openai", "anthropic", "zai", "kimi")
    assert prefs.quality_preferences["cost_first"] == ("kimi", "google", "zai", "anthropic", "openai")
    assert prefs.budget_mode == "quality_first"
    assert prefs.auto_switch and prefs.switch_on_limit and prefs.preserve_context


def test_a_provider_named_in_preferences_but_not_configured_is_one_warning_not_an_error() -> None:
    warnings = [w for w in seed().warnings if '"anthropic" is not a configured provider' in w]
    assert len(warnings) == 1


# --- files and defaults ---


def test_a_missing_file_gives_an_empty_configuration_that_says_to_run_setup(tmp_path: Path) -> None:
    config = load_config(tmp_path / "providers.json", {}, today=FIXED_NOW.date())
    assert config.missing and config.providers == {}
    assert config.setup_hint is not None and "provider-router setup" in config.setup_hint


def test_an_empty_object_loads_with_a_setup_hint() -> None:
    config = parse("{}")
    assert not config.missing and config.setup_hint is not None


def test_comments_inside_strings_are_not_comments_and_trailing_commas_are_accepted() -> None:
    text = """{
      // line comment
      "providers": {
        "proxy": {"kind": "openai", "baseUrl": "https://proxy.example/v1", /* block */ "apiKey": "none",
                  "models": {"m": {"contextWindow": 1000,},},},
      },
    }"""
    config = parse(text)
    assert config.providers["proxy"].base_url == "https://proxy.example/v1"
    assert parse_jsonc('{"a": "x // y /* z */",}').root.value == {"a": "x // y /* z */"}


def test_a_single_api_key_is_a_pool_of_one_named_after_the_provider_and_defaults_come_from_the_vendor() -> None:
    config = data({"providers": {"openai": {"apiKey": "${OPENAI_API_KEY}"}}})
    openai = config.providers["openai"]
    assert [a.id for a in openai.accounts] == ["openai"]
    assert openai.base_url == "https://api.openai.com/v1"
    assert openai.options.max_tokens_field == "max_completion_tokens"
    assert "gpt-5.1" in openai.models and "gpt-4.1-nano" not in openai.models  # current models only


@pytest.mark.parametrize(
    ("api_key", "expected"),
    [
        ("${OPENAI_API_KEY}", CredentialRef(source="env", name="OPENAI_API_KEY")),
        ("env:WORK_KEY", CredentialRef(source="env", name="WORK_KEY")),
        ("keyring:openai-work", CredentialRef(source="keyring", name="openai-work")),
        (None, CredentialRef(source="keyring", name="openai")),
        ("none", CredentialRef(source="none")),
    ],
)
def test_api_key_references_are_kept_as_references_never_resolved(api_key: str | None, expected: CredentialRef) -> None:
    provider: dict[str, Any] = {} if api_key is None else {"apiKey": api_key}
    config = data({"providers": {"openai": provider}}, environ={"OPENAI_API_KEY": "sk-secret"})
    assert config.providers["openai"].accounts[0].credential == expected


def test_a_vendor_without_keys_gets_no_credential() -> None:
    config = data({"providers": {"ollama": {"models": {"llama3": {"contextWindow": 8192}}}}})
    ollama = config.providers["ollama"]
    assert ollama.accounts[0].credential.source == "none"
    assert ollama.models["llama3"].max_output_tokens == 4096


def test_environment_variables_are_interpolated_in_string_values_with_defaults() -> None:
    config = data(
        {
            "providers": {
                "local": {
                    "kind": "openai",
                    "baseUrl": "http://127.0.0.1:${PORT}/v1",
                    "label": "${LABEL:-Local}",
                    "apiKey": "none",
                    "models": {"m": {"contextWindow": 100}},
                }
            }
        }
    )
    assert config.providers["local"].base_url == "http://127.0.0.1:8080/v1"
    assert config.providers["local"].label == "Local"


def test_a_provider_level_quota_applies_to_each_account_unless_the_account_sets_its_own() -> None:
    config = data(
        {
            "providers": {
                "google": {
                    "quota": {"requestsPerMinute": 5, "requestsPerDay": 20},
                    "accounts": [{"id": "g1"}, {"id": "g2", "quota": {"limit": "free_100_per_day"}}, "g3"],
                    "loadBalancing": "least_used",
                }
            }
        }
    )
    google = config.providers["google"]
    quotas = [account.quota for account in google.accounts]
    assert (
        quotas[0] == quotas[2] == QuotaSpec(requests_per_minute=5, requests_per_day=20, timezone="America/Los_Angeles")
    )
    assert quotas[1].requests_per_day == 100 and quotas[1].requests_per_minute is None
    assert google.accounts[2].credential == CredentialRef(source="keyring", name="g3")
    assert google.load_balancing == "least_used"


def test_free_tier_takes_the_vendors_documented_free_limits() -> None:
    config = data({"providers": {"google": {"quota": {"limit": "free_tier"}}}})
    quota = config.providers["google"].accounts[0].quota
    assert (quota.requests_per_minute, quota.requests_per_day, quota.tokens_per_minute) == (5, 20, 250_000)


def test_user_model_overrides_merge_over_the_catalogue_and_unknown_models_are_defined() -> None:
    config = data(
        {
            "providers": {
                "anthropic": {
                    "models": {
                        "claude-sonnet-4-6": {
                            "quality": {"coding": 99},
                            "inputCostPer1M": 2,
                            "capabilities": ["tools"],
                        },
                        "claude-next": {"contextWindow": 500000, "maxTokens": 64000, "outputCostPer1M": 9},
                        "claude-opus-5": {"enabled": False},
                    }
                }
            }
        }
    )
    models = config.providers["anthropic"].models
    sonnet = models["claude-sonnet-4-6"]
    assert sonnet.quality["coding"] == 99 and sonnet.quality["reasoning"] == 90
    assert (sonnet.input_cost_per_1m, sonnet.output_cost_per_1m) == (2, 15)
    assert sonnet.capabilities == frozenset({"tools"})
    assert models["claude-next"].context_window == 500_000 and models["claude-next"].provider == "anthropic"
    assert "claude-opus-5" not in models


def test_a_retired_model_in_the_config_is_kept_flagged_and_warned_about() -> None:
    config = data({"providers": {"anthropic": {"models": {"claude-3.5-sonnet": {}}}}})
    model = config.providers["anthropic"].models["claude-3-5-sonnet-20241022"]
    assert model.is_retired(TODAY)
    assert any("retired 2025-10-22 → claude-sonnet-4-6" in warning for warning in config.warnings)


def test_the_seeds_list_form_of_default_orders_every_task_type_without_its_own_list() -> None:
    config = data(
        {
            "providers": {"google": {}, "kimi": {}, "zai": {}},
            "budgetMode": "free_only",
            "preferences": {"default": ["google", "moonshot", "zai"], "coding": ["zai"]},
        }
    )
    prefs = config.preferences
    assert prefs.default == "google" and prefs.budget_mode == "free_only"
    assert prefs.task_preferences["simple"] == ("google", "kimi", "zai")  # "moonshot" is the configured "kimi"
    assert prefs.task_preferences["coding"] == ("zai",)


def test_settings_and_budgets_are_read() -> None:
    config = data(
        {
            "providers": {"openai": {"budgetUsd": {"daily": 1.5}}},
            "preferences": {"budgetUsd": {"daily": 5, "monthly": 50}, "switchThresholdTokens": 8000},
            "settings": {"retentionDays": 7, "logPrompts": True, "requestTimeoutS": 30, "timezone": "Europe/Berlin"},
        }
    )
    assert config.providers["openai"].budget.daily_usd == 1.5
    assert config.preferences.budget.monthly_usd == 50 and config.preferences.switch_threshold_tokens == 8000
    assert config.settings.retention_days == 7 and config.settings.log_prompts
    assert config.settings.request_timeout_s == 30 and config.settings.timezone == "Europe/Berlin"


def test_auto_discover_is_off_unless_the_preferences_turn_it_on() -> None:
    assert not data({"providers": {"openai": {}}}).preferences.auto_discover
    assert data({"providers": {"openai": {}}, "preferences": {"autoDiscover": True}}).preferences.auto_discover
    with pytest.raises(ConfigError, match=r"\$\.preferences\.autoDiscover"):
        data({"providers": {"openai": {}}, "preferences": {"autoDiscover": "yes"}})


def test_hedging_is_off_unless_the_preferences_turn_it_on() -> None:
    assert not data({"providers": {"openai": {}}}).preferences.hedge
    assert data({"providers": {"openai": {}}, "preferences": {"hedge": True}}).preferences.hedge
    with pytest.raises(ConfigError, match=r"\$\.preferences\.hedge"):
        data({"providers": {"openai": {}}, "preferences": {"hedge": "yes"}})


def test_the_response_size_cap_is_eight_mb_unless_set() -> None:
    assert data({}).settings.max_response_bytes == 8 * 1024 * 1024
    assert data({"settings": {"maxResponseMb": 0.5}}).settings.max_response_bytes == 512 * 1024


def test_attachments_are_limited_to_256_kib_a_file_50_files_and_5_mib_an_image_unless_set() -> None:
    assert data({}).settings.attach_limits == Limits(256 * 1024, 50, 5 * 1024 * 1024)
    settings = data({"settings": {"maxFileBytes": 1000, "maxFiles": 3, "maxImageBytes": 2000}}).settings
    assert settings.attach_limits == Limits(1000, 3, 2000)


def test_conversations_are_kept_a_week_unless_conversation_retention_hours_says_otherwise() -> None:
    assert data({}).settings.conversation_retention_hours == 168
    config = data({"settings": {"conversationRetentionHours": 12, "logPrompts": False}})
    assert config.settings.conversation_retention_hours == 12
    assert not [w for w in config.warnings if "conversationRetentionHours" in w]


def test_unknown_keys_are_warnings_so_a_typo_does_not_stop_the_server() -> None:
    config = data({"providers": {"openai": {"apikey": "x"}}, "colour": "blue"})
    assert any("$.providers.openai.apikey" in warning for warning in config.warnings)
    assert any("$.colour" in warning for warning in config.warnings)


def test_the_redacted_view_shows_credential_references_and_no_url_secrets() -> None:
    config = data(
        {
            "providers": {
                "openai": {"apiKey": "${OPENAI_API_KEY}"},
                "proxy": {
                    "kind": "openai",
                    "baseUrl": "https://user:hunter2@proxy.example/v1?key=abc",
                    "models": {"m": {"contextWindow": 10}},
                },
            }
        }
    )
    view = redacted_view(config)
    text = json.dumps(view)
    assert view["providers"]["openai"]["accounts"][0]["credential"] == "env:OPENAI_API_KEY"
    assert view["providers"]["proxy"]["accounts"][0]["credential"] == "keyring:proxy"
    assert "hunter2" not in text and "abc" not in text
    assert view["providers"]["proxy"]["baseUrl"] == "https://proxy.example/v1"


def test_the_redacted_view_of_a_missing_configuration_carries_the_setup_hint(tmp_path: Path) -> None:
    view = redacted_view(load_config(tmp_path / "none.json", {}, today=FIXED_NOW.date()))
    assert view["missing"] is True and "setup" in view["setupHint"]


# --- every malformed input: one ConfigError with the file, the JSON path and the fix ---

INVALID: list[tuple[str, Any, str, str]] = [
    ("root not an object", [], "$", "expected an object"),
    ("providers not an object", {"providers": []}, "$.providers", "expected an object"),
    ("provider not an object", {"providers": {"openai": "yes"}}, "$.providers.openai", "expected an object"),
    ("unknown kind", {"providers": {"x": {"kind": "soap", "baseUrl": "http://h"}}}, "$.providers.x.kind", "soap"),
    ("unknown provider without kind", {"providers": {"x": {"baseUrl": "http://h"}}}, "$.providers.x", "kind"),
    ("missing baseUrl", {"providers": {"x": {"kind": "openai"}}}, "$.providers.x", "baseUrl"),
    ("bad baseUrl", {"providers": {"x": {"kind": "openai", "baseUrl": "ftp://h"}}}, "$.providers.x.baseUrl", "http"),
    ("kind differs, no url", {"providers": {"zai": {"kind": "anthropic"}}}, "$.providers.zai", "baseUrl"),
    ("enabled not bool", {"providers": {"openai": {"enabled": "yes"}}}, "$.providers.openai.enabled", "true or false"),
    (
        "bad load balancing",
        {"providers": {"openai": {"loadBalancing": "fastest"}}},
        "$.providers.openai.loadBalancing",
        "round_robin",
    ),
    ("accounts empty", {"providers": {"google": {"accounts": []}}}, "$.providers.google.accounts", "non-empty"),
    ("account not object", {"providers": {"google": {"accounts": [3]}}}, "$.providers.google.accounts[0]", "object"),
    (
        "duplicate account ids",
        {"providers": {"openai": {}, "proxy": {"kind": "openai", "baseUrl": "http://h", "accounts": ["openai"]}}},
        "$.providers.proxy",
        "unique",
    ),
    (
        "negative limit",
        {"providers": {"google": {"accounts": [{"id": "a"}, {"id": "b", "quota": {"limit": -3}}]}}},
        "$.providers.google.accounts[1].quota.limit",
        "whole number",
    ),
    (
        "fractional limit",
        {"providers": {"google": {"quota": {"requestsPerDay": 2.5}}}},
        "$.providers.google.quota.requestsPerDay",
        "whole number",
    ),
    (
        "limit as quoted number",
        {"providers": {"google": {"quota": {"requestsPerMinute": "5"}}}},
        "$.providers.google.quota.requestsPerMinute",
        "no quotes",
    ),
    (
        "unknown limit string",
        {"providers": {"google": {"quota": {"limit": "lots"}}}},
        "$.providers.google.quota.limit",
        "free_15_per_day",
    ),
    ("bad reset", {"providers": {"google": {"quota": {"reset": "weekly"}}}}, "$.providers.google.quota.reset", "daily"),
    (
        "bad timezone",
        {"providers": {"google": {"quota": {"timezone": "Mars/Olympus"}}}},
        "$.providers.google.quota.timezone",
        "IANA",
    ),
    (
        "negative budget",
        {"providers": {"openai": {"budgetUsd": {"daily": -1}}}},
        "$.providers.openai.budgetUsd.daily",
        ">= 0",
    ),
    (
        "unknown model without context",
        {"providers": {"openai": {"models": {"gpt-99": {}}}}},
        '$.providers.openai.models["gpt-99"]',
        "contextWindow",
    ),
    (
        "zero context",
        {"providers": {"openai": {"models": {"gpt-4o": {"contextWindow": 0}}}}},
        '$.providers.openai.models["gpt-4o"].contextWindow',
        ">= 1",
    ),
    (
        "negative cost",
        {"providers": {"openai": {"models": {"gpt-4o": {"costPer1M": -1}}}}},
        '$.providers.openai.models["gpt-4o"].costPer1M',
        ">= 0",
    ),
    (
        "preference score above 100",
        {"providers": {"openai": {"models": {"gpt-4o": {"preferenceScore": 101}}}}},
        '$.providers.openai.models["gpt-4o"].preferenceScore',
        "100",
    ),
    (
        "unknown capability",
        {"providers": {"openai": {"models": {"gpt-4o": {"capabilities": ["telepathy"]}}}}},
        '$.providers.openai.models["gpt-4o"].capabilities[0]',
        "telepathy",
    ),
    (
        "model listed twice via alias",
        {"providers": {"kimi": {"models": {"kimi-2.5": {}, "kimi-k2.5": {}}}}},
        '$.providers.kimi.models["kimi-k2.5"]',
        "twice",
    ),
    (
        "missing env var",
        {"providers": {"x": {"kind": "openai", "baseUrl": "http://${NOPE}/v1"}}},
        "$.providers.x.baseUrl",
        "NOPE",
    ),
    ("bad budget mode", {"preferences": {"budgetMode": "cheap"}}, "$.preferences.budgetMode", "free_only"),
    (
        "task list not a list",
        {"preferences": {"taskPreferences": {"coding": "openai"}}},
        "$.preferences.taskPreferences.coding",
        "list",
    ),
    ("auto switch not bool", {"autoSwitch": 1}, "$.autoSwitch", "true or false"),
    ("bad retention", {"settings": {"retentionDays": 0}}, "$.settings.retentionDays", ">= 1"),
    (
        "bad conversation retention",
        {"settings": {"conversationRetentionHours": 0}},
        "$.settings.conversationRetentionHours",
        ">= 1",
    ),
    ("bad settings timezone", {"settings": {"timezone": "Nowhere"}}, "$.settings.timezone", "IANA"),
    ("bad timeout", {"settings": {"requestTimeoutS": 0}}, "$.settings.requestTimeoutS", "> 0"),
    ("bad response cap", {"settings": {"maxResponseMb": -1}}, "$.settings.maxResponseMb", "> 0"),
    ("bad file cap", {"settings": {"maxFileBytes": 0}}, "$.settings.maxFileBytes", ">= 1"),
    ("bad file count", {"settings": {"maxFiles": "ten"}}, "$.settings.maxFiles", "whole number"),
    ("bad image cap", {"settings": {"maxImageBytes": 1.5}}, "$.settings.maxImageBytes", "whole number"),
]


@pytest.mark.parametrize(("case", "value", "path", "hint"), INVALID, ids=[case[0] for case in INVALID])
def test_each_malformed_configuration_names_the_file_the_json_path_and_the_fix(
    case: str, value: Any, path: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(json.dumps(value))
    error = caught.value
    message = str(error)
    assert error.path == path, message
    assert message.startswith(f"providers.json: {path}: "), message
    assert "Fix: " in message and hint in message, message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    "literal", ["sk-proj-abcdef1234567890", "AIzaSyA-not-a-real-key", "Bearer ${OPENAI_API_KEY}", 12345]
)
def test_a_literal_api_key_is_refused_with_the_keys_set_command_and_never_echoed(literal: Any) -> None:
    text = json.dumps({"providers": {"google": {"accounts": [{"id": "g1", "apiKey": literal}]}}})
    with pytest.raises(ConfigError) as caught:
        parse(text)
    message = str(caught.value)
    assert caught.value.path == "$.providers.google.accounts[0].apiKey"
    assert "provider-router keys set google --account g1" in message
    assert str(literal) not in message


LONG = "é" * 5000


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"providers": {"backup": {"kind": LONG}}}, "$.providers.backup.kind"),
        ({"providers": {"openai": {}}, "settings": {"timezone": LONG}}, "$.settings.timezone"),
        ({"providers": {"openai": {"quota": {"limit": LONG}}}}, "$.providers.openai.quota.limit"),
        ({"providers": {"openai": {"models": {"gpt-5.2": {"capabilities": [LONG]}}}}}, "capabilities[0]"),
        ({"providers": {LONG: {"kind": "nope"}}}, "$.providers["),  # a long key in the path
    ],
    ids=["choice", "time zone", "limit", "capability", "key"],
)
def test_a_long_wrong_value_is_quoted_by_its_start_and_its_length(config: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        data(config)
    message = str(caught.value)
    assert path in message and "Fix: " in message, message[:300]
    assert f'"{"é" * 60}…" (5000 characters)' in message and len(message) < 600, message[:300]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{\n  "providers": {\n    "openai": {}\n  \n', 5, 1),
        ('{\n  "providers": {"openai" {}}\n}', 2, 26),
        ('{"a": 1 /* never closed', 1, 9),
        ("{'single': 1}", 1, 2),
    ],
)
def test_bad_json_syntax_reports_the_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)
    assert f"line {line}, column {column}" in str(caught.value)
    assert str(caught.value).startswith("providers.json: ")


def test_an_empty_or_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    empty = tmp_path / "providers.json"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        load_config(empty, {}, today=FIXED_NOW.date())
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path, {}, today=FIXED_NOW.date())
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(binary, {}, today=FIXED_NOW.date())


def test_the_paths_default_to_the_platform_config_dir_and_honour_provider_router_home() -> None:
    assert Paths.from_env({"HOME": "/h"}, "linux").config_file == Path("/h/.config/provider-router/providers.json")
    assert Paths.from_env({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}, "linux").db_file == Path(
        "/x/provider-router/router.db"
    )
    assert Paths.from_env({"HOME": "/h", "XDG_CONFIG_HOME": "rel"}, "linux").home == Path("/h/.config/provider-router")
    assert Paths.from_env({"HOME": "/h"}, "darwin").home == Path("/h/Library/Application Support/provider-router")
    assert Paths.from_env({"APPDATA": "C:/AppData"}, "win32").home == Path("C:/AppData/provider-router")
    assert Paths.from_env({"USERPROFILE": "C:/u"}, "win32").home == Path("C:/u/AppData/Roaming/provider-router")
    home = Paths.from_env({"HOME": "/h", "PROVIDER_ROUTER_HOME": "~/pr"}, "linux")
    assert home == Paths(Path("/h/pr"), Path("/h/pr/providers.json"), Path("/h/pr/router.db"))


# --- nothing but RouterConfig or ConfigError, whatever the input ---

_json_leaf = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats() | st.text(max_size=12)
_keys = st.sampled_from(
    [
        "providers",
        "preferences",
        "settings",
        "openai",
        "google",
        "zai",
        "kimi",
        "x",
        "kind",
        "baseUrl",
        "apiKey",
        "accounts",
        "quota",
        "limit",
        "reset",
        "timezone",
        "models",
        "gpt-4o",
        "contextWindow",
        "costPer1M",
        "default",
        "taskPreferences",
        "coding",
        "budgetUsd",
        "daily",
        "id",
        "loadBalancing",
        "enabled",
        "retentionDays",
        "budgetMode",
        "capabilities",
        "quality",
    ]
) | st.text(max_size=6)
_json = st.recursive(
    _json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_json)
def test_random_nested_data_only_ever_gives_a_config_or_a_config_error(value: Any) -> None:
    try:
        config = data(value)
    except ConfigError as error:
        assert str(error).startswith("providers.json")
    else:
        assert isinstance(config, RouterConfig)
        json.dumps(redacted_view(config))


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list('{}[]",:/*\n 0123456789abtrue-.\\')), max_size=60) | st.text(max_size=40)
)
def test_random_json_ish_text_only_ever_gives_a_config_or_a_config_error(text: str) -> None:
    try:
        parse(text)
    except ConfigError as error:
        assert str(error).startswith("providers.json")


@settings(max_examples=100, deadline=None)
@given(value=_json)
def test_random_providers_blocks_only_ever_give_a_config_or_a_config_error(value: Any) -> None:
    with contextlib.suppress(ConfigError):
        data({"providers": {"openai": value, "x": value}, "preferences": value})
