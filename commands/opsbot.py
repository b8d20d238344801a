"""/opsbot: opsbot itself — `login` answers, only to the asker, a one-time link that signs them in to the web view."""
from __future__ import annotations

from bot.views.model import Reply, note, paragraph, reply
from commands.base import CommandSet, Context, Services, SubCommand


def _login(services: Services, ctx: Context, text: str) -> Reply:
    link = services.web.link(ctx.user)
    return reply("Your sign-in link to the web view (valid 10 minutes, once)",
                 paragraph("🔑 Your sign-in link to the web view — valid 10 minutes, for one use, for you only: ", link),
                 note("Do not share it: whoever opens it first is signed in as you."), ephemeral=True)


COMMAND = CommandSet("/opsbot", "opsbot itself: sign in to the web view", "login | help",
                     "The web view shows incidents, post-mortems, audit, on-call and insights, read-only.", [
    SubCommand("login", "/opsbot login", "a one-time sign-in link to the web view, only to you", _login),
])
