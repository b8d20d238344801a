"""A changing action as the ops service runs it: its plan (what will change, from the live state) and its
execution, side by side. Plans name exact commands between backticks, shown as code and redacted piece by piece."""
from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.redact import MASK, redact


def redact_plan(summary: str) -> str:
    """Redacted piece by piece, so a mask never swallows the backticks around a command (see command_text)."""
    lead, opened, rest = summary.partition("`")
    command, closed, tail = rest.partition("`")
    if not (opened and closed):
        return redact(summary)
    return f"{redact(lead)}`{redact(command)}`{redact(tail)}"


def command_text(argv: list[str]) -> str:
    """An argv as one would type it (quoted where a word needs it), between backticks."""
    typed = shlex.join(argv).replace(f"'{MASK}'", MASK)  # a masked secret reads as masked, not as a glob
    return typed if "`" in typed else f"`{typed}`"


@dataclass(frozen=True)
class Step:
    describe: Callable[[], str]
    run: Callable[[], str]
