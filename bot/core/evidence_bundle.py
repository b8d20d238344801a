"""Evidence bundles: what an item and a bundle record, what collectors hand over, and where bundles are stored
(the ports the evidence service talks through)."""
from __future__ import annotations

from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from pydantic import BaseModel

from bot.config.environments import Environment

MANIFEST = "MANIFEST.json"


class EvidenceItem(BaseModel):
    name: str  # the file name in the bundle
    collector: str
    source: str  # where it came from: a service, a database, a check, the store
    size: int = 0
    sha256: str = ""
    redacted: int = 0  # values masked before it was stored
    truncated: bool = False
    collected_at: datetime
    collected_by: str
    ok: bool = True
    error: str | None = None


class Bundle(BaseModel):
    incident: int
    number: int
    env: str
    created_at: datetime
    created_by: str
    items: list[EvidenceItem]
    manifest_sha256: str = ""
    location: str = ""  # the stored bundle (a folder)
    archive: str = ""  # the same bundle as one file to hand over (.tar.gz)

    @property
    def ref(self) -> str:
        return f"EB-{self.number}"


@dataclass
class Collected:
    """One item a collector produced: text, a stream of bytes read later in chunks (never held whole), or why
    there is neither."""

    name: str
    collector: str
    source: str
    text: str | None = None
    chunks: Iterable[bytes] | None = None
    error: str | None = None


@dataclass
class Job:
    """One collector's work on one source. Its items (logs: one per container) or, if it fails or runs out of
    time, one failed item under this name."""

    name: str
    collector: str
    source: str
    work: Awaitable[list[Collected]]


def ready(name: str, collector: str, source: str, text: str) -> Job:
    """A job whose item is already known (the record, a note added by hand)."""
    async def work() -> list[Collected]:
        return [Collected(name, collector, source, text=text)]
    return Job(name, collector, source, work())


@dataclass
class SharedFile:
    """A file a person shared (in Slack): what it says it is, and its bytes as a stream."""

    id: str
    name: str
    size: int
    shared_by: str
    chunks: Iterable[bytes]


class SharedFiles(Protocol):
    """The chat's files, read with the bot's own credentials."""

    def file_id(self, reference: str) -> str | None: ...  # the file a link or id names, if it is one of ours
    def open(self, file_id: str) -> SharedFile: ...  # its description and a stream of its bytes, not yet read


class Collectors(Protocol):
    """Gathers the infrastructure's side (logs, status, health, databases, runbook collectors) of one environment."""

    def jobs(self, env_name: str, env: Environment, names: list[str], since: datetime) -> list[Job]: ...


class BundleWriter(Protocol):
    def open(self, name: str) -> BinaryIO: ...  # a new item, written in chunks
    def finish(self, manifest: bytes) -> tuple[str, str]: ...  # (where the bundle is, where its archive is)
    def abandon(self) -> None: ...


class EvidenceStorage(Protocol):
    """Where bundles live (a directory now; a bucket later behind the same calls)."""

    def create(self, incident: int, bundle: int) -> BundleWriter: ...  # FileExistsError when the number is taken
    def digests(self, location: str) -> dict[str, str]: ...  # sha256 of every stored file, MANIFEST.json included
    def read(self, location: str, name: str) -> bytes: ...  # one small stored file
