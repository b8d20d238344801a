"""Text people type, made fit to keep and to show on every surface: control characters (a stray ^K or ^A pasted
from a terminal, a NUL) are dropped — PostgreSQL's text cannot hold a NUL, and XML (the status page's feeds)
refuses them all. Tabs and line ends stay; a CR LF becomes a line end."""
from __future__ import annotations

import re

# C0 controls but tab and line feed, DEL, lone surrogates, and the two non-characters XML refuses.
_UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    return _UNFIT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
