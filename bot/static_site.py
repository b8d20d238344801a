"""The status page as static files in a directory (`opsbot status-page build --out DIR`, and `status_page.publish.dir`
rewritten by the scheduler leader), for any host or sync to serve from elsewhere: a page path ending in "/" becomes
that folder's index.html; the rest keep their names (the JSON at api/v2/…).

`write_site` (build) writes into a plain folder: every file whole beside its final name and renamed over it
(`os.replace`, atomic on one file system), so a reader never sees half a file; pages after what they link to.

`swap_site` (the published folder) goes further, because a sync or a web server reads many files of one page: the
whole page is written to a new folder beside the old one, and `publish.dir` — a symbolic link — is renamed over to
point at it, one atomic step. A reader that resolves the link once (rsync and `aws s3 sync` do; a web server does per
file) sees one version whole: index.html, the incidents it links to and summary.json agree. Unchanged files are
hard links to the previous copy, so they keep their times and a sync uploads only what changed."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
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


def copies_of(out: Path) -> Path:
    """The folder beside `out` that holds its versions (`out` links to one of them)."""
    return out.parent / f".{out.name}.opsbot"


def swap_site(files: Mapping[str, Any], out: Path) -> list[str]:
    """Write the files as a new version of `out` and point `out` at it in one rename; return what changed."""
    out = Path(os.path.abspath(out))
    current = _current_copy(out)
    store = Path(os.path.realpath(copies_of(out)))
    store.mkdir(parents=True, exist_ok=True)
    wanted = {file_name(path): f.body for path, f in files.items()}
    new = store / f"v-{time.time_ns():020d}"
    new.mkdir()
    changed = []
    for name, body in wanted.items():
        if not _keep(current / name if current else None, new / name, body):
            changed.append(name)
    (new / MARKER).write_text("written by opsbot: this folder is replaced on every change of the page\n")
    if current is not None:
        changed += sorted(p.relative_to(current).as_posix() for p in current.rglob("*")
                          if p.is_file() and p.name != MARKER and not p.name.startswith(".tmp-")
                          and p.relative_to(current).as_posix() not in wanted)
        if not changed and out.is_symlink():  # the same page: no new version for a sync to notice
            shutil.rmtree(new)
            return []
    link = out.parent / f".{out.name}.opsbot-link-{new.name}"
    os.symlink(os.path.relpath(new, out.parent), link)
    if out.is_dir() and not out.is_symlink():  # a plain folder (empty, or an older opsbot's copy): moved aside once
        os.rename(out, store / f"old-{time.time_ns():020d}")
    os.replace(link, out)  # the one step a reader can notice: before it the old version, after it the new one
    _prune(out, new, current if current is not None and current.parent == store else None)
    return changed or sorted(wanted)


def _current_copy(out: Path) -> Path | None:
    """The version `out` shows now; refuses a link or a folder opsbot did not make."""
    if out.is_symlink():
        target = Path(os.path.realpath(out))
        if target.parent != Path(os.path.realpath(copies_of(out))):
            raise FileExistsError(f"{out} is a link opsbot did not make: remove it or choose another folder")
        return target if (target / MARKER).is_file() else None  # its version was removed by hand: write all again
    if not out.exists():
        return None
    if not out.is_dir():
        raise NotADirectoryError(f"{out} is not a folder")
    if (out / MARKER).exists():
        return out
    if any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty and was not written by opsbot: choose an empty folder")
    return None


def _keep(old: Path | None, target: Path, body: bytes) -> bool:
    """Write `target`; True when it is the previous version's file, linked rather than written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if old is not None and old.is_file() and old.read_bytes() == body:
        try:
            os.link(old, target)  # the same inode: its time stays, so a sync skips it
        except OSError:  # a file system without hard links
            shutil.copy2(old, target)
        return True
    target.write_bytes(body)
    os.chmod(target, 0o644)
    return False


def _prune(out: Path, new: Path, previous: Path | None) -> None:
    """Versions other than the new one and the one just replaced (a reader may be part-way through it) go: each is
    renamed first, so a reader finds it whole or not at all, then removed. Anything newer than ours (a build run at
    the same moment) is left to its writer."""
    store = new.parent
    stamp = new.name.removeprefix("v-")
    for old in store.iterdir():
        if old.name.startswith("gone-"):  # left by a crash part-way through a removal
            shutil.rmtree(old, ignore_errors=True)
        elif old not in (new, previous) and old.name.startswith(("v-", "old-")) and old.name.split("-", 1)[1] < stamp:
            gone = store / f"gone-{old.name}"
            os.rename(old, gone)
            shutil.rmtree(gone, ignore_errors=True)
    for link in out.parent.glob(f".{out.name}.opsbot-link-v-*"):  # made but never renamed into place (a crash)
        if link.name.rsplit("-", 1)[-1] < new.name.removeprefix("v-"):
            link.unlink(missing_ok=True)


class Publisher:
    """Rewrites the folder when the page's version moved since the last time (the scheduler leader, every tick).
    `swap` publishes a whole new version at once (swap_site); without it the folder is written in place."""

    def __init__(self, out: Path, version: Callable[[], Hashable], render: Callable[[], Mapping[str, Any]],
                 swap: bool = False):
        self.out, self.version, self.render = out, version, render
        self.write = swap_site if swap else write_site
        self._published: Hashable | None = None

    def publish(self) -> list[str]:
        current = self.version()
        if current == self._published:
            return []
        changed = self.write(self.render(), self.out)
        self._published = current
        return changed
