"""Logging for the stdio server: stderr only (stdout carries the protocol), with every API key redacted.

A `Redactor` holds the key values the credential store has handed out (`RedactingCredentials` registers each one
as it passes) and also blanks anything shaped like a key (`sk-...`, `AIza...`, `Bearer ...`). Its filter sits on
the stderr handler, so it sees the records of every logger, the MCP SDK's and httpx2's included, and the
formatted tracebacks too.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import TextIO

from pydantic import SecretStr

from providers.credentials import CredentialStore, KeyLocation
from providers.models import Account
from providers.redact import KEY_SHAPES, MASK, MIN_SECRET_LENGTH, secret_forms

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Redactor:
    """Replaces known secret values and key-shaped strings with `***`; thread-safe."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Redact `secret` from now on (ignored when too short to be a key)."""
        if len(secret) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if secret in self._secrets:
                return
            # escaped forms too: a traceback quotes an illegal header value as bytes, its CR escaped
            self._secrets.update(secret_forms(secret))
            # longest first, so a key that contains another is masked whole
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, text: str) -> str:
        """`text` with every known secret and key-shaped string masked."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return KEY_SHAPES.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (arguments merged in) and traceback through a `Redactor`."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


class RedactingCredentials:
    """A `CredentialStore` that registers every key it hands out (or is given) with a `Redactor`."""

    def __init__(self, inner: CredentialStore, redactor: Redactor) -> None:
        self._inner = inner
        self._redactor = redactor

    async def get(self, account: Account) -> SecretStr | None:
        key = await self._inner.get(account)
        if key is not None:
            self._redactor.add(key.get_secret_value())
        return key

    async def locate(self, account: Account) -> KeyLocation:
        return await self._inner.locate(account)

    async def set(self, account_id: str, key: str) -> None:
        self._redactor.add(key)
        await self._inner.set(account_id, key)

    async def delete(self, account_id: str) -> bool:
        return await self._inner.delete(account_id)

    def forget(self, account_id: str) -> None:
        self._inner.forget(account_id)


def configure_logging(
    redactor: Redactor, level: int | str = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to stderr (or `stream`) through the redaction filter; returns the handler.

    Replaces the root logger's handlers, so a library that later calls `logging.basicConfig` (the MCP SDK does,
    when an MCPServer is built) finds it configured and adds no handler of its own.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx2 logs every request line at INFO; the URLs are ours, but one line per call is noise on stderr
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    return handler
