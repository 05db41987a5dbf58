"""What every verb shares: the error boundary (exit 1 with the fix, never a traceback), the App, and output.

Output goes three ways: `--json` prints JSON for scripts; otherwise rich renders tables (colour only on a
terminal; a pipe gets plain text at a fixed width).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from pydantic import BaseModel

from clients.configfile import ConfigFileError
from providers.clock import Clock, system_clock
from providers.credentials import CredentialError
from routing.results import RouteError
from server.config import ConfigError, Paths
from server.wiring import App, AppUnavailable, open_app
from storage import StoreError

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")
PIPE_WIDTH = 120


class UserError(Exception):
    """A problem the user can fix; the message names the fix. Exit status 1."""


_USER_ERRORS = (UserError, ConfigError, AppUnavailable, RouteError, CredentialError, StoreError, ConfigFileError)


#: the clock of the verb being run (`main`'s; tests pass a fixed one)
_verb_clock: ContextVar[Clock] = ContextVar("verb_clock", default=system_clock)


def cli_clock() -> Clock:
    """The clock `main` was given for this verb."""
    return _verb_clock.get()


def run_verb(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace, clock: Clock) -> int:
    """Run one verb on `clock` behind the error boundary: a user error prints one message on stderr and exits 1."""
    # `serve` sets up its own logging (with key redaction)
    if getattr(args, "verb", None) != "serve" and not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    token = _verb_clock.set(clock)
    try:
        return handler(args)
    except _USER_ERRORS as error:
        print(f"provider-router: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    finally:
        _verb_clock.reset(token)


def run(function: Callable[[], Awaitable[T]]) -> T:
    """Run an async body from a synchronous verb."""

    async def body() -> T:
        return await function()

    return anyio.run(body)


def cli_paths() -> Paths:
    return Paths.from_env(os.environ)


@asynccontextmanager
async def cli_app(*, require: bool = False) -> AsyncIterator[App]:
    """The same App the MCP server opens, over this user's home. `require`: fail (exit 1) when nothing routes."""
    async with open_app(cli_paths(), os.environ, clock=cli_clock()) as app:
        if require:
            app.require()
        yield app


def jsonable(value: Any) -> Any:
    """Plain JSON data from pydantic models, dataclasses, dates and containers of them."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def emit_json(value: Any) -> None:
    print(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


def console(*, stderr: bool = False) -> Console:
    """A rich console: colour on a terminal, plain text (fixed width) in a pipe."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(file=stream, highlight=False, width=None if tty else PIPE_WIDTH, no_color=not tty)


def say(message: str) -> None:
    """One line of plain output."""
    print(message)


def warn(message: str) -> None:
    print(f"provider-router: {message}", file=sys.stderr)
