"""The audit side of the ops service: redacted records of every step of an attempt, written (with the attempt's
timeline event, when it is for an incident) in one transaction, and the log's head anchored outside the database."""
from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.core.audit import AuditRecord, Head, Phase
from bot.core.audit_signing import Checkpoint, SigningKey
from bot.core.incidents import scrubbed_event
from bot.core.ops_events import TIMELINE_PHASES, action_event
from bot.core.ports import Witness
from bot.core.redact import redact, redact_nested
from bot.core.requests import Actor

EXCERPT_CHARS = 1500
SCHEDULER = "scheduler"  # the audit log's actor for what a schedule runs (and the reconciliation)
log = logging.getLogger("opsbot.ops")


class AuditTrail:
    """Mixed into OpsService: it provides `store`, `clock` and `witnesses`."""

    store: Any
    witnesses: Sequence[Witness]
    clock: Callable[[], datetime]
    signer: SigningKey | None
    anchored: Head | None

    def checkpoint(self, record: AuditRecord | None = None) -> Head | None:
        """Anchor the audit log's head outside the database, signed when there is a signing key (after each
        dangerous action; by the scheduler leader within a minute of any new record, hourly, and on a clean
        shutdown). A witness that fails is logged, never fatal: the action has happened and is recorded."""
        head = Head(record.seq, record.hash) if record is not None else self.store.audit_head()
        if head is None or not self.witnesses:
            return head
        checkpoint = Checkpoint.make(head, self.clock(), self.signer)
        for witness in self.witnesses:
            try:
                witness(checkpoint)
            except Exception:
                log.warning("an audit checkpoint witness failed for %s", head, exc_info=True)
        if self.anchored is None or head.seq >= self.anchored.seq:
            self.anchored = head
        return head

    def anchor_new(self) -> Head | None:
        """Anchor the head if records were appended since this process last anchored one (batched: one
        checkpoint for every record since), else nothing."""
        head = self.store.audit_head()
        if head is None or head == self.anchored:
            return None
        return self.checkpoint()

    def _audit(self, actor: Actor, attempt: str, phase: Phase, env: str | None, action: str, target: str | None,
               args: dict, output: str | None = None, excerpt: str | None = None,
               duration_ms: int | None = None) -> AuditRecord:
        record = self.audit_record(actor, attempt, phase, env, action, target, args, output, excerpt, duration_ms)
        if actor.incident is None or phase not in TIMELINE_PHASES:
            return self.store.append_audit(record)
        # Each attempt's outcome goes on the incident's timeline in the same transaction as its audit record.
        return self.store.append_audit(record, (actor.incident, scrubbed_event(action_event(record))))

    def audit_record(self, actor: Actor, attempt: str, phase: Phase, env: str | None, action: str,
                     target: str | None, args: dict, output: str | None = None, excerpt: str | None = None,
                     duration_ms: int | None = None) -> AuditRecord:
        """A redacted record, for callers that append it inside their own transaction."""
        text = excerpt if output is None else output
        return AuditRecord(
            at=self.clock(), attempt=attempt, phase=phase, user=actor.user, channel=actor.channel,
            command=redact(actor.command), env=env, action=action, target=target,
            args=redact_nested(args),  # a parameter named as a secret (password=…) is masked whatever its value
            duration_ms=duration_ms,
            output_sha256=hashlib.sha256(output.encode()).hexdigest() if output is not None else None,
            excerpt=redact(text)[-EXCERPT_CHARS:] if text else None, incident=actor.incident,
        )



def new_attempt() -> str:
    return "a-" + secrets.token_hex(6)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


