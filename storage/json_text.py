"""JSON text for the store's TEXT columns, written fast and read back by `json.loads` exactly as before."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps_json(value: Any) -> str:
    """`json.dumps(value)` as `json.loads` reads it back, ~9x faster: orjson (compact separators; the standard
    library for what orjson refuses: a lone surrogate, an integer past 64 bits). One difference: a non-finite
    float, which no stored value holds (scores, costs and confidences are finite by construction), is written as
    null rather than the non-JSON `NaN`."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value)
