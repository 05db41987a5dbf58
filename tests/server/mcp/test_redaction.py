"""API keys never leave the credential store: not in logs, tool results, resources or the database file."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from providers.redact import MASK
from server.wiring.logging_setup import RedactingFilter, Redactor, configure_logging
from tests.harness import SIM_KEY
from tests.server.mcp_support import mcp_session, text_of

CODING = "Fix this Python function: def f(x): return x +"
RESOURCES = ("router://decisions", "router://metrics", "router://providers", "router://config")


@pytest.fixture
def captured_logs() -> Iterator[tuple[io.StringIO, list[Redactor]]]:
    """Every log record at DEBUG and above, through the redaction filter of the redactor put in the list."""
    buffer = io.StringIO()
    redactors: list[Redactor] = []
    handler = logging.StreamHandler(buffer)

    class Late(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return RedactingFilter(redactors[-1]).filter(record) if redactors else True

    handler.addFilter(Late())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer, redactors
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.anyio
async def test_keys_appear_nowhere_after_successes_failovers_and_refused_keys(
    tmp_path: Path, captured_logs: tuple[io.StringIO, list[Redactor]]
) -> None:
    buffer, redactors = captured_logs
    seen: list[str] = []
    async with mcp_session(tmp_path) as s:
        redactors.append(s.redactor)
        s.sim.script("openai", ["rate_limited"])
        s.sim.set_down("kimi", "auth")
        with anyio.fail_after(20):
            for arguments in (
                {"prompt": CODING, "task_type": "coding"},
                {"prompt": "Say hi", "task_type": "simple"},
                {"prompt": "Write a haiku", "provider": "kimi"},
                {"prompt": "Why is the sky blue?", "task_type": "reasoning", "dry_run": True},
            ):
                result = await s.call("route_and_complete", **arguments)
                seen.append(text_of(result) + json.dumps(result.structured_content))
            seen += [json.dumps(await s.ok("provider_status")), json.dumps(await s.ok("quota_report"))]
            log = await s.read("router://decisions")
            for uri in [*RESOURCES, *(f"router://decisions/{d['id']}" for d in log["decisions"])]:
                seen += [json.dumps(await s.read(uri))]
        logging.getLogger("tests.leak").warning("the key is %s", SIM_KEY)
    files = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    assert len(seen) == 6 + len(RESOURCES) + len(log["decisions"])
    assert "auth_failed" in "".join(seen)
    assert SIM_KEY not in "".join(seen)
    assert SIM_KEY.encode() not in files and b"SQLite format 3" in files and b"auth_failed" in files
    assert SIM_KEY not in buffer.getvalue()
    assert f"the key is {MASK}" in buffer.getvalue()


def test_the_redactor_masks_known_keys_and_anything_key_shaped() -> None:
    redactor = Redactor(["my-own-secret-value", "short"])
    text = (
        "keys: my-own-secret-value sk-proj-abcdefghijklmnop1234 sk-ant-api03-abcdefghijklmnopqrst "
        "AIzaSyA1234567890abcdefghijklmnopqrstuv Bearer abcdefghijklmnopqrstuvwxyz "
        "https://x.test/v1?api_key=abcdefgh12345 short"
    )
    assert (
        redactor.redact(text)
        == f"keys: {MASK} {MASK} {MASK} {MASK} Bearer {MASK} https://x.test/v1?api_key={MASK} short"
    )


def test_the_redactor_masks_a_known_key_in_its_escaped_forms_too() -> None:
    key = "not-key-shaped-secret\r"
    redactor = Redactor([key])
    texts = (
        f"LocalProtocolError: Illegal header value {key.encode()!r}",
        json.dumps({"key": key}),
        f"x-api-key={key!r}",
    )
    assert all("not-key-shaped-secret" not in redactor.redact(text) for text in texts)


def test_logging_goes_to_the_given_stream_with_arguments_and_tracebacks_redacted() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    try:
        handler = configure_logging(Redactor(["secret-value-123"]), "DEBUG", stream)
        assert root.handlers == [handler]
        try:
            raise RuntimeError("failed with secret-value-123")
        except RuntimeError:
            logging.getLogger("tests").exception("call with %s failed", "secret-value-123")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    output = stream.getvalue()
    assert "secret-value-123" not in output
    assert f"call with {MASK} failed" in output and f"RuntimeError: failed with {MASK}" in output
