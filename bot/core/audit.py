"""The tamper-evident audit log: one record per step of every ops attempt, chained by sha256.

Records are only ever appended. An attempt's steps (requested → confirmed → started → succeeded/failed)
share an attempt id; a started attempt with no outcome reads "outcome unknown" (e.g. after a crash).
Each record stores the hash of the previous one, so an edited, deleted or re-ordered record breaks the
chain at a place `verify` names.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Phase = Literal["requested", "denied", "dry_run", "confirmed", "approved", "started", "succeeded", "failed",
                "expired", "cancelled"]
OUTCOMES = ("denied", "dry_run", "succeeded", "failed", "expired", "cancelled")
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
    prev_hash: str = ""
    hash: str = ""


def record_hash(record: AuditRecord, prev_hash: str) -> str:
    fields = record.model_dump(mode="json", exclude={"hash", "prev_hash"})
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def chain(record: AuditRecord, seq: int, prev_hash: str) -> AuditRecord:
    linked = record.model_copy(update={"seq": seq, "prev_hash": prev_hash})
    return linked.model_copy(update={"hash": record_hash(linked, prev_hash)})


def verify(records: list[AuditRecord]) -> str | None:
    """None if the chain is intact, else a sentence naming the first bad record."""
    prev_hash, expected_seq = GENESIS, 1
    for record in records:
        if record.seq != expected_seq:
            return f"record {expected_seq} is missing (found {record.seq} after {expected_seq - 1}): deleted or re-ordered"
        if record.prev_hash != prev_hash:
            return f"record {record.seq} does not follow record {record.seq - 1}: re-ordered or a record before it changed"
        if record_hash(record, prev_hash) != record.hash:
            return f"record {record.seq} was edited after it was written"
        prev_hash, expected_seq = record.hash, expected_seq + 1
    return None


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
