"""Bundles in a directory (OPSBOT_EVIDENCE_DIR): `INC-n/EB-k/` with every item and MANIFEST.json, plus
`INC-n/EB-k.tar.gz` to hand over. A bundle directory is created once and never written again."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

from bot.errors import BackendError


class DirectoryStorage:
    def __init__(self, root: Path):
        self.root = root

    def save(self, incident: int, bundle: int, files: dict[str, bytes], manifest: bytes) -> tuple[str, str]:
        folder = self.root / f"INC-{incident}" / f"EB-{bundle}"
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir()  # FileExistsError: that number is taken; the caller moves on, nothing is overwritten
            for name, data in {**files, "MANIFEST.json": manifest}.items():
                (folder / _safe(name)).write_bytes(data)
            with tarfile.open(folder.with_suffix(".tar.gz"), "x:gz") as archive:
                for name, data in {"MANIFEST.json": manifest, **files}.items():
                    info = tarfile.TarInfo(f"EB-{bundle}/{_safe(name)}")
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))
        except FileExistsError:
            raise
        except OSError as exc:
            raise BackendError(f"cannot write evidence to {self.root} ({exc.strerror})") from exc
        return str(folder), str(folder.with_suffix(".tar.gz"))

    def read(self, location: str) -> dict[str, bytes]:
        folder = Path(location)
        if not folder.is_dir():
            raise FileNotFoundError(location)
        return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def _safe(name: str) -> str:
    """Item names come from collectors; a bundle stays one flat folder whatever they say."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"unsafe evidence item name {name!r}")
    return name
