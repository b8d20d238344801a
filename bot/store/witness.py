"""The witness file: audit checkpoints appended outside the database (OPSBOT_AUDIT_WITNESS), one
`SEQ:HASH TIME [sig=…]` line each. `opsbot audit verify` reads it and fails if the log no longer reaches every line,
or if a line's signature is not the signing key's."""
from __future__ import annotations

import os
from pathlib import Path

from bot.core.audit import Head
from bot.core.audit_signing import Checkpoint
from bot.errors import BackendError


class FileWitness:
    def __init__(self, path: Path):
        self.path = path

    def __call__(self, checkpoint: Checkpoint) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as out:
                out.write(checkpoint.line() + "\n")
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise BackendError(f"cannot append to the audit witness file {self.path} ({exc.strerror})") from exc

    def checkpoints(self) -> list[Checkpoint]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise BackendError(f"cannot read the audit witness file {self.path} ({exc.strerror})") from exc
        found = []
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    found.append(Checkpoint.parse(line))
                except ValueError as exc:
                    raise BackendError(f"{self.path}:{number}: {exc}") from exc
        return found

    def heads(self) -> list[Head]:
        return [checkpoint.head for checkpoint in self.checkpoints()]
