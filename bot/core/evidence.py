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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel

from bot.config.catalog import Catalog
from bot.config.environments import COLLECTORS, Environment
from bot.core.incidents import IncidentService
from bot.core.models import Event, EventKind, Incident
from bot.core.ops import Actor, OpsService, new_attempt
from bot.core.ports import Clock
from bot.core.redact import redact_counted
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
    """What one collector returned: text to keep, or why there is none."""

    name: str
    collector: str
    source: str
    text: str | None = None
    error: str | None = None


class Collectors(Protocol):
    """Gathers the infrastructure's side (logs, status, health, databases, runbook collectors) of one environment."""

    async def collect(self, env_name: str, env: Environment, names: list[str], since: datetime) -> list[Collected]: ...


class EvidenceStorage(Protocol):
    """Where bundles live (a directory now; a bucket later behind the same three calls)."""

    def save(self, incident: int, bundle: int, files: dict[str, bytes], manifest: bytes) -> tuple[str, str]: ...
    # (where the bundle is, where its archive is); FileExistsError when that bundle number is taken
    def read(self, location: str) -> dict[str, bytes]: ...  # every file of the bundle, MANIFEST.json included


class EvidenceService:
    def __init__(self, incidents: IncidentService, ops: OpsService, catalog: Catalog, collectors: Collectors,
                 storage: EvidenceStorage, clock: Clock = utcnow):
        self.incidents, self.ops, self.catalog = incidents, ops, catalog
        self.collectors, self.storage, self.clock = collectors, storage, clock

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
        collected = asyncio.run(self._gather(env_name, env, names, start))
        collected += self._from_the_record(incident, names, start)
        return self._store(actor, incident, env_name, env.evidence.max_item_bytes, collected)

    def add(self, actor: Actor, number: int, text: str) -> Bundle:
        """Something a person saw (a URL, an observation, a pasted output), kept like collected evidence."""
        incident = self.incidents.get(number)
        text = text.strip()
        if not text:
            raise UsageError("Say what to add: a URL or the text itself.")
        limit = self.catalog.limits.text_max * 10
        if len(text) > limit:
            raise UsageError(f"That is {len(text)} characters; evidence added by hand is capped at {limit}.")
        env = incident.env or "-"
        piece = Collected("added.txt", "added", f"typed by @{actor.user}", text=text + "\n")
        return self._store(actor, incident, env, limit * 4, [piece])

    def _store(self, actor: Actor, incident: Incident, env_name: str, max_item_bytes: int,
               collected: list[Collected]) -> Bundle:
        number = incident.number
        now = self.clock()
        files: dict[str, bytes] = {}
        items = [self._item(piece, max_item_bytes, actor.user, now, files) for piece in collected]
        for attempt in range(1, 100):  # nothing is ever overwritten: a bundle number already taken moves on
            bundle = Bundle(incident=number, number=len(self.bundles(number)) + attempt, env=env_name,
                            created_at=now, created_by=actor.user, items=items)
            manifest = _manifest(incident, bundle)
            try:
                location, archive = self.storage.save(number, bundle.number, files, manifest)
                break
            except FileExistsError:
                continue
        else:
            raise ConflictError(f"Could not find a free bundle number for {incident.id}.")
        bundle = bundle.model_copy(update={"manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                                           "location": location, "archive": archive})
        self._record(actor, incident, bundle)
        return bundle

    def bundles(self, number: int) -> list[Bundle]:
        return [Bundle.model_validate(e.data["bundle"]) for e in self.incidents.timeline(number)
                if e.kind is EventKind.EVIDENCE and "bundle" in e.data]

    def verify(self, number: int) -> tuple[int, list[str]]:
        """(items checked, problems): every stored file re-hashed against the manifest recorded on the timeline."""
        problems: list[str] = []
        checked = 0
        for bundle in self.bundles(number):
            try:
                files = self.storage.read(bundle.location)
            except FileNotFoundError:
                problems.append(f"{bundle.ref}: the bundle is missing from the evidence store ({bundle.location})")
                continue
            manifest = files.pop(MANIFEST, None)
            if manifest is None:
                problems.append(f"{bundle.ref}: {MANIFEST} is missing")
            elif hashlib.sha256(manifest).hexdigest() != bundle.manifest_sha256:
                problems.append(f"{bundle.ref}: {MANIFEST} was changed (its hash differs from the timeline's)")
            expected = {item.name: item.sha256 for item in bundle.items if item.ok}
            for name, digest in expected.items():
                checked += 1
                if name not in files:
                    problems.append(f"{bundle.ref}: {name} is missing")
                elif hashlib.sha256(files[name]).hexdigest() != digest:
                    problems.append(f"{bundle.ref}: {name} was changed")
            problems += [f"{bundle.ref}: {name} was added" for name in sorted(set(files) - set(expected))]
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

    async def _gather(self, env_name: str, env: Environment, names: list[str], since: datetime) -> list[Collected]:
        wanted = [name for name in names if name not in ("audit", "timeline")]
        if not wanted:
            return []
        try:
            return await asyncio.wait_for(self.collectors.collect(env_name, env, wanted, since),
                                          timeout=env.evidence.time_budget_s)
        except TimeoutError:
            return [Collected(name, name, env_name, error=f"not done within {env.evidence.time_budget_s:g} s")
                    for name in wanted]

    def _from_the_record(self, incident: Incident, names: list[str], since: datetime) -> list[Collected]:
        """The audit records and the timeline: opsbot's own record of what happened, as evidence too."""
        pieces = []
        if "audit" in names:
            records = [r for r in self.ops.store.audit_records() if r.at >= since]
            pieces.append(Collected("audit.jsonl", "audit", "opsbot audit log",
                                    "".join(r.model_dump_json() + "\n" for r in records)))
        if "timeline" in names:
            events = self.incidents.timeline(incident.number)
            pieces.append(Collected("timeline.jsonl", "timeline", f"{incident.id} timeline",
                                    "".join(e.model_dump_json() + "\n" for e in events)))
        return pieces

    @staticmethod
    def _item(piece: Collected, max_bytes: int, user: str, now: datetime, files: dict[str, bytes]) -> EvidenceItem:
        item = EvidenceItem(name=piece.name, collector=piece.collector, source=piece.source, collected_at=now,
                            collected_by=user)
        if piece.text is None:
            error, _ = redact_counted(piece.error or "no output")
            return item.model_copy(update={"ok": False, "error": error[:500]})
        text, masked = redact_counted(piece.text)
        data = text.encode()
        truncated = len(data) > max_bytes
        if truncated:
            data = data[:max_bytes] + b"\n[cut at evidence.max_item_bytes]\n"
        files[piece.name] = data
        return item.model_copy(update={"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                       "redacted": masked, "truncated": truncated})

    def _record(self, actor: Actor, incident: Incident, bundle: Bundle) -> None:
        """On the timeline (with the manifest's hash) and in the audit log, like any action."""
        ok = sum(item.ok for item in bundle.items)
        text = (f"Evidence {bundle.ref} collected from {bundle.env}: {ok} of {len(bundle.items)} items "
                f"(manifest sha256 {bundle.manifest_sha256[:12]}…)")
        self.incidents.store.append_events(incident.number, [Event(
            at=bundle.created_at, actor=actor.user, kind=EventKind.EVIDENCE, text=text,
            data={"bundle": bundle.model_dump(mode="json")})])
        record = self.ops.audit_record(actor, new_attempt(), "succeeded", bundle.env, "evidence", incident.id,
                                       {"bundle": bundle.ref, "items": len(bundle.items)}, excerpt=text)
        self.ops.store.append_audit(record.model_copy(update={"output_sha256": bundle.manifest_sha256}))


def _manifest(incident: Incident, bundle: Bundle) -> bytes:
    document = {"incident": incident.id, "bundle": bundle.ref, "env": bundle.env,
                "created_at": bundle.created_at.isoformat(), "created_by": bundle.created_by,
                "items": [item.model_dump(mode="json") for item in bundle.items]}
    return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
