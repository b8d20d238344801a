"""The witness file: audit checkpoints appended outside the database (OPSBOT_AUDIT_WITNESS), one `SEQ:HASH time`
line each. `opsbot audit verify` reads it and fails if the log no longer reaches every line."""
from __future__ import annotations

import os
from pathlib import Path

from bot.core.audit import Head
from bot.errors import BackendError
from bot.timeparse import utcnow


class FileWitness:
    def __init__(self, path: Path):
        self.path = path

    def __call__(self, head: Head) -> None:
        line = f"{head} {utcnow().isoformat(timespec='seconds')}\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise BackendError(f"cannot append to the audit witness file {self.path} ({exc.strerror})") from exc

    def heads(self) -> list[Head]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise BackendError(f"cannot read the audit witness file {self.path} ({exc.strerror})") from exc
        heads = []
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    heads.append(Head.parse(line.split()[0]))
                except ValueError as exc:
                    raise BackendError(f"{self.path}:{number}: {exc}") from exc
        return heads
