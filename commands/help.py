"""Top-level help."""
from __future__ import annotations

from bot.blocks import Reply, context, header, section
from commands import incident, maint, ops


def overview(commands: dict) -> Reply:
    return Reply(
        text="opsbot commands",
        blocks=[
            header("opsbot"),
            section("\n".join(f"`{name} help`" for name in commands)),
            section("\n".join(f"`{incident.USAGE[name]}`" for name in incident.USAGE)),
            section("\n".join(f"`{ops.USAGE[name]}`" for name in ops.USAGE)),
            section("\n".join(f"`{maint.USAGE[name]}`" for name in maint.USAGE)),
            context("Times are shown in UTC with their date. People are identified by Slack user ID."),
        ],
    )

