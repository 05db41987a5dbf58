"""Known provider ids: their wire protocol, default base URL, key variable and wire quirks — data, not code.

A provider id not listed here is an OpenAI-compatible endpoint configured with `kind` and `baseUrl`.
"""

from __future__ import annotations

from typing import Literal

from providers.types import Frozen, WireKind


class WireOptions(Frozen):
    """Differences between OpenAI-compatible servers that a request body must respect."""

    max_tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_tokens"
    temperature_min: float = 0.0
    temperature_max: float = 2.0
    #: ask for a usage chunk at the end of a stream (`stream_options.include_usage`)
    stream_usage: bool = True
    #: Anthropic prompt caching: the smallest prefix (in tokens) the vendor caches; a request whose stable prefix
    #: reaches it gets `cache_control` marks. None: the endpoint is never sent marks.
    min_cache_tokens: int | None = None
    #: the endpoint takes `response_format: {type: json_schema}`; False: only `json_object`, the schema then goes
    #: in the system prompt (the router validates the answer either way)
    json_schema: bool = True
    #: the window `x-ratelimit-limit-requests` counts: Groq's is its requests per day (RPD), which must not be
    #: taken for a per-minute limit (its token headers are per minute, as everyone's)
    requests_header_window: Literal["minute", "day"] = "minute"


class Vendor(Frozen):
    id: str
    kind: WireKind
    base_url: str
    #: the provider id under which the model catalogue lists this vendor's models
    catalog: str
    key_env: str | None = None
    needs_key: bool = True
    options: WireOptions = WireOptions()
    label: str = ""


_VENDORS: tuple[Vendor, ...] = (
    Vendor(
        id="openai",
        kind="openai",
        base_url="https://api.openai.com/v1",
        catalog="openai",
        key_env="OPENAI_API_KEY",
        options=WireOptions(max_tokens_field="max_completion_tokens"),
        label="OpenAI",
    ),
    Vendor(
        id="anthropic",
        kind="anthropic",
        base_url="https://api.anthropic.com",
        catalog="anthropic",
        key_env="ANTHROPIC_API_KEY",
        # 1024 is the Sonnet/Opus minimum; a model with a larger one (Haiku: 2048) just answers such a request uncached
        options=WireOptions(temperature_max=1.0, min_cache_tokens=1024),
        label="Anthropic",
    ),
    Vendor(
        id="google",
        kind="gemini",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        catalog="google",
        key_env="GOOGLE_API_KEY",
        label="Google",
    ),
    Vendor(
        id="zai",
        kind="openai",
        base_url="https://api.z.ai/api/paas/v4",
        catalog="zai",
        key_env="ZAI_API_KEY",
        # Z.AI accepts temperature in (0, 1], and JSON mode without a schema
        options=WireOptions(temperature_min=0.01, temperature_max=1.0, json_schema=False),
        label="Z.AI",
    ),
    Vendor(
        id="zhipu",
        kind="openai",
        base_url="https://open.bigmodel.cn/api/paas/v4",
        catalog="zai",
        key_env="ZHIPUAI_API_KEY",
        options=WireOptions(temperature_min=0.01, temperature_max=1.0, json_schema=False),
        label="Zhipu",
    ),
    Vendor(
        id="kimi",
        kind="openai",
        base_url="https://api.moonshot.ai/v1",
        catalog="moonshot",
        key_env="MOONSHOT_API_KEY",
        options=WireOptions(temperature_max=1.0, json_schema=False),
        label="Kimi",
    ),
    Vendor(
        id="openrouter",
        kind="openai",
        base_url="https://openrouter.ai/api/v1",
        catalog="openrouter",
        key_env="OPENROUTER_API_KEY",
        label="OpenRouter",
    ),
    Vendor(
        id="deepseek",
        kind="openai",
        base_url="https://api.deepseek.com",
        catalog="deepseek",
        key_env="DEEPSEEK_API_KEY",
        options=WireOptions(json_schema=False),
        label="DeepSeek",
    ),
    Vendor(
        id="groq",
        kind="openai",
        base_url="https://api.groq.com/openai/v1",
        catalog="groq",
        key_env="GROQ_API_KEY",
        options=WireOptions(requests_header_window="day"),
        label="Groq",
    ),
    Vendor(
        id="ollama",
        kind="openai",
        base_url="http://localhost:11434/v1",
        catalog="ollama",
        needs_key=False,
        label="Ollama",
    ),
    Vendor(
        id="lmstudio",
        kind="openai",
        base_url="http://localhost:1234/v1",
        catalog="lmstudio",
        needs_key=False,
        label="LM Studio",
    ),
)

VENDORS: dict[str, Vendor] = {vendor.id: vendor for vendor in _VENDORS}
ALIASES: dict[str, str] = {"moonshot": "kimi", "gemini": "google", "z.ai": "zai", "glm": "zai", "claude": "anthropic"}


def vendor_for(provider_id: str) -> Vendor | None:
    """The known vendor behind a provider id (or one of its aliases), if any."""
    key = provider_id.lower()
    return VENDORS.get(ALIASES.get(key, key))
