"""The tamper-evident audit log: one record per step of every ops attempt, chained by sha256.

Records are only ever appended. An attempt's steps (requested → confirmed → started → succeeded/failed)
share an attempt id; a started attempt with no outcome reads "outcome unknown" (e.g. after a crash) until the
reconciliation records what it found (`reconciled`).
Each record stores the hash of the previous one, so an edited, deleted or re-ordered record breaks the
chain at a place `verify` names.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Phase = Literal["requested", "denied", "refused", "dry_run", "confirmed", "approved", "started", "succeeded", "failed",
                "expired", "cancelled", "reconciled"]
# reconciled: opsbot stopped between "started" and the outcome; what it found and did afterwards (bot/core/reconcile.py)
OUTCOMES = ("denied", "refused", "dry_run", "succeeded", "failed", "expired", "cancelled", "reconciled")
GENESIS = "0" * 64


class AuditRecord(BaseModel):
    seq: int = 0
    at: datetime
    attempt: str
    phase: Phase
    user: str
    channel: str | None = None
    command: str = ""
    env: str | None = None
    action: str = ""
    target: str | None = None
    args: dict = Field(default_factory=dict)
    duration_ms: int | None = None
    output_sha256: str | None = None
    excerpt: str | None = None
    keyed: bool = False  # the hash is an HMAC under OPSBOT_AUDIT_KEY
    incident: int | None = None  # the incident the attempt was made for (its outcome goes on that timeline)
    prev_hash: str = ""
    hash: str = ""


class AuditKey:
    """Authenticates records with HMAC-SHA256 under a key kept outside the database (OPSBOT_AUDIT_KEY): without
    it, a rewritten record cannot be given a valid hash, even by someone who recomputes the whole chain."""

    def __init__(self, secret: str | bytes):
        self._secret = secret.encode() if isinstance(secret, str) else secret
        if len(self._secret) < 16:
            raise ValueError("OPSBOT_AUDIT_KEY must be at least 16 characters")

    def digest(self, data: bytes) -> str:
        return hmac.digest(self._secret, data, "sha256").hex()


def record_hash(record: AuditRecord, prev_hash: str, key: AuditKey | None = None) -> str:
    return _fields_hash(record.model_dump(mode="json"), prev_hash, key)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _fields_hash(fields: dict, prev_hash: str, key: AuditKey | None) -> str:
    """The hash over a record's JSON fields (consumed: the dict is changed). `keyed` and `incident` joined the record
    later: left out while false or null, so records written before them keep their hashes."""
    keyed = bool(fields.get("keyed"))
    fields.pop("hash", None)
    fields.pop("prev_hash", None)
    if not keyed:
        fields.pop("keyed", None)
    if fields.get("incident") is None:
        fields.pop("incident", None)
    canonical = (prev_hash + _CANONICAL.encode(fields)).encode()
    if keyed:
        if key is None:
            raise ValueError("a keyed record needs the key")
        return key.digest(canonical)
    return hashlib.sha256(canonical).hexdigest()


def chain(record: AuditRecord, seq: int, prev_hash: str, key: AuditKey | None = None) -> AuditRecord:
    linked = record.model_copy(update={"seq": seq, "prev_hash": prev_hash, "keyed": key is not None})
    return linked.model_copy(update={"hash": record_hash(linked, prev_hash, key)})


@dataclass(frozen=True)
class Head:
    """A checkpoint: the record `seq` has hash `hash`. Kept outside the database, it proves the log reached it."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        seq, sep, digest = text.strip().partition(":")
        if not sep or not seq.isascii() or not seq.isdigit() or len(digest) != 64 or \
                any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"'{text.strip()[:80]}' is not a checkpoint; use SEQ:HASH as `opsbot audit head` prints it")
        return cls(int(seq), digest)


@dataclass(frozen=True)
class StoredAudit:
    """One audit row as stored: the indexed columns beside the record's JSON, so verification covers every column
    (and reads the JSON directly: a million records verify without building a million models)."""

    seq: int
    at: datetime | None  # None: the stored time is not a time (edited)
    attempt: str
    hash: str
    doc: str

    @property
    def record(self) -> AuditRecord:
        return AuditRecord.model_validate_json(self.doc)


@dataclass
class Verification:
    records: int = 0
    problem: str | None = None  # the first bad record and what is wrong with it
    unchecked: list[str] = field(default_factory=list)  # what could not be checked, and why
    head: Head | None = None
    key_missing: bool = False  # records are HMAC-keyed and no key was given: their contents were not authenticated

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_stream(rows: Iterable[StoredAudit], key: AuditKey | None = None,
                  checkpoints: Iterable[Head] = (), keyed_from: int = 1) -> Verification:
    """Check the log in one pass, holding one record at a time: order, links, every column, hashes (HMAC with the
    key), and that the log still reaches every checkpoint. Stops at the first problem. With a key, every record
    from `keyed_from` on must be authenticated (records before it predate the key)."""
    result = Verification()
    expected = {head.seq: head.hash for head in checkpoints}
    prev_hash, keyed_seen, unkeyed = GENESIS, False, 0
    for row in rows:
        seq = result.records + 1
        try:
            fields = json.loads(row.doc)
        except (TypeError, ValueError):
            fields = None
        if not isinstance(fields, dict):
            result.problem = f"record {seq} was edited: it is no longer a readable record"
            return result
        keyed = bool(fields.get("keyed"))
        problem = _row_problem(row, fields, seq, prev_hash)
        if problem is None and keyed and key is not None and _fields_hash(fields, prev_hash, key) != row.hash:
            problem = f"record {seq} was edited after it was written (its HMAC does not match)"
        if problem is None and not keyed:
            if key is not None and seq >= keyed_from:
                problem = (f"record {seq} is not authenticated with OPSBOT_AUDIT_KEY: rewritten, or written before "
                           "the key was set (then say where keyed records begin: --keyed-from SEQ)")
            elif keyed_seen:
                problem = f"record {seq} is not authenticated although records before it are: rewritten"
            elif _fields_hash(fields, prev_hash, None) != row.hash:
                problem = f"record {seq} was edited after it was written"
            unkeyed += 1
        if problem is None and seq in expected and expected[seq] != row.hash:
            problem = f"record {seq} is not the one checkpointed ({seq}:{expected[seq][:12]}…): the log was rewritten"
        if problem is not None:
            result.problem = problem
            return result
        keyed_seen = keyed_seen or keyed
        prev_hash, result.records, result.head = row.hash, seq, Head(seq, row.hash)
    beyond = sorted(seq for seq in expected if seq > result.records)
    if beyond:
        result.problem = (f"the log ends at record {result.records}, but a checkpoint says record {beyond[-1]} "
                          "existed: records were deleted from the end")
        return result
    if keyed_seen and key is None:
        result.key_missing = True
        result.unchecked.append("records are authenticated with OPSBOT_AUDIT_KEY, which is not set here: their links "
                                "were checked, not their HMACs")
    if unkeyed and key is not None:
        result.unchecked.append(f"{unkeyed} records were written without a key (before OPSBOT_AUDIT_KEY was set): "
                                "checked by hash only")
    if not expected:
        result.unchecked.append("no checkpoint to compare with: records cut off the end cannot be detected "
                                "(set OPSBOT_AUDIT_WITNESS or pass --head SEQ:HASH)")
    elif not keyed_seen and result.records > max(expected):
        result.unchecked.append(f"records {max(expected) + 1} to {result.records} came after the last checkpoint and "
                                "carry no HMAC: a record appended by someone else would look the same")
    return result


def _row_problem(row: StoredAudit, fields: dict, seq: int, prev_hash: str) -> str | None:
    if row.seq != seq or fields.get("seq") != seq:
        return f"record {seq} is missing (found {row.seq} after {seq - 1}): deleted or re-ordered"
    if fields.get("prev_hash") != prev_hash:
        return f"record {seq} does not follow record {seq - 1}: re-ordered or a record before it changed"
    try:
        at = datetime.fromisoformat(fields["at"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return f"record {seq} was edited: its time is not a time"
    if row.at != at or row.attempt != fields.get("attempt") or row.hash != fields.get("hash"):
        return f"record {seq} was edited: its stored columns (time, attempt or hash) differ from the record"
    return None


def verify(records: list[AuditRecord]) -> str | None:
    """None if the chain of these records is intact, else a sentence naming the first bad record."""
    rows = (StoredAudit(r.seq, r.at, r.attempt, r.hash, r.model_dump_json()) for r in records)
    return verify_stream(rows).problem


def attempts(records: list[AuditRecord]) -> list[list[AuditRecord]]:
    """Group records by attempt, in order of each attempt's first record."""
    grouped: dict[str, list[AuditRecord]] = {}
    for record in records:
        grouped.setdefault(record.attempt, []).append(record)
    return list(grouped.values())


def outcome(steps: list[AuditRecord]) -> str:
    last = steps[-1].phase
    if last in OUTCOMES:
        return last
    if last == "started":
        return "outcome unknown"
    return "pending" if last in ("requested", "confirmed", "approved") else last
