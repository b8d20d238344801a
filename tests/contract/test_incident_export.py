"""Incident export and import against real stores: a rich incident goes SQLite → PostgreSQL → SQLite and comes
out byte for byte the same; a changed, malformed, inconsistent or clashing file is refused and nothing is written."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from bot.app import build_services
from bot.config import Catalog
from bot.core.audit import AuditKey, AuditRecord, verify_stream
from bot.core.audit_signing import SigningKey
from bot.core.export import (
    SCHEMA_PATH,
    export_documents,
    import_documents,
    schema,
    seal,
    to_text,
)
from bot.core.export_signing import DocumentKeys
from bot.core.models import Incident
from bot.errors import ConflictError, UsageError
from bot.store import open_store
from commands.base import Context
from commands.router import Router
from tests.conftest import Clock

ROOT = Path(__file__).resolve().parents[2]
WAR_ROOM = Context(user="U_ALICE", channel="C_WAR", source="console")
SECRET = "AKIAIOSFODNN7EXAMPLE"  # an AWS access key id: redacted before it is stored


def catalog() -> Catalog:
    return Catalog.model_validate({"environments": {"prod": {"evidence": {"collectors": ["timeline", "audit"]}}},
                                   "roles": {"prod": {"responder": ["U_ALICE", "U_BOB"]}}})


def rich_incident(url: str, tmp_path: Path) -> None:
    """INC-1 with roles, a severity change, notes, an action item, a resolution, an evidence bundle from the record,
    and audit records: one naming it, an attempt begun in its channel and confirmed elsewhere, and one that is not
    its own. INC-2 is there so that nothing of it leaks into INC-1's export."""
    clock = Clock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    store = open_store(url)
    try:
        services = build_services(store, catalog(), clock=clock, evidence_dir=tmp_path / "evidence")
        router = Router(services)

        def run(text: str, context: Context = WAR_ROOM) -> None:
            reply = router.handle("/incident", text, context)
            assert reply.ok, reply.text
            clock.advance(minutes=3)

        run("open p2 Checkout errors at the café --impact \"payments fail\" --env prod")
        services.incidents.attach_channel(1, "U_ALICE", "C_WAR", "inc-1-checkout", None)
        run("open p3 Unrelated slowness --env prod", Context(user="U_BOB", channel=None, source="console"))
        run("ack INC-1")
        run("sev INC-1 p1")
        run("role INC-1 scribe @U_BOB")
        run(f"note INC-1 pool exhausted; key {SECRET} was in the log")
        run("action INC-1 add \"alert on pool > 80%\" @U_BOB due 2026-12-01")
        for attempt, phase, channel, target in (("a-war", "requested", "C_WAR", "api"),
                                                ("a-war", "confirmed", None, "api"),
                                                ("a-other", "succeeded", "C_ELSEWHERE", "INC-2")):
            store.append_audit(AuditRecord(at=clock(), attempt=attempt, phase=phase, user="U_ALICE", channel=channel,
                                           env="prod", action="restart", target=target))
        run("evidence INC-1 collect --only timeline,audit")
        run("resolve INC-1 leaking worker fixed in v1.4.2")
    finally:
        store.close()


def export_all(url: str) -> list[dict]:
    store = open_store(url)
    try:
        return export_documents(store, sorted(store.list_incidents(include_closed=True), key=lambda i: i.number))
    finally:
        store.close()


def import_into(url: str, files: list[tuple[str, bytes]], catalog_: Catalog | None = None):
    store = open_store(url)
    try:
        return import_documents(store, catalog_ or catalog(), files, "U_MOVER", Clock())
    finally:
        store.close()


def as_file(document: dict, name: str = "INC-1.json") -> tuple[str, bytes]:
    return name, to_text(document).encode()


@pytest.fixture
def exported(sqlite_url, tmp_path) -> list[dict]:
    rich_incident(sqlite_url, tmp_path)
    return export_all(sqlite_url)


def test_round_trip_sqlite_postgres_sqlite_is_byte_for_byte_the_same(exported, pg_url, tmp_path):
    files = [as_file(d, f"INC-{d['incident']['number']}.json") for d in exported]
    imported = import_into(pg_url, files)
    assert [(i.incident.id, i.sha256) for i in imported] == [("INC-1", exported[0]["sha256"]),
                                                             ("INC-2", exported[1]["sha256"])]
    from_pg = export_all(pg_url)
    assert [to_text(d) for d in from_pg] == [to_text(d) for d in exported]

    back = f"sqlite:///{tmp_path}/back.db"
    import_into(back, [as_file(d, f"INC-{d['incident']['number']}.json") for d in from_pg])
    assert [to_text(d) for d in export_all(back)] == [to_text(d) for d in exported]

    store = open_store(pg_url)
    try:  # the target's chain is intact, extended by one record per import; its counter moved past the numbers
        records = store.audit_records()
        assert [(r.action, r.target, r.args["sha256"]) for r in records] == [
            ("import", "INC-1", exported[0]["sha256"]), ("import", "INC-2", exported[1]["sha256"])]
        assert records[0].user == "U_MOVER" and "INC-1 imported from INC-1.json" in (records[0].excerpt or "")
        assert verify_stream(store.iter_audit()).ok
        opened = build_services(store, catalog()).incidents.open("U_ALICE", "p3", "After the move")
        assert opened.number == 3
    finally:
        store.close()


def test_the_document_holds_the_whole_history_and_matches_its_schema(exported):
    document = exported[0]
    jsonschema.validate(document, schema())
    assert document["incident"]["title"] == "Checkout errors at the café"
    assert document["incident"]["roles"] == {"commander": "U_ALICE", "scribe": "U_BOB"}
    assert document["incident"]["resolution"] == "leaking worker fixed in v1.4.2"
    assert [i["text"] for i in document["incident"]["action_items"]] == ["alert on pool > 80%"]
    assert [(s["severity"], s["previous"]) for s in document["severity_history"]] == [("P2", None), ("P1", "P2")]
    assert [(r["role"], r["user"]) for r in document["roles"]] == [("commander", "U_ALICE"), ("scribe", "U_BOB")]
    assert {e["kind"] for e in document["timeline"]} >= {"declared", "severity", "role", "note", "action_added",
                                                         "evidence", "status"}
    (bundle,) = document["evidence"]
    assert {item["name"] for item in bundle["items"]} == {"timeline.jsonl", "audit.jsonl"}
    # its own: the attempt begun in its channel (both steps) and the evidence record naming it; not INC-2's
    assert [(r["attempt"], r["phase"]) for r in document["audit"] if r["attempt"] == "a-war"] == [
        ("a-war", "requested"), ("a-war", "confirmed")]
    # and every change of its course (ack, severity, role, resolve), audited as it happened
    assert [(r["action"], r["target"]) for r in document["audit"] if r["attempt"] != "a-war"] == [
        ("incident.ack", "INC-1"), ("incident.severity", "INC-1"), ("incident.role", "INC-1"), ("evidence", "INC-1"),
        ("incident.resolve", "INC-1")]
    assert all(r["target"] != "INC-2" for r in document["audit"])
    text = to_text(document)
    assert SECRET not in text and "Unrelated slowness" not in text


def test_the_schema_file_is_current():
    on_disk = json.loads((ROOT / SCHEMA_PATH).read_text())
    assert on_disk == schema(), f"regenerate it: .venv/bin/python -m bot.core.export > {SCHEMA_PATH}"
    assert "canonical JSON of the document without `sha256`" in on_disk["description"]


def assert_nothing_written(url: str) -> None:
    store = open_store(url)
    try:
        assert store.list_incidents(include_closed=True) == [] and store.audit_head() is None
    finally:
        store.close()


def test_one_changed_character_is_refused_by_the_hash(exported, pg_url):
    text = to_text(exported[0]).replace("leaking worker", "leaking wörker", 1)
    with pytest.raises(UsageError, match=r"INC-1.json: its sha256 .* does not match its content .* changed after "
                                         r"it was exported; nothing was imported"):
        import_into(pg_url, [("INC-1.json", text.encode())])
    assert_nothing_written(pg_url)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda d: next(r for r in d["audit"] if r["attempt"] == "a-war").update(user="U_MALLORY"),
     r"audit record \d+ \(attempt a-war\) does not match its recorded hash"),
    (lambda d: d["severity_history"].pop(), r"\"severity_history\" does not match the timeline"),
    (lambda d: d["timeline"][0].update(at="yesterday"), r"timeline.0.at: Input should be a valid datetime"),
    (lambda d: d["timeline"][0].update(incident=2), r"the timeline holds an event of INC-2, not of INC-1"),
    (lambda d: d.update(extra=1), r"extra: Extra inputs are not permitted"),
    (lambda d: d["incident"].update(number=2**63 - 1),
     r"incident.number 9223372036854775807 is not an incident number \(1 to 1,000,000,000\)"),
    (lambda d: d["incident"].update(resolved_at="2026-11-19T00:00:00Z"),
     r"incident.resolved_at is before the incident was declared: a negative duration"),
])
def test_a_resealed_file_that_contradicts_itself_is_refused(exported, sqlite_url, tmp_path, change, reason):
    document = json.loads(json.dumps(exported[0]))
    change(document)
    target = f"sqlite:///{tmp_path}/target.db"
    with pytest.raises(UsageError, match=reason):
        import_into(target, [as_file(seal(document))])
    assert_nothing_written(target)


def test_an_incident_whose_channel_is_already_another_incidents_here_is_refused(exported, tmp_path):
    target = f"sqlite:///{tmp_path}/target.db"
    store = open_store(target)
    try:
        store.migrate()
        taken = store.create_incident(Incident(title="Here first", severity="P2", opened_by="U_BOB",
                                               declared_at=datetime(2026, 11, 1, tzinfo=UTC), channel="C_WAR"), [])
        assert taken.number == 1
    finally:
        store.close()
    document = json.loads(json.dumps(exported[0]))
    document["incident"]["number"] = 7
    for event in document["timeline"]:
        event["incident"] = 7
    with pytest.raises(ConflictError, match="INC-7's channel is already INC-1's in this store; nothing was imported"):
        import_into(target, [as_file(seal(document))])


@pytest.mark.parametrize(("data", "reason"), [
    (b"{\"format\": ", r"not JSON \(line 1, column 12: Expecting value\)"),
    (b"\xff\xfe", r"not UTF-8 text"),
    (b"[1, 2]", r"not an opsbot incident export"),
    (b'{"format": "opsbot-incident-export", "format": "x"}', r"the key \"format\" appears twice"),
    (b'{"format": "opsbot-incident-export", "version": 9}', r"format version 9 is not one this opsbot reads"),
    (b'{"format": "opsbot-incident-export", "version": 1}', r"it has no sha256"),
])
def test_a_malformed_file_is_refused_with_the_reason(tmp_path, data, reason):
    target = f"sqlite:///{tmp_path}/target.db"
    with pytest.raises(UsageError, match=reason):
        import_into(target, [("bad.json", data)])
    assert_nothing_written(target)


def test_an_incident_number_already_here_is_refused_and_nothing_is_overwritten(exported, sqlite_url):
    before = export_all(sqlite_url)
    with pytest.raises(ConflictError, match=r"INC-1.json: INC-1 already exists in this store, and an import never "
                                            r"overwrites; nothing was imported"):
        import_into(sqlite_url, [as_file(exported[0])])
    assert export_all(sqlite_url) == before


def test_files_are_all_checked_before_any_is_written(exported, tmp_path):
    target = f"sqlite:///{tmp_path}/target.db"
    good, bad = as_file(exported[0]), ("INC-2.json", to_text(exported[1]).replace("Unrelated", "Unrelatet").encode())
    with pytest.raises(UsageError, match="INC-2.json: its sha256"):
        import_into(target, [good, bad])
    with pytest.raises(ConflictError, match="a.json and INC-1.json both hold INC-1"):
        import_into(target, [good, ("a.json", good[1])])
    with pytest.raises(ConflictError, match=r"severity 'P1', which this catalog does not define \(P0\)"):
        import_into(target, [good], Catalog.model_validate({"severities": {"P0": {"name": "Critical",
                                                                                 "response": "15m"}}}))
    assert_nothing_written(target)



def keyed_export(tmp_path, key: AuditKey, keys: DocumentKeys | None = None) -> dict:
    """INC-1 with one HMAC-keyed audit record, exported by a store with that key (so signed)."""
    source = open_store(f"sqlite:///{tmp_path}/keyed.db", key)
    try:
        services = build_services(source, catalog(), clock=Clock())
        services.incidents.open("U_ALICE", "p2", "Keyed")
        source.append_audit(AuditRecord(at=Clock()(), attempt="a-1", phase="succeeded", user="U_ALICE",
                                        action="restart", target="INC-1"))
        (document,) = export_documents(source, source.list_incidents(), keys or DocumentKeys(hmac=key))
    finally:
        source.close()
    return document


def import_keyed(url: str, doc: dict, keys: DocumentKeys):
    store = open_store(url, keys.hmac)
    try:
        return import_documents(store, catalog(), [as_file(doc)], "U_MOVER", Clock(), keys.hmac, keys)
    finally:
        store.close()


def test_hmac_records_are_checked_with_the_key_and_counted_as_unchecked_without_it(tmp_path):
    key = AuditKey("k" * 32)
    keys = DocumentKeys(hmac=key)
    document = keyed_export(tmp_path, key)
    assert document["audit"][0]["keyed"] is True and document["signature"]["alg"] == "hmac-sha256"
    changed = json.loads(json.dumps(document))
    changed["audit"][0]["target"] = "api"
    # Someone with the key who re-signs an edited document still cannot give the record a valid HMAC … (and
    # someone without it cannot re-sign at all: see the signed-export tests)
    with pytest.raises(UsageError, match=r"audit record 1 \(attempt a-1\) does not match its HMAC under this "
                                         r"OPSBOT_AUDIT_KEY"):
        import_keyed(f"sqlite:///{tmp_path}/a.db", seal(changed, keys), keys)
    (checked,) = import_keyed(f"sqlite:///{tmp_path}/b.db", document, keys)
    (unchecked,) = import_keyed(f"sqlite:///{tmp_path}/c.db", document, DocumentKeys())
    assert (checked.unchecked, unchecked.unchecked) == (0, 1)
    # A forged record needs no key to be chained by hash alone: a keyed store refuses any record without an HMAC.
    forged = json.loads(json.dumps(document))
    forged["audit"][0].update(keyed=False)
    with pytest.raises(UsageError, match=r"audit record 1 \(attempt a-1\) is not authenticated with an "
                                         r"OPSBOT_AUDIT_KEY, and this store has one"):
        import_keyed(f"sqlite:///{tmp_path}/d.db", seal(forged, keys), keys)
    assert_nothing_written(f"sqlite:///{tmp_path}/d.db")


@pytest.mark.parametrize("signing", ["hmac", "ed25519"])
def test_a_store_with_a_key_imports_only_documents_signed_with_it(tmp_path, signing):
    """An edit with the sha256 recomputed, an unsigned document, and one signed with another key: each refused
    whole; the document as exported is taken."""
    key, other = AuditKey("k" * 32), AuditKey("o" * 32)
    signer, stranger = SigningKey.generate(), SigningKey.generate()
    keys = DocumentKeys(hmac=key, signing=signer if signing == "ed25519" else None)
    document = keyed_export(tmp_path, key, keys)
    assert document["signature"]["alg"] == ("ed25519" if signing == "ed25519" else "hmac-sha256")
    edited = json.loads(json.dumps(document))
    edited["incident"]["title"] = "Nothing happened"
    attempts = {
        "recomputed sha256": (seal(edited), "is not signed"),  # sha256 recomputed, signature dropped
        "kept signature": ({**seal(edited), "signature": document["signature"]},
                           "changed after it was exported"),
        "another key": (seal(edited, DocumentKeys(hmac=other) if signing == "hmac" else DocumentKeys(signing=stranger)),
                        "changed after it was exported, or signed"),
    }
    for n, (name, (forged, reason)) in enumerate(attempts.items()):
        target = f"sqlite:///{tmp_path}/t{n}.db"
        with pytest.raises(UsageError, match=reason):
            import_keyed(target, forged, keys)
        assert_nothing_written(target)
    # An auditor's store with only the public key checks an Ed25519-signed export too.
    checking = DocumentKeys(hmac=key, public=signer.public()) if signing == "ed25519" else keys
    (imported,) = import_keyed(f"sqlite:///{tmp_path}/ok.db", document, checking)
    assert imported.incident.title == "Keyed"

