"""Incidents imported from another store (`opsbot incident import`), on both backends: written whole under their
own number, the audit records they brought kept beside them (append-only), one record of the import in the log."""
from __future__ import annotations

import pytest

from bot.core.audit import AuditRecord
from bot.errors import ConflictError
from tests.contract.test_store import T0, event, new_incident


def test_an_imported_incident_keeps_its_number_and_the_counter_moves_past_it(store):
    kept = AuditRecord(at=T0, attempt="a-1", phase="succeeded", user="U_ALICE", action="evidence", target="INC-5",
                       seq=4, prev_hash="a" * 64, hash="b" * 64)
    record = AuditRecord(at=T0, attempt="a-2", phase="succeeded", user="U_MOVER", action="import", target="INC-5")
    imported = store.import_incident(new_incident().model_copy(update={"number": 5}), [event("declared")], [kept],
                                     "c" * 64, record)
    assert (imported.number, imported.version) == (5, 1)
    assert [e.text for e in store.timeline(5)] == ["declared"] and store.archived_audit(5) == [kept]
    assert store.archived_audit(4) == [] and store.create_incident(new_incident(), []).number == 6
    assert [(r.seq, r.action) for r in store.audit_records()] == [(1, "import")]

    with pytest.raises(ConflictError, match="INC-5 already exists here"):
        store.import_incident(imported, [event("again")], [], "d" * 64, record)
    assert [e.text for e in store.timeline(5)] == ["declared"] and len(store.audit_records()) == 1
    with pytest.raises(Exception, match="append-only"), store._write() as db:
        db.execute("UPDATE incident_archive SET audit = '[]' WHERE incident = 5")
    with pytest.raises(Exception, match="append-only"), store._write() as db:
        db.execute("DELETE FROM incident_archive WHERE incident = 5")
    assert store.archived_audit(5) == [kept]
