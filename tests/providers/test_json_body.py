"""Request bodies encoded with orjson send what httpx2's `json=` sent."""

from __future__ import annotations

import json

import httpx2

from providers.json_body import json_body, json_headers


def _httpx2_bytes(body: object) -> bytes:
    return httpx2.Request("POST", "http://x", json=body).content


def test_a_request_body_is_the_same_bytes_httpx2_would_send() -> None:
    body = {
        "model": "gpt-5.2",
        "messages": [{"role": "user", "content": 'héllo ✓ "quoted" \\ \n\t\u2028 𝄞'}],
        "temperature": 0.1 + 0.2,
        "max_tokens": 1024,
        "stream": True,
        "tools": [{"type": "function", "function": {"parameters": {"type": "object", "properties": {}}}}],
        "stop": None,
    }
    assert json_body(body) == _httpx2_bytes(body)


def test_a_body_orjson_refuses_takes_the_standard_librarys_path() -> None:
    body = {"seed": 2**70, "n": 1}
    assert json_body(body) == _httpx2_bytes(body)
    assert json.loads(json_body(body)) == body


def test_the_json_content_type_is_added_unless_one_is_configured() -> None:
    assert json_headers({"Authorization": "Bearer k"}) == {
        "Authorization": "Bearer k",
        "Content-Type": "application/json",
    }
    assert json_headers({"content-type": "application/json; charset=utf-8"}) == {
        "content-type": "application/json; charset=utf-8"
    }
