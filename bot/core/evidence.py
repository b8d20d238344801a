"""Evidence: what was seen during an incident, gathered at once, redacted, hashed, stored and verifiable.

A collection runs the environment's collectors concurrently within a time budget (a collector that fails or runs
out of time is a failed item with its reason; the bundle is still made). Every item is redacted, then hashed
(evidence_write.py); the bundle is stored with a MANIFEST.json and never overwritten, and the manifest's hash goes
on the timeline (and into the audit log), so `verify` can prove later that nothing was changed, removed or slipped
in. What a bundle is and the ports it goes through are in evidence_bundle.py.
"""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from bot.config.catalog import Catalog
from bot.config.environments import COLLECTORS, Environment, EvidenceLimits
from bot.core.evidence_bundle import (
    MANIFEST,
    Bundle,
    BundleWriter,
    Collected,
    Collectors,
    EvidenceItem,
    EvidenceStorage,
    Job,
    SharedFile,
    SharedFiles,
    ready,
)
from bot.core.evidence_write import manifest, write_all
from bot.core.incidents import IncidentService
from bot.core.models import Event, EventKind, Incident
from bot.core.ops import Actor, OpsService, new_attempt
from bot.core.ports import Clock
from bot.errors import ConflictError, UsageError
from bot.timeparse import utcnow

__all__ = ["MANIFEST", "Bundle", "BundleWriter", "Collected", "Collectors", "EvidenceItem", "EvidenceService",
           "EvidenceStorage", "Job", "SharedFile", "SharedFiles", "ready"]


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

    def add_output(self, actor: Actor, number: int, name: str, path: Path) -> str:
        """A runbook action's whole output (already redacted, on disk) as an evidence item of the incident it ran
        for, streamed, never read whole; says where it is."""
        incident = self.incidents.get(number)
        limits = self.ops.env(incident.env).evidence if incident.env in self.catalog.environments else EvidenceLimits()

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as source:
                while block := source.read(1 << 20):
                    yield block

        async def work() -> list[Collected]:
            return [Collected(name, "run", f"output of a runbook action run by @{actor.user}", chunks=chunks())]
        bundle = self._store(actor, incident, incident.env or "-", limits, [Job(name, "run", name, work())])
        return f"the whole output is kept as evidence {bundle.ref} of {incident.id}"

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
            items = asyncio.run(write_all(jobs, writer, limits, actor.user, now))
            bundle = Bundle(incident=incident.number, number=number, env=env_name, created_at=now,
                            created_by=actor.user, items=items)
            document = manifest(incident, bundle)
            location, archive = writer.finish(document)
            bundle = bundle.model_copy(update={"manifest_sha256": hashlib.sha256(document).hexdigest(),
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

    def bundles(self, number: int, events: list[Event] | None = None) -> list[Bundle]:
        """The incident's bundles, from its timeline (`events`, when the caller has read it already)."""
        return [Bundle.model_validate(e.data["bundle"]) for e in (events or self.incidents.timeline(number))
                if e.kind is EventKind.EVIDENCE and "bundle" in e.data]

    def verify(self, number: int, bundles: list[Bundle] | None = None) -> tuple[int, list[str]]:
        """(items checked, problems): every stored file re-hashed against the manifest recorded on the timeline."""
        problems: list[str] = []
        checked = 0
        for bundle in (self.bundles(number) if bundles is None else bundles):
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


def _file_name(name: str) -> str:
    """A shared file's own name, reduced to what is safe in a flat folder on any system."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name).lstrip(".")[:80] or "file"
