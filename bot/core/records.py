"""Read models every surface shows the same way: the post-mortem draft and the export documents. A slash command,
the CLI and (later) the web view call these; none of them assembles a record itself."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from bot.config.catalog import Catalog
from bot.core.audit import AuditKey, Head, StoredAudit, Verification, verify_stream
from bot.core.audit_signing import Checkpoint, VerifyKey, check_signatures
from bot.core.evidence import EvidenceService
from bot.core.export import ExportDocument, Imported, export_documents, import_documents
from bot.core.export_signing import DocumentKeys
from bot.core.models import Incident
from bot.core.ports import Store
from bot.core.postmortem import postmortem_filename, render_postmortem
from bot.core.search import NOBODY, SearchService
from bot.errors import NotFound


@dataclass(frozen=True)
class PostmortemDraft:
    incident: Incident
    filename: str  # YYYY-MM-DD-inc-<n>-<slug>.md, as the runbooks file them
    text: str  # Markdown


@dataclass(frozen=True)
class ExportedIncident:
    number: int
    document: dict  # the sealed export document (bot/core/export.py)
    postmortem: str  # the draft rendered from the document itself: the two always agree


class Records:
    def __init__(self, store: Store, catalog: Catalog, evidence: EvidenceService, clock: Callable[[], datetime],
                 keys: DocumentKeys | None = None, search: SearchService | None = None):
        self.store, self.catalog, self.evidence, self.clock = store, catalog, evidence, clock
        self.search = search  # the draft lists similar past incidents
        self.keys = keys or DocumentKeys()  # exports are signed with them; imports must verify under them

    def postmortem(self, incident: Incident | int) -> PostmortemDraft:
        """The draft from the timeline (read once) and the health kept at declaration and resolution."""
        incident = self.store.get_incident(incident) if isinstance(incident, int) else incident
        # A draft is shared widely: it names no private incident but itself.
        similar = self.search.similar(incident, NOBODY) if self.search is not None else []
        text = render_postmortem(incident, self.store.timeline(incident.number), self.catalog, now=self.clock(),
                                 snapshots=self.evidence.health_snapshots(incident.number), similar=similar)
        return PostmortemDraft(incident, postmortem_filename(incident), text)

    def incident_numbers(self) -> list[int]:
        return sorted(i.number for i in self.store.list_incidents(include_closed=True, limit=2**31))

    def export(self, number: int | None = None) -> list[ExportedIncident]:
        """One incident (NotFound naming what the store has), or every one (None), oldest first."""
        if number is None:
            chosen = sorted(self.store.list_incidents(include_closed=True, limit=2**31), key=lambda i: i.number)
        else:
            try:
                chosen = [self.store.get_incident(number)]
            except NotFound as exc:
                raise NotFound(f"There is no incident INC-{number}; {self._which()}.") from exc
        exported = []
        for document in export_documents(self.store, chosen, self.keys):
            parsed = ExportDocument.model_validate(document)
            exported.append(ExportedIncident(parsed.incident.number, document,
                                             render_postmortem(parsed.incident, parsed.timeline, self.catalog)))
        return exported

    def import_documents(self, files: Iterable[tuple[str, bytes]], user: str) -> list[Imported]:
        """Restore exported incidents; a malformed, changed, unsigned (in a store with a key) or clashing document
        is refused whole."""
        return import_documents(self.store, self.catalog, files, user, self.clock, self.keys.hmac, self.keys)

    # --- the audit log ----------------------------------------------------------------------------------------
    def audit_head(self) -> Head | None:
        return self.store.audit_head()

    def audit_rows(self) -> Iterator[StoredAudit]:
        """Every record, oldest first, streamed (one batch in memory at a time)."""
        return self.store.iter_audit()

    def verify_audit(self, key: AuditKey | None, checkpoints: list[Checkpoint], keyed_from: int = 1,
                     public_key: VerifyKey | None = None) -> Verification:
        """The log against its key and every checkpoint; with the public key, the checkpoints' signatures first."""
        checked = check_signatures(checkpoints, public_key)
        if checked.problem is not None:
            return Verification(problem=checked.problem)
        result = verify_stream(self.store.iter_audit(), key, checked.heads, keyed_from=keyed_from)
        result.unchecked.extend(checked.notes)
        return result

    def _which(self) -> str:
        numbers = self.incident_numbers()
        if not numbers:
            return "this store has no incidents"
        if len(numbers) <= 10:
            return "this store has " + ", ".join(f"INC-{n}" for n in numbers)
        return f"this store has {len(numbers)} incidents, INC-{numbers[0]} to INC-{numbers[-1]}"
