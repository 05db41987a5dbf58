"""Key-shaped strings, masked wherever text might carry one (logs, config messages, resources), and a known key in
every form an error text can carry it: as is, and escaped by `repr`, by a bytes repr or by JSON."""

from __future__ import annotations

import json
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
#: a secret shorter than this is not searched for (masking "a" everywhere would destroy every message)
MIN_SECRET_LENGTH = 8


def mask_keys(text: str) -> str:
    """`text` with everything shaped like a provider key or bearer token replaced by the mask."""
    return KEY_SHAPES.sub(MASK, text)


def secret_forms(secret: str) -> list[str]:
    """The texts under which `secret` may appear in an error message, longest first.

    httpx2 quotes an illegal header as `b'Bearer sk-…\\r'`, a JSON body escapes it as `"sk-…\\r\\n"`, a `repr`
    as `'sk-…\\r'`: each escaped form is searched for, and the key without its surrounding whitespace too.
    """
    forms = {
        secret,
        secret.strip(),
        repr(secret)[1:-1],
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(json.dumps(secret))[3:-3],  # a JSON body quoted inside another
    }
    return sorted((form for form in forms if len(form) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def redact_secret(text: str, secret: str | None) -> str:
    """`text` with `secret` masked in every form it may take there, and every key-shaped string masked."""
    if secret:
        for form in secret_forms(secret):
            text = text.replace(form, MASK)
    return mask_keys(text)
