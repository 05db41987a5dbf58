"""Request bodies encoded with orjson: what httpx2's `json=` sends (compact UTF-8 JSON), in a tenth of the time.

httpx2 encodes `json=` with the standard library (`ensure_ascii=False`, compact separators); a prompt of 30,000
tokens costs it ~0.1 ms of the event loop per request, orjson ~0.01 ms. The bytes differ only where JSON allows
(the order and spelling of numbers is the same; orjson keeps non-ASCII as UTF-8 as httpx2 does). A value orjson
refuses (an integer past 64 bits, a non-string key) takes the standard library's path, as before. One difference:
a NaN or infinity, which JSON cannot carry and httpx2 refused with a `ValueError` before sending, is sent as null.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

CONTENT_TYPE = "application/json"


def json_body(body: Any) -> bytes:
    """`body` as the JSON bytes of a request."""
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def json_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """`headers` with the JSON content type httpx2's `json=` would add (a configured one is kept, as there)."""
    out = dict(headers)
    if not any(name.lower() == "content-type" for name in out):
        out["Content-Type"] = CONTENT_TYPE
    return out
