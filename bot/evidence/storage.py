"""Bundles in a directory (OPSBOT_EVIDENCE_DIR): `INC-n/EB-k/` with every item and MANIFEST.json, plus
`INC-n/EB-k.tar.gz` to hand over. A bundle directory is created once and never written again.

Items arrive as streams and are written in chunks; the archive is built from the written files, also in chunks,
so memory stays bounded whatever the size of a log. A bucket backend would offer the same calls: `create` a bundle
(refusing a taken number), write each item through a file-like object, `finish` with the manifest, then `digests`
and `read` for verification."""
from __future__ import annotations

import hashlib
import shutil
import tarfile
from pathlib import Path
from typing import BinaryIO

from bot.core.evidence_bundle import MANIFEST
from bot.errors import BackendError

_READ = 1 << 20
_GZIP_LEVEL = 1  # logs compress well even at level 1; level 9 would cost the bundle its throughput


class DirectoryBundle:
    """One bundle being written: items are opened, streamed into and closed; `finish` seals it."""

    def __init__(self, folder: Path):
        self.folder = folder

    def open(self, name: str) -> BinaryIO:
        try:
            return (self.folder / _safe(name)).open("xb")
        except OSError as exc:
            raise BackendError(f"cannot write evidence to {self.folder} ({exc.strerror})") from exc

    def finish(self, manifest: bytes) -> tuple[str, str]:
        """Write the manifest and the archive; (where the bundle is, where its archive is)."""
        archive_path = self.folder.with_suffix(".tar.gz")
        try:
            (self.folder / MANIFEST).write_bytes(manifest)
            with tarfile.open(archive_path, "x:gz", compresslevel=_GZIP_LEVEL) as archive:
                archive.add(self.folder / MANIFEST, f"{self.folder.name}/{MANIFEST}")
                for path in sorted(self.folder.iterdir()):
                    if path.name != MANIFEST:
                        archive.add(path, f"{self.folder.name}/{path.name}")  # tarfile copies in chunks
        except OSError as exc:
            raise BackendError(f"cannot write evidence to {self.folder} ({exc.strerror})") from exc
        return str(self.folder), str(archive_path)

    def abandon(self) -> None:
        """A collection that failed before its manifest leaves nothing behind to be mistaken for a bundle."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.with_suffix(".tar.gz").unlink(missing_ok=True)


class DirectoryStorage:
    def __init__(self, root: Path):
        self.root = root

    def create(self, incident: int, bundle: int) -> DirectoryBundle:
        """FileExistsError when that bundle number is taken: the caller moves on, nothing is overwritten."""
        folder = self.root / f"INC-{incident}" / f"EB-{bundle}"
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir()
        except FileExistsError:
            raise
        except OSError as exc:
            raise BackendError(f"cannot write evidence to {self.root} ({exc.strerror})") from exc
        return DirectoryBundle(folder)

    def digests(self, location: str) -> dict[str, str]:
        """sha256 of every stored file of the bundle, MANIFEST.json included, read in chunks."""
        folder = Path(location)
        if not folder.is_dir():
            raise FileNotFoundError(location)
        found = {}
        for path in sorted(folder.iterdir()):
            if path.is_file():
                digest = hashlib.sha256()
                with path.open("rb") as stream:
                    while block := stream.read(_READ):
                        digest.update(block)
                found[path.name] = digest.hexdigest()
        return found

    def read(self, location: str, name: str) -> bytes:
        return (Path(location) / _safe(name)).read_bytes()


def _safe(name: str) -> str:
    """Item names come from collectors; a bundle stays one flat folder whatever they say."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"unsafe evidence item name {name!r}")
    return name
