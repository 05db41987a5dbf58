"""What the setup wizard asks through (`Prompter`) and what it will write (`Plan`)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from server.cli.common import UserError

T = TypeVar("T")


class Prompter:
    """Questions on the terminal; with `assume_yes`, every question takes its default without asking."""

    def __init__(self, *, assume_yes: bool) -> None:
        self.assume_yes = assume_yes

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def ask(self, question: str, default: str = "") -> str:
        if self.assume_yes:
            return default
        shown = f" [{default}]" if default else ""
        try:
            answer = input(f"{question}{shown}: ").strip()
        except EOFError as error:
            raise UserError("setup stopped before it was finished; nothing was written") from error
        return answer or default

    def valid(self, question: str, default: str, check: Callable[[str], T]) -> T:
        """Ask until `check` accepts the answer (it raises ValueError saying what it accepts), so a typo never
        throws away the answers given before it; with `assume_yes`, a default it refuses is a UserError."""
        while True:
            answer = self.ask(question, default)
            try:
                return check(answer)
            except ValueError as error:
                if self.assume_yes:
                    raise UserError(str(error)) from error
                self.say(f"  {error}; try again")

    def confirm(self, question: str, *, default: bool) -> bool:
        if self.assume_yes:
            return default
        answer = self.ask(f"{question} ({'Y/n' if default else 'y/N'})").lower()
        return default if not answer else answer.startswith("y")

    def secret(self, question: str) -> str:
        """A key, never echoed on a terminal (a pipe gives one line, for scripted runs)."""
        if self.assume_yes:
            return ""
        if sys.stdin.isatty():
            return getpass.getpass(f"{question}: ").strip()
        print(f"{question}: ", end="", flush=True)
        line = sys.stdin.readline()
        print()
        return line.strip()


@dataclass
class Plan:
    """What the wizard will write: the whole document, and the keys to store first.

    Without a usable keychain (`keychain` False) no key is asked for: each account gets a `${VAR}` reference,
    and `variables` maps the account to the variable the user must set.
    """

    document: dict[str, Any]
    keys: dict[str, str] = field(default_factory=dict)
    chosen: list[str] = field(default_factory=list)
    keychain: bool = True
    variables: dict[str, str] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)
