"""Top-level help, and placeholders for commands whose capabilities have not landed yet."""
from __future__ import annotations

from bot.blocks import Reply, context, header, section
from commands import incident, ops


def overview(commands: dict) -> Reply:
    return Reply(
        text="opsbot commands",
        blocks=[
            header("opsbot"),
            section("\n".join(f"`{name} help`" for name in commands)),
            section("\n".join(f"`{incident.USAGE[name]}`" for name in incident.USAGE)),
            section("\n".join(f"`{ops.USAGE[name]}`" for name in ops.USAGE)),
            context("Times are shown in UTC with their date. People are identified by Slack user ID."),
        ],
    )


def coming_soon(command: str, what: str):
    def handle(services, ctx, text: str) -> Reply:
        message = f"`{command}` ({what}) is not available in this version yet."
        return Reply(text=message, blocks=[section(message)])

    return handle
