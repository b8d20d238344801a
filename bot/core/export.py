"""Incident export and import: one JSON document per incident that a team can take to another store (SQLite ↔
PostgreSQL) or keep outside opsbot, and bring back with identical content.

The document is `ExportDocument`; docs/incident-export.schema.json is generated from it (`python -m
bot.core.export`) and a test keeps the file current. Its `sha256` is the SHA-256 of the canonical JSON of the
document without that field: keys sorted, no whitespace (separators `,` and `:`), non-ASCII as UTF-8
(`canonical()`). It is computed over the parsed value, so indentation and key order in the file do not matter.
The document holds no export time, so the same incident always exports to the same bytes. A store with a key
signs the same canonical JSON (`signature`, bot/core/export_signing.py) and imports only what it can verify.

Which audit records belong to an incident (`belonging`): those naming it (target `INC-n`, or an `incident`
argument), those made in its channel since it was declared, and every other step of the same attempts. The record
of an import is the importing store's own bookkeeping, not the incident's history: it never belongs.

An import never splices records into the target's hash-chained audit log: the records that came with the incident
are kept beside it (each checked against its own recorded hash first), and one new record says who imported
which file.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.config.catalog import Catalog
from bot.core.audit import AuditKey, AuditRecord, StoredAudit, record_hash
from bot.core.evidence import Bundle
from bot.core.export_signing import DocumentKeys, DocumentSignature
from bot.core.incidents import scrubbed_event
from bot.core.models import Event, EventKind, Incident
from bot.core.ops import new_attempt
from bot.core.ports import Store
from bot.core.redact import redact
from bot.errors import ConflictError, NotFound, UsageError

FORMAT = "opsbot-incident-export"
VERSION = 1
IMPORT_ACTION = "import"
SCHEMA_PATH = "docs/incident-export.schema.json"
_MAX_NUMBER = 10**9  # a sane range: numbers near a store's integer limit would stop every later declaration


class SeverityChange(BaseModel):
    at: datetime
    actor: str
    severity: str
    previous: str | None = None  # None: the severity it was declared with


class RoleChange(BaseModel):
    at: datetime
    actor: str
    role: str
    user: str
    previous: str | None = None


class ExportDocument(BaseModel):
    """One incident as opsbot exports it (`opsbot incident export`) and imports it (`opsbot incident import`).

    `sha256` is the SHA-256 (hex) of the canonical JSON of the document without `sha256` and `signature`: keys sorted, no
    whitespace (separators "," and ":"), non-ASCII characters as UTF-8. `roles`, `severity_history` and `evidence`
    are read from the timeline and must agree with it. Audit records keep their seq, prev_hash and hash from the
    log they were written in; each can be re-hashed on its own (HMAC records need that log's OPSBOT_AUDIT_KEY)."""

    model_config = ConfigDict(extra="forbid", title="opsbot incident export")

    format: Literal["opsbot-incident-export"]
    version: Literal[1]
    incident: Incident = Field(description="the incident, with its current roles and action items")
    roles: list[RoleChange] = Field(description="every role assignment, from the timeline")
    severity_history: list[SeverityChange] = Field(description="the declared severity, then each change")
    timeline: list[Event] = Field(description="every timeline event, oldest first")
    audit: list[AuditRecord] = Field(description="the audit records that belong to the incident")
    evidence: list[Bundle] = Field(description="the manifest of every evidence bundle, from the timeline")
    sha256: str = Field(pattern="^[0-9a-f]{64}$",
                        description="SHA-256 of the canonical JSON without this field and `signature`")
    signature: DocumentSignature | None = Field(default=None, description="present when the exporting store has a "
                                                "key; a store with a key imports only documents it can verify")


# --- export -----------------------------------------------------------------------------------
def export_documents(store: Store, incidents: list[Incident], keys: DocumentKeys | None = None) -> list[dict]:
    """The sealed documents of these incidents; the audit log is read twice, whatever the number of incidents."""
    timelines = {incident.number: [e.model_copy(update={"at": e.at.astimezone(UTC)})
                                   for e in store.timeline(incident.number)] for incident in incidents}
    # An action done for the incident (its channel or --incident) names its attempt on the timeline: that decides.
    linked = {str(e.data["attempt"]): number for number, events in timelines.items() for e in events
              if e.kind is EventKind.OPS and e.data.get("attempt")}
    owned = belonging(lambda: (row for row in store.iter_audit()), incidents, linked)
    documents = []
    for incident in incidents:
        events = timelines[incident.number]
        audit = store.archived_audit(incident.number) + owned[incident.number]
        documents.append(seal(_document(incident, events, audit), keys))
    return documents


def _document(incident: Incident, events: list[Event], audit: list[AuditRecord]) -> dict:
    return {
        "format": FORMAT, "version": VERSION,
        "incident": incident.model_dump(mode="json", exclude={"version"}),  # the store's lock counter, not content
        "roles": [r.model_dump(mode="json") for r in role_history(events)],
        "severity_history": [s.model_dump(mode="json") for s in severity_history(events)],
        "timeline": [e.model_dump(mode="json") for e in events],
        "audit": [r.model_dump(mode="json") for r in audit],
        "evidence": [b.model_dump(mode="json") for b in bundles(events)],
    }


def belonging(rows: Callable[[], Iterator[StoredAudit]], incidents: list[Incident],
              linked: dict[str, int] | None = None) -> dict[int, list[AuditRecord]]:
    """Each incident's audit records, in log order. Two passes: the first finds the attempts that name an incident
    or ran in its channel, the second takes every step of those attempts (a confirmation can come from elsewhere)."""
    by_ref = {incident.id: incident.number for incident in incidents}
    by_channel: dict[str, list[Incident]] = {}
    for incident in sorted(incidents, key=lambda i: i.declared_at):
        if incident.channel:
            by_channel.setdefault(incident.channel, []).append(incident)
    attempts: dict[str, int] = dict(linked or {})
    for row in rows():
        record = row.record
        number = _claim(record, by_ref, by_channel)
        if number is not None:
            attempts.setdefault(record.attempt, number)
    owned: dict[int, list[AuditRecord]] = {incident.number: [] for incident in incidents}
    for row in rows():
        record = row.record
        if record.attempt in attempts and record.action != IMPORT_ACTION:
            owned[attempts[record.attempt]].append(record)
    return owned


def _claim(record: AuditRecord, by_ref: dict[str, int], by_channel: dict[str, list[Incident]]) -> int | None:
    if record.action == IMPORT_ACTION:
        return None
    for ref in (record.target, record.args.get("incident")):
        if isinstance(ref, str) and ref in by_ref:
            return by_ref[ref]
    # made in an incident's channel after it was declared: the newest incident bound to the channel by then
    earlier = [i for i in by_channel.get(record.channel or "", []) if i.declared_at <= record.at]
    return earlier[-1].number if earlier else None


def role_history(events: list[Event]) -> list[RoleChange]:
    return [RoleChange(at=e.at, actor=e.actor, role=e.data["role"], user=e.data["user"],
                       previous=e.data.get("previous"))
            for e in events if e.kind is EventKind.ROLE and "role" in e.data and "user" in e.data]


def severity_history(events: list[Event]) -> list[SeverityChange]:
    changes = []
    for e in events:
        if e.kind is EventKind.DECLARED and "severity" in e.data:
            changes.append(SeverityChange(at=e.at, actor=e.actor, severity=e.data["severity"]))
        elif e.kind is EventKind.SEVERITY and "to" in e.data:
            changes.append(SeverityChange(at=e.at, actor=e.actor, severity=e.data["to"], previous=e.data.get("from")))
    return changes


def bundles(events: list[Event]) -> list[Bundle]:
    return [Bundle.model_validate(e.data["bundle"]) for e in events
            if e.kind is EventKind.EVIDENCE and "bundle" in e.data]


def canonical(document: dict) -> bytes:
    """What `sha256` and the signature are computed over: the document without them, as canonical JSON in UTF-8."""
    body = {key: value for key, value in document.items() if key not in ("sha256", "signature")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(document: dict, keys: DocumentKeys | None = None) -> dict:
    """The document with its sha256 and, when the store has a key, its signature."""
    body = canonical(document)
    sealed = {key: value for key, value in document.items() if key not in ("sha256", "signature")}
    signature = (keys or DocumentKeys()).sign(body)
    return {**sealed, "sha256": hashlib.sha256(body).hexdigest(), **({"signature": signature} if signature else {})}


def to_text(document: dict) -> str:
    """The file's text: indented for people, keys sorted so two exports diff cleanly."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def json_filename(number: int) -> str:
    return f"INC-{number}.json"


def postmortem_filename(number: int) -> str:
    return f"INC-{number}.postmortem.md"


# --- import -----------------------------------------------------------------------------------
@dataclass
class Checked:
    """A file that passed every check, ready to be written."""

    name: str
    document: ExportDocument
    sha256: str
    unchecked: int = 0  # HMAC records whose key is not here: their links were checked, not their HMACs


def check_export(name: str, data: bytes, key: AuditKey | None = None, keys: DocumentKeys | None = None) -> Checked:
    """Parse and verify one file; UsageError naming the file and the first problem."""
    def refuse(reason: str) -> UsageError:
        return UsageError(f"{name}: {reason}; nothing was imported.")

    try:
        raw = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise refuse(f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except ValueError as exc:
        raise refuse(str(exc)) from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise refuse(f"not an opsbot incident export (no \"format\": \"{FORMAT}\")")
    if raw.get("version") != VERSION:
        raise refuse(f"format version {raw.get('version')!r} is not one this opsbot reads ({VERSION})")
    recorded, computed = raw.get("sha256"), hashlib.sha256(canonical(raw)).hexdigest()
    if recorded != computed:
        raise refuse(f"its sha256 {str(recorded)[:64]!r} does not match its content ({computed}): the file was "
                     "changed after it was exported" if recorded else "it has no sha256")
    try:
        document = ExportDocument.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise refuse(f"{where}: {error['msg']}") from exc
    problem = (keys or DocumentKeys(hmac=key)).refusal(document.signature, canonical(raw)) or \
        _inconsistency(document, key)
    if problem:
        raise refuse(problem)
    unchecked = sum(r.keyed for r in document.audit) if key is None else 0
    return Checked(name, document, computed, unchecked)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    """Two values under one key: which one counts would depend on the reader, so neither does."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key \"{key}\" appears twice in one object")
        found[key] = value
    return found


def _inconsistency(document: ExportDocument, key: AuditKey | None) -> str | None:
    """The first part of a well-formed document that contradicts another (or its own recorded hash)."""
    incident, events = document.incident, document.timeline
    if not 0 < incident.number <= _MAX_NUMBER:
        return f"incident.number {incident.number} is not an incident number (1 to {_MAX_NUMBER:,})"
    for name in ("acknowledged_at", "mitigated_at", "resolved_at", "closed_at"):
        moment = getattr(incident, name)
        if moment is not None and moment < incident.declared_at:
            return f"incident.{name} is before the incident was declared: a negative duration"
    if incident.closed_at and incident.resolved_at and incident.closed_at < incident.resolved_at:
        return "incident.closed_at is before incident.resolved_at"
    stray = [e for e in events if e.incident != incident.number]
    if stray:
        return f"the timeline holds an event of INC-{stray[0].incident}, not of {incident.id}"
    for section, derived in (("roles", role_history(events)), ("severity_history", severity_history(events)),
                             ("evidence", bundles(events))):
        if getattr(document, section) != derived:
            return f"\"{section}\" does not match the timeline"
    for record in document.audit:
        if key is not None and not record.keyed:  # a forger holds no key: a keyed store takes only keyed records
            return (f"audit record {record.seq} (attempt {record.attempt}) is not authenticated with an "
                    "OPSBOT_AUDIT_KEY, and this store has one: it takes only authenticated records")
        if record.keyed and key is None:
            continue  # an HMAC needs the key of the log it was written in
        try:
            intact = record_hash(record, record.prev_hash, key) == record.hash
        except ValueError:
            intact = False
        if not intact and record.keyed:
            return (f"audit record {record.seq} (attempt {record.attempt}) does not match its HMAC under this "
                    "OPSBOT_AUDIT_KEY: it was changed after it was written, or written under another key")
        if not intact:
            return (f"audit record {record.seq} (attempt {record.attempt}) does not match its recorded hash: "
                    "it was changed after it was written")
    return None


@dataclass
class Imported:
    name: str
    incident: Incident
    events: int
    audit: int
    sha256: str
    unchecked: int


def import_documents(store: Store, catalog: Catalog, files: Iterable[tuple[str, bytes]], user: str,
                     clock: Callable[[], datetime], key: AuditKey | None = None,
                     keys: DocumentKeys | None = None) -> list[Imported]:
    """Every file is checked (content, hash, and that its number is free here) before any is written; each is then
    written in one transaction, with one audit record of the import."""
    checked = [check_export(name, data, key, keys) for name, data in files]
    seen: dict[int, str] = {}
    for item in checked:
        incident = item.document.incident
        if incident.number in seen:
            raise ConflictError(f"{item.name} and {seen[incident.number]} both hold {incident.id}; nothing was "
                                "imported.")
        seen[incident.number] = item.name
        if _exists(store, incident.number):
            raise ConflictError(f"{item.name}: {incident.id} already exists in this store, and an import never "
                                "overwrites; nothing was imported.")
        bound = store.incident_for_channel(incident.channel) if incident.channel else None
        if bound is not None:
            raise ConflictError(f"{item.name}: {incident.id}'s channel is already {bound.id}'s in this store; "
                                "nothing was imported.")
        if incident.severity not in catalog.severities:
            raise ConflictError(f"{item.name}: {incident.id} has severity '{incident.severity}', which this "
                                f"catalog does not define ({', '.join(catalog.severities)}); nothing was imported.")
    done = []
    for item in checked:
        document = item.document
        incident = document.incident
        text = f"{incident.id} imported from {item.name} (sha256 {item.sha256})"
        record = AuditRecord(at=clock(), attempt=new_attempt(), phase="succeeded", user=user,
                             command=redact(f"opsbot incident import {item.name}"), action=IMPORT_ACTION,
                             target=incident.id, args={"file": redact(item.name), "sha256": item.sha256,
                                                       "events": len(document.timeline),
                                                       "audit_records": len(document.audit)},
                             excerpt=redact(text))
        # A document from elsewhere passes the same redaction step as everything else that enters the store.
        timeline = [scrubbed_event(event) for event in document.timeline]
        stored = store.import_incident(incident, timeline, document.audit, item.sha256, record)
        done.append(Imported(item.name, stored, len(document.timeline), len(document.audit), item.sha256,
                             item.unchecked))
    return done


def _exists(store: Store, number: int) -> bool:
    try:
        store.get_incident(number)
    except NotFound:
        return False
    return True


def schema() -> dict:
    """The JSON Schema of the document, as docs/incident-export.schema.json holds it."""
    generated = ExportDocument.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_PATH, **generated}


if __name__ == "__main__":  # python -m bot.core.export > docs/incident-export.schema.json
    print(json.dumps(schema(), indent=2, sort_keys=True, ensure_ascii=False))
