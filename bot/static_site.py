"""The status page as static files in a directory (`opsbot status-page build --out DIR`, and `status_page.publish.dir`
rewritten by the scheduler leader), for any host or sync to serve from elsewhere: a page path ending in "/" becomes
that folder's index.html; the rest keep their names (the JSON at api/v2/…).

Every file is written whole beside its final name and renamed over it (`os.replace`, atomic on one file system), so
a reader never sees half a file; pages are written after what they link to, and files no longer part of the page
are removed last. A file whose bytes did not change is left alone, so a sync uploads only what changed."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

MARKER = ".opsbot-status-page"  # says the folder is opsbot's to rewrite; a folder without it (and not empty) is not


def file_name(path: str) -> str:
    return path + "index.html" if path == "" or path.endswith("/") else path


def write_site(files: Mapping[str, Any], out: Path) -> list[str]:
    """Write the files under `out` (made if missing); return what was written or removed, relative to it."""
    out.mkdir(parents=True, exist_ok=True)
    marker = out / MARKER
    if not marker.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty and was not written by opsbot: choose an empty folder")
    marker.write_text("written by opsbot: files here are replaced and removed on every change of the page\n")
    wanted = {file_name(path): f.body for path, f in files.items()}
    # Pages last: an index never links to an incident page that is not there yet.
    order = sorted(wanted, key=lambda name: (name.endswith(".html"), name.count("/") == 0, name))
    changed = [name for name in order if _write_if_changed(out / name, wanted[name])]
    for old in sorted(out.rglob("*"), reverse=True):  # deepest first, so emptied folders go too
        name = old.relative_to(out).as_posix()
        if name == MARKER or name in wanted:
            continue
        if old.is_file() and not old.name.startswith(".tmp-"):
            old.unlink()
            changed.append(name)
        elif old.is_dir() and not any(old.iterdir()):
            old.rmdir()
    return changed


def _write_if_changed(target: Path, body: bytes) -> bool:
    if target.is_file() and target.read_bytes() == body:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(body)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


class Publisher:
    """Rewrites the folder when the page's version moved since the last time (the scheduler leader, every tick)."""

    def __init__(self, out: Path, version: Callable[[], Hashable], render: Callable[[], Mapping[str, Any]]):
        self.out, self.version, self.render = out, version, render
        self._published: Hashable | None = None

    def publish(self) -> list[str]:
        current = self.version()
        if current == self._published:
            return []
        changed = write_site(self.render(), self.out)
        self._published = current
        return changed
