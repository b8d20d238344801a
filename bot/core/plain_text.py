"""Text people type, made fit to keep and to show on every surface: control characters (a stray ^K or ^A pasted
from a terminal, a NUL) are dropped — PostgreSQL's text cannot hold a NUL, and XML (the status page's feeds)
refuses them all. Tabs and line ends stay; a CR LF becomes a line end.

Applied where text comes in: typed commands (Slack and the console: commands/parsing.py), Slack's modals
(bot/slack/modals.py), alerts (AlertGroup.scrubbed), the status page's public text; and where it goes out to XML
(the status feeds), for text kept before."""
from __future__ import annotations

import re
from typing import Any

# C0 controls but tab and line feed, DEL, lone surrogates, and the two non-characters XML refuses.
_UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    return _UNFIT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def printable_nested(value: Any) -> Any:
    """Every string inside (dict keys and values, list items, at any depth) made printable: a payload's fields."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_nested(key): printable_nested(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [printable_nested(item) for item in value]
    return value
