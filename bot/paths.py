"""Where opsbot keeps its data by default: a stable place, never the current directory.

`cd elsewhere && opsbot audit verify` must read the same database as before, so the default SQLite file lives in
the user's data directory (the XDG rule: `$XDG_DATA_HOME/opsbot`, else `~/.local/share/opsbot`). Standard library
only: `opsbot --help` prints it without loading pydantic.
"""
from __future__ import annotations

import os
from pathlib import Path


def data_dir(environ: dict[str, str] | None = None) -> Path:
    environ = dict(os.environ) if environ is None else environ
    xdg = environ.get("XDG_DATA_HOME", "")
    # The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path(environ.get("HOME") or Path.home()) / ".local/share"
    return base / "opsbot"


def default_database_url(environ: dict[str, str] | None = None) -> str:
    return f"sqlite:///{data_dir(environ) / 'opsbot.db'}"


def sqlite_file(url: str) -> Path | None:
    """The file of a sqlite:/// URL (relative ones from the current directory); None for other stores."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return None if not path or path == ":memory:" else Path(path)
