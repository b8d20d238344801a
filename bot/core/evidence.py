"""Evidence: what was seen during an incident, gathered at once, redacted, hashed, stored and verifiable.

A collection runs the environment's collectors concurrently within a time budget (a collector that fails or runs
out of time is a failed item with its reason; the bundle is still made). Every item is redacted, then hashed; the
bundle is stored with a MANIFEST.json and never overwritten, and the manifest's hash goes on the timeline (and into
the audit log), so `verify` can prove later that nothing was changed, removed or slipped in.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Awaitable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol

from pydantic import BaseModel

from bot.config.catalog import Catalog
from bot.config.environments import COLLECTORS, Environment, EvidenceLimits
from bot.core.incidents import IncidentService
from bot.core.models import Event, EventKind, Incident
from bot.core.ops import Actor, OpsService, new_attempt
from bot.core.ports import Clock
from bot.core.redact import default_redactor, redact_counted
from bot.errors import ConflictError, UsageError
from bot.timeparse import utcnow

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


class _Allowance:
    """The bundle's byte cap, shared by items written at once in several threads."""

    def __init__(self, total: int):
        self.left, self._lock = total, threading.Lock()

    def take(self, wanted: int) -> int:
        with self._lock:
            granted = min(wanted, self.left)
            self.left -= granted
            return granted


class EvidenceService:
    def __init__(self, incidents: IncidentService, ops: OpsService, catalog: Catalog, collectors: Collectors,
                 storage: EvidenceStorage, clock: Clock = utcnow, files: SharedFiles | None = None):
        self.incidents, self.ops, self.catalog = incidents, ops, catalog
        self.collectors, self.storage, self.clock, self.files = collectors, storage, clock, files

    def collect(self, actor: Actor, number: int, env_name: str | None = None, since: timedelta | None = None,
                only: list[str] | None = None) -> Bundle:
        incident = self.incidents.get(number)
        env_name = env_name or incident.env
        if not env_name:
            raise UsageError(f"{incident.id} names no environment; say which with --env.")
        env = self.ops.env(env_name)
        names = self._collectors(env_name, env, only)
        self.ops.authorize(actor, env_name, "evidence", incident.id)
        start = self.clock() - since if since else incident.declared_at
        infra = [name for name in names if name not in ("audit", "timeline")]
        jobs = self.collectors.jobs(env_name, env, infra, start) if infra else []
        return self._store(actor, incident, env_name, env.evidence, jobs + self._from_the_record(incident, names, start))

    def snapshot(self, number: int, moment: str, user: str) -> Bundle | None:
        """The environment's health at a moment of the incident (declared, resolved), kept as evidence so the
        post-mortem can show before and after side by side. Automatic: no role needed, it only reads."""
        incident = self.incidents.get(number)
        if not incident.env or incident.env not in self.ops.catalog.environments:
            return None
        env = self.ops.env(incident.env)
        if not env.checks:
            return None
        name = f"health-at-{moment}.txt"

        async def work() -> list[Collected]:
            (job,) = self.collectors.jobs(incident.env or "", env, ["health"], incident.declared_at)
            pieces = await job.work
            for piece in pieces:
                piece.name = name
            return pieces
        actor = Actor(user=user, channel=incident.channel, command=f"health snapshot at {moment}")
        return self._store(actor, incident, incident.env, env.evidence, [Job(name, "health", incident.env, work())])

    def add(self, actor: Actor, number: int, text: str) -> Bundle:
        """Something a person saw: a file shared in the chat (downloaded, as a stream), or a URL, an observation,
        a pasted output, kept as typed. Either is redacted, hashed and verified like collected evidence."""
        incident = self.incidents.get(number)
        text = text.strip()
        if not text:
            raise UsageError("Say what to add: a URL or the text itself.")
        file_id = self.files.file_id(text) if self.files else None
        if file_id:
            return self.add_file(actor, number, file_id)
        limit = self.catalog.limits.text_max * 10
        if len(text) > limit:
            raise UsageError(f"That is {len(text)} characters; evidence added by hand is capped at {limit}.")
        job = ready("added.txt", "added", f"typed by @{actor.user}", text + "\n")
        return self._store(actor, incident, incident.env or "-", EvidenceLimits(), [job])

    def add_file(self, actor: Actor, number: int, file_id: str) -> Bundle:
        """A file shared or pinned in the incident's channel, or named by `evidence add`; one over the item cap
        is refused with the cap, before anything is downloaded or written."""
        incident = self.incidents.get(number)
        if self.files is None:
            raise UsageError("Files can be added from Slack only; here, add the text itself.")
        limits = self.ops.env(incident.env).evidence if incident.env else EvidenceLimits()
        shared = self.files.open(file_id)
        if shared.size > limits.max_item_bytes:
            raise UsageError(f"{shared.name} is {shared.size:,} bytes; evidence files are capped at "
                             f"{limits.max_item_bytes:,} bytes (evidence.max_item_bytes).")

        async def work() -> list[Collected]:
            return [Collected(f"file-{file_id}-{_file_name(shared.name)}", "shared",
                              f"{shared.name} shared by @{shared.shared_by}", chunks=shared.chunks)]
        return self._store(actor, incident, incident.env or "-", limits,
                           [Job(f"file-{file_id}", "shared", shared.name, work())])

    def _store(self, actor: Actor, incident: Incident, env_name: str, limits: EvidenceLimits,
               jobs: list[Job]) -> Bundle:
        now = self.clock()
        number, writer = self._reserve(incident.number)
        try:
            items = asyncio.run(self._write_all(jobs, writer, limits, actor.user, now))
            bundle = Bundle(incident=incident.number, number=number, env=env_name, created_at=now,
                            created_by=actor.user, items=items)
            manifest = _manifest(incident, bundle)
            location, archive = writer.finish(manifest)
            bundle = bundle.model_copy(update={"manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                                               "location": location, "archive": archive})
            self._record(actor, incident, bundle)
        except BaseException:
            writer.abandon()  # a bundle that is not on the record is not kept: no orphan to be mistaken for one
            raise
        return bundle

    def _reserve(self, incident: int) -> tuple[int, BundleWriter]:
        """The next free bundle number: nothing collected is ever overwritten, a taken number moves on."""
        first = len(self.bundles(incident)) + 1
        for number in range(first, first + 100):
            try:
                return number, self.storage.create(incident, number)
            except FileExistsError:
                continue
        raise ConflictError(f"Could not find a free bundle number for INC-{incident}.")

    def health_snapshots(self, number: int) -> dict[str, str]:
        """The latest health snapshot kept at each moment (declaration, resolution), as stored."""
        found: dict[str, str] = {}
        for bundle in self.bundles(number):
            for item in bundle.items:
                if item.ok and item.name.startswith("health-at-"):
                    moment = item.name.removeprefix("health-at-").removesuffix(".txt")
                    try:
                        found[moment] = self.storage.read(bundle.location, item.name).decode(errors="replace")
                    except OSError:
                        continue  # `verify` reports a missing file; the draft just goes without it
        return found

    def bundles(self, number: int) -> list[Bundle]:
        return [Bundle.model_validate(e.data["bundle"]) for e in self.incidents.timeline(number)
                if e.kind is EventKind.EVIDENCE and "bundle" in e.data]

    def verify(self, number: int) -> tuple[int, list[str]]:
        """(items checked, problems): every stored file re-hashed against the manifest recorded on the timeline."""
        problems: list[str] = []
        checked = 0
        for bundle in self.bundles(number):
            try:
                stored = self.storage.digests(bundle.location)
            except FileNotFoundError:
                problems.append(f"{bundle.ref}: the bundle is missing from the evidence store ({bundle.location})")
                continue
            manifest = stored.pop(MANIFEST, None)
            if manifest is None:
                problems.append(f"{bundle.ref}: {MANIFEST} is missing")
            elif manifest != bundle.manifest_sha256:
                problems.append(f"{bundle.ref}: {MANIFEST} was changed (its hash differs from the timeline's)")
            expected = {item.name: item.sha256 for item in bundle.items if item.ok}
            for name, digest in expected.items():
                checked += 1
                if name not in stored:
                    problems.append(f"{bundle.ref}: {name} is missing")
                elif stored[name] != digest:
                    problems.append(f"{bundle.ref}: {name} was changed")
            problems += [f"{bundle.ref}: {name} was added" for name in sorted(set(stored) - set(expected))]
        return checked, problems

    # --- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _collectors(env_name: str, env: Environment, only: list[str] | None) -> list[str]:
        configured = [*env.evidence.collectors, *(f"run:{name}" for name in env.evidence.runbook)]
        if not configured:
            raise UsageError(f"{env_name} has no evidence collectors configured (evidence.collectors in opsbot.yml).")
        if not only:
            return configured
        unknown = [name for name in only if name not in COLLECTORS and f"run:{name}" not in configured]
        if unknown:
            raise UsageError(f"Unknown collector '{unknown[0]}'; use any of {', '.join(COLLECTORS)}"
                             + (f" or {', '.join(env.evidence.runbook)}" if env.evidence.runbook else "") + ".")
        return [name for name in configured if name in only or name.removeprefix("run:") in only]

    def _from_the_record(self, incident: Incident, names: list[str], since: datetime) -> list[Job]:
        """The audit records and the timeline: opsbot's own record of what happened, as evidence too."""
        jobs = []
        if "audit" in names:
            records = self.ops.store.audit_records(since)
            jobs.append(ready("audit.jsonl", "audit", "opsbot audit log",
                              "".join(r.model_dump_json() + "\n" for r in records)))
        if "timeline" in names:
            events = self.incidents.timeline(incident.number)
            jobs.append(ready("timeline.jsonl", "timeline", f"{incident.id} timeline",
                              "".join(e.model_dump_json() + "\n" for e in events)))
        return jobs

    async def _write_all(self, jobs: list[Job], writer: BundleWriter, limits: EvidenceLimits, user: str,
                         now: datetime) -> list[EvidenceItem]:
        """Every job at once (up to `concurrency`), each item streamed through redaction and hashing into the
        bundle as it arrives, all within one time budget."""
        deadline = time.monotonic() + limits.time_budget_s
        allowance = _Allowance(limits.max_bundle_bytes)
        slots = asyncio.Semaphore(limits.concurrency)
        names: set[str] = set()

        async def run(job: Job) -> list[EvidenceItem]:
            async with slots:
                try:
                    pieces = await asyncio.wait_for(job.work, max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    pieces = [Collected(job.name, job.collector, job.source,
                                        error=f"not done within {limits.time_budget_s:g} s")]
                except Exception as error:  # noqa: BLE001 — a failed collector is a failed item, never a failed bundle
                    pieces = [Collected(job.name, job.collector, job.source,
                                        error=str(error) or type(error).__name__)]
                items = []
                for piece in pieces:
                    piece.name = _unique(piece.name, names)
                    items.append(await asyncio.to_thread(self._write, piece, writer, limits, allowance, deadline,
                                                         EvidenceItem(name=piece.name, collector=piece.collector,
                                                                      source=piece.source, collected_at=now,
                                                                      collected_by=user)))
                return items

        results = await asyncio.gather(*(run(job) for job in jobs))
        return [item for items in results for item in items]

    @staticmethod
    def _write(piece: Collected, writer: BundleWriter, limits: EvidenceLimits, allowance: _Allowance,
               deadline: float, item: EvidenceItem) -> EvidenceItem:
        """Redact, hash and store one item in chunks; cut it (and say why) at a cap, at the deadline, or where its
        source broke off."""
        if piece.text is None and piece.chunks is None:
            error, _ = redact_counted(piece.error or "no output")
            return item.model_copy(update={"ok": False, "error": error[:500]})
        chunks = piece.chunks if piece.chunks is not None else [(piece.text or "").encode("utf-8", "replace")]
        digest, size, masked, cut = hashlib.sha256(), 0, 0, ""
        out: BinaryIO | None = None
        try:
            for data, count in default_redactor().stream(_source(chunks)):
                masked += count
                room = allowance.take(min(len(data), limits.max_item_bytes - size))
                if room < len(data):
                    data = data[:room]
                    cut = ("evidence.max_item_bytes" if size + room >= limits.max_item_bytes
                           else "evidence.max_bundle_bytes")
                if out is None:
                    out = writer.open(piece.name)
                out.write(data)
                digest.update(data)
                size += len(data)
                if not cut and time.monotonic() > deadline:
                    cut = f"the time budget ({limits.time_budget_s:g} s)"
                if cut:
                    break
        except _SourceBroke as error:  # keep what came and say why (a failing disk is not this: it propagates)
            if out is None:
                return item.model_copy(update={"ok": False, "error": redact_counted(str(error))[0][:500]})
            cut = f"the source breaking off ({redact_counted(str(error))[0][:300]})"
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()  # a generator holding a connection lets it go now, not at garbage collection
        if out is None:
            out = writer.open(piece.name)  # an empty log is still an item, with the hash of nothing
        if cut:
            note = f"\n[cut at {cut}]\n".encode()
            out.write(note)
            digest.update(note)
            size += len(note)
        out.close()
        return item.model_copy(update={"size": size, "sha256": digest.hexdigest(), "redacted": masked,
                                       "truncated": bool(cut), "error": f"cut at {cut}" if cut else None})

    def _record(self, actor: Actor, incident: Incident, bundle: Bundle) -> None:
        """On the timeline (with the manifest's hash) and in the audit log, like any action."""
        ok = sum(item.ok for item in bundle.items)
        text = (f"Evidence {bundle.ref} collected from {bundle.env}: {ok} of {len(bundle.items)} items "
                f"(manifest sha256 {bundle.manifest_sha256[:12]}…)")
        event = Event(at=bundle.created_at, actor=actor.user, kind=EventKind.EVIDENCE, text=text,
                      data={"bundle": bundle.model_dump(mode="json")})
        record = self.ops.audit_record(actor, new_attempt(), "succeeded", bundle.env, "evidence", incident.id,
                                       {"bundle": bundle.ref, "items": len(bundle.items)}, excerpt=text)
        # One transaction: the timeline's entry and the audit record (whose seq it carries) exist together or not.
        self.ops.store.append_audit(record.model_copy(update={"output_sha256": bundle.manifest_sha256}),
                                    (incident.number, event))


class _SourceBroke(Exception):
    pass


def _source(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The item's stream, its failures told apart from the bundle's own (a full disk must not pass for a log
    that broke off)."""
    try:
        yield from chunks
    except Exception as error:
        raise _SourceBroke(str(error) or type(error).__name__) from error


def _file_name(name: str) -> str:
    """A shared file's own name, reduced to what is safe in a flat folder on any system."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name).lstrip(".")[:80] or "file"


def _unique(name: str, taken: set[str]) -> str:
    """Two containers of one service could map to one file name; the second gets a suffix, never the first's file."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
    taken.add(candidate)
    return candidate


def _manifest(incident: Incident, bundle: Bundle) -> bytes:
    document = {"incident": incident.id, "bundle": bundle.ref, "env": bundle.env,
                "created_at": bundle.created_at.isoformat(), "created_by": bundle.created_by,
                "items": [item.model_dump(mode="json") for item in bundle.items]}
    return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
