"""`opsbot console`: the same commands as Slack, from a local prompt or a pipe."""
from __future__ import annotations

import logging
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from bot.core.effects import (
    Effect,
    HealthSnapshot,
    PlanAwaitingConfirmation,
    SimilarIncidents,
    StatusPageNotice,
)
from bot.errors import OpsbotError, UsageError
from bot.views.search import similar_list
from bot.views.status import notice_text
from bot.views.text import to_text
from commands.base import Context
from commands.router import Router, redacted

log = logging.getLogger(__name__)
PROMPT = "opsbot> "
HISTORY = Path.home() / ".opsbot_history"


def machine_zone() -> str | None:
    """The zone of the machine the console runs on (TZ, else /etc/localtime): the console user's own clock."""
    import tzlocal  # APScheduler's dependency, so always installed

    try:
        return tzlocal.get_localzone_name()
    except Exception:  # noqa: BLE001 — an odd /etc/localtime: times show in UTC and the schedule's zone only
        return None


def run(router: Router, ctx: Context, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Raises UsageError or NotFound before the first prompt for a --channel that names no incident channel."""
    where = ""
    if ctx.channel is not None:
        channel, where = channel_for(router, ctx.user, ctx.channel)
        ctx = replace(ctx, channel=channel)
    ctx = replace(ctx, say=lambda text: print(f"… {text}", file=stdout, flush=True))  # a long action's news
    interactive = stdin.isatty()
    effects = ConsoleEffects(router, ctx, stdout, interactive)
    if interactive:
        _enable_history()
        print("opsbot console — type `help`, or `exit` (or Ctrl-D) to leave. Acting as " + ctx.user
              + (f". {where}." if where else ""), file=stdout)
    while True:
        try:
            line = input(PROMPT) if interactive else stdin.readline()
        except EOFError:  # Ctrl-D
            print(file=stdout)
            break
        except KeyboardInterrupt:  # Ctrl-C at the prompt drops the line being typed, as in a shell
            print(file=stdout)
            if not interactive:
                break
            continue
        if not interactive and line == "":
            break  # end of piped input
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line in ("exit", "quit"):
            break
        reply = router.handle_line(line, ctx)
        print(to_text(reply), file=stdout)
        if reply.file is not None and reply.file.content:  # what Slack attaches, the console saves beside you
            print(saved(reply.file.filename, reply.file.content), file=stdout)
        print(file=stdout)
        stdout.flush()
        try:
            effects.carry_out(reply.effects)
        except Exception:  # a bug after the reply: a reference here, the traceback in the log
            ref = uuid.uuid4().hex[:8]
            log.exception("failed (ref %s): what follows a console command", ref)
            print(f"Something went wrong after that (ref {ref}); the details are in the log.\n", file=stdout)
    if interactive:
        _save_history()
    return 0


def saved(filename: str, content: str, where: Path | None = None) -> str:
    """Write an attachment into the current directory, never over a file already there (-2, -3 …)."""
    folder = where or Path.cwd()
    name = Path(filename).name or "attachment.txt"  # a name, never a path
    target, n = folder / name, 1
    while True:
        try:
            with target.open("x", encoding="utf-8") as out:
                out.write(content)
            return f"(saved as {target})"
        except FileExistsError:
            n += 1
            target = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
        except OSError as error:
            return f"(not saved: cannot write {target} ({error.strerror}); the text is above)"


def channel_for(router: Router, user: str, channel: str) -> tuple[str, str]:
    """`opsbot console --channel X`: (the channel to type in, what to say of it). An incident channel given by its
    ID or its name (`inc-3-…`, `#inc-3-…`) is that incident's channel; any other plain name is a channel of no
    incident yet (`/incident open` binds one there). A name that can only mean an incident channel and matches none
    is refused (UsageError/NotFound), so a command is never sent to some other incident."""
    from bot.core.channels import named_like_incident
    from bot.core.privacy import seen

    incidents = router.services.incidents
    found = incidents.for_channel(channel)
    if found is not None:
        incident = seen(found, incidents.viewer(user, None))
        return incident.channel or channel, f"In {incident.id}'s channel"
    if named_like_incident(channel):
        raise UsageError(f"No incident channel is named {channel}: give one that `/incident list --all` shows "
                         "(inc-<n>-…), or start without --channel.")
    return channel, f"In channel {channel} (no incident yet: `/incident open` opens one here)"


class ConsoleEffects:
    """The console's one effect handler. It has no channels to create, refresh or announce in (the incident's
    channel is the one typed in); it keeps health snapshots at once and, at a prompt, asks about a plan."""

    def __init__(self, router: Router, ctx: Context, stdout: TextIO, interactive: bool):
        self.router, self.ctx, self.stdout, self.interactive = router, ctx, stdout, interactive

    def carry_out(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, HealthSnapshot):
                self.snapshot(effect)
            elif isinstance(effect, SimilarIncidents):
                self.similar(effect)
            elif isinstance(effect, StatusPageNotice):  # the console is the channel here
                print(notice_text(effect), file=self.stdout)
                print(file=self.stdout)
            elif isinstance(effect, PlanAwaitingConfirmation) and self.interactive \
                    and _ask(f"Run plan {effect.plan_id} now? [y/N] "):
                print(to_text(self.router.handle("/ops", f"confirm {effect.plan_id}", self.ctx)), file=self.stdout)
                print(file=self.stdout)

    def similar(self, effect: SimilarIncidents) -> None:
        """The past incidents most like the new one, printed where it was opened (nothing when none is close). A
        suggestion: should it fail, that is logged and the session goes on."""
        services = self.router.services
        try:
            incident = services.incidents.get(effect.number)
            found = services.search.similar(incident, services.incidents.viewer(self.ctx.user, self.ctx.channel))
        except Exception:  # logged with its traceback; the person's work is not interrupted
            log.exception("similar incidents of INC-%s could not be found", effect.number)
            return
        if found:
            print(to_text(redacted(similar_list(incident, found))), file=self.stdout)
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
