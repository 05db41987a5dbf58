"""Key-shaped strings, masked wherever text might carry one (logs, config messages, resources)."""

from __future__ import annotations

import re

MASK = "***"
#: shapes of provider keys and bearer tokens, redacted even when no store handed them out
KEY_SHAPES = re.compile(
    r"sk-[A-Za-z0-9_\-]{12,}"  # OpenAI, Anthropic (sk-ant-...), Moonshot, DeepSeek, OpenRouter (sk-or-...)
    r"|AIza[0-9A-Za-z_\-]{30,}"  # Google API keys
    r"|\b[0-9a-f]{32}\.[0-9A-Za-z]{16}\b"  # Z.AI / Zhipu keys: <id>.<secret>
    r"|(?<=Bearer )[A-Za-z0-9._~+/\-]{12,}=*"  # any bearer token
    r"|(?i:(?<=api[_-]key=))[^&\s\"']{8,}"  # ?key= style query parameters
)


def mask_keys(text: str) -> str:
    """`text` with everything shaped like a provider key or bearer token replaced by the mask."""
    return KEY_SHAPES.sub(MASK, text)
