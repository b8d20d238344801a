"""`opsbot console`: the same commands as Slack, from a local prompt or a pipe."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from bot.core.effects import Effect, HealthSnapshot, PlanAwaitingConfirmation
from bot.errors import OpsbotError
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router

PROMPT = "opsbot> "
HISTORY = Path.home() / ".opsbot_history"


def run(router: Router, ctx: Context, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    interactive = stdin.isatty()
    effects = ConsoleEffects(router, ctx, stdout, interactive)
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
        effects.carry_out(reply.effects)
    if interactive:
        _save_history()
    return 0


class ConsoleEffects:
    """The console's one effect handler. It has no channels to create, refresh or announce in (the incident's
    channel is the one typed in); it keeps health snapshots at once and, at a prompt, asks about a plan."""

    def __init__(self, router: Router, ctx: Context, stdout: TextIO, interactive: bool):
        self.router, self.ctx, self.stdout, self.interactive = router, ctx, stdout, interactive

    def carry_out(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, HealthSnapshot):
                self.snapshot(effect)
            elif isinstance(effect, PlanAwaitingConfirmation) and self.interactive \
                    and _ask(f"Run plan {effect.plan_id} now? [y/N] "):
                print(to_text(self.router.handle("/ops", f"confirm {effect.plan_id}", self.ctx)), file=self.stdout)
                print(file=self.stdout)

    def snapshot(self, effect: HealthSnapshot) -> None:
        """The environment's health at declaration or resolution, kept as evidence (a failure is said, not fatal)."""
        try:
            bundle = self.router.services.evidence.snapshot(effect.number, effect.moment, effect.by)
        except OpsbotError as error:
            print(f"(no health snapshot at {effect.moment}: {error})", file=self.stdout)
            return
        if bundle is not None:
            print(f"Health at {effect.moment} kept as evidence {bundle.ref} ({bundle.location}).", file=self.stdout)
            print(file=self.stdout)


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
