"""Writing evidence into a bundle: every item streamed through redaction and hashing as it arrives, all items at
once (up to `concurrency`) within one time budget, each cut — and saying why — at the item or bundle cap, at the
deadline, or where its source broke off. A collector that fails is a failed item, never a failed bundle."""
from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import BinaryIO

from bot.config.environments import EvidenceLimits
from bot.core.evidence_bundle import Bundle, BundleWriter, Collected, EvidenceItem, Job
from bot.core.models import Incident
from bot.core.redact import default_redactor, redact_counted


class Allowance:
    """The bundle's byte cap, shared by items written at once in several threads."""

    def __init__(self, total: int):
        self.left, self._lock = total, threading.Lock()

    def take(self, wanted: int) -> int:
        with self._lock:
            granted = min(wanted, self.left)
            self.left -= granted
            return granted


async def write_all(jobs: list[Job], writer: BundleWriter, limits: EvidenceLimits, user: str,
                    now: datetime) -> list[EvidenceItem]:
    """Every job at once (up to `concurrency`), each item streamed through redaction and hashing into the
    bundle as it arrives, all within one time budget."""
    deadline = time.monotonic() + limits.time_budget_s
    allowance = Allowance(limits.max_bundle_bytes)
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
                item = EvidenceItem(name=piece.name, collector=piece.collector, source=piece.source,
                                    collected_at=now, collected_by=user)
                items.append(await asyncio.to_thread(write_item, piece, writer, limits, allowance, deadline, item))
            return items

    results = await asyncio.gather(*(run(job) for job in jobs))
    return [item for items in results for item in items]


def write_item(piece: Collected, writer: BundleWriter, limits: EvidenceLimits, allowance: Allowance,
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


class _SourceBroke(Exception):
    pass


def _source(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The item's stream, its failures told apart from the bundle's own (a full disk must not pass for a log
    that broke off)."""
    try:
        yield from chunks
    except Exception as error:
        raise _SourceBroke(str(error) or type(error).__name__) from error


def _unique(name: str, taken: set[str]) -> str:
    """Two containers of one service could map to one file name; the second gets a suffix, never the first's file."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
    taken.add(candidate)
    return candidate


def manifest(incident: Incident, bundle: Bundle) -> bytes:
    document = {"incident": incident.id, "bundle": bundle.ref, "env": bundle.env,
                "created_at": bundle.created_at.isoformat(), "created_by": bundle.created_by,
                "items": [item.model_dump(mode="json") for item in bundle.items]}
    return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
