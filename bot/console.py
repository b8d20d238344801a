"""`opsbot console`: the same commands as Slack, from a local prompt or a pipe."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from bot.core.effects import PlanAwaitingConfirmation
from bot.views.blocks import to_text
from commands.base import Context
from commands.router import Router

PROMPT = "opsbot> "
HISTORY = Path.home() / ".opsbot_history"


def run(router: Router, ctx: Context, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    interactive = stdin.isatty()
    if interactive:
        _enable_history()
        print("opsbot console — type `help`, or `exit` to leave. Acting as " + ctx.user, file=stdout)
    while True:
        try:
            line = input(PROMPT) if interactive else stdin.readline()
        except (EOFError, KeyboardInterrupt):
            print(file=stdout)
            break
        if not interactive and line == "":
            break  # end of piped input
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line in ("exit", "quit"):
            break
        reply = router.handle_line(line, ctx)
        print(to_text(reply), file=stdout)
        print(file=stdout)
        stdout.flush()
        # The console has no channels to create or refresh; a plan waiting for confirmation is asked about here.
        for effect in reply.effects:
            if interactive and isinstance(effect, PlanAwaitingConfirmation) \
                    and _ask(f"Run plan {effect.plan_id} now? [y/N] "):
                print(to_text(router.handle("/ops", f"confirm {effect.plan_id}", ctx)), file=stdout)
                print(file=stdout)
    if interactive:
        _save_history()
    return 0


def _ask(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except (EOFError, KeyboardInterrupt):
        return False


def _enable_history() -> None:
    try:
        import readline

        readline.read_history_file(HISTORY)
    except (ImportError, OSError):
        pass


def _save_history() -> None:
    try:
        import readline

        readline.set_history_length(1000)
        readline.write_history_file(HISTORY)
    except (ImportError, OSError):
        pass
